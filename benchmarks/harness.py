"""What benchmarks/generators shares with the package's verdict (seqgan/tools/verdict/, which the other
benchmarks call): training runs as resumable subprocesses, seeds in parallel, the paired verdict of per-seed
differences. Not part of the package; the formatting and a run's phase are the package's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqgan.env import env_snapshot  # noqa: E402
from seqgan.eval.frontier import one_sample_t_p  # noqa: E402
from seqgan.files import write_json  # noqa: E402
from seqgan.tools.verdict.jobs import phase  # noqa: E402
from seqgan.tools.verdict.report import fmt, fmt_p, mean_std  # noqa: E402, F401 - the benchmarks' formatting

_MANIFEST_LOCK = threading.Lock()  # parallel workers update one manifest


def train(run: Path, argv: list[str], manifest: dict[str, Any], log_file: Path | None = None) -> None:
    """Train ``run`` with ``seqgan train argv``; skip it when done, resume it when interrupted. With ``log_file``
    the run's output goes there and it runs on one torch thread (parallel workers). Wall time is summed over
    resumes in ``manifest["wall_s"]``."""
    state = phase(run)
    if state == "done":
        return
    cmd = [sys.executable, "-m", "seqgan", "train", "--no-progress"]
    cmd += ["--resume", str(run)] if state is not None else [*argv, "--out-dir", str(run)]
    print(f"[{time.strftime('%H:%M:%S')}] {' '.join(cmd[2:])}", flush=True)
    t0 = time.perf_counter()
    if log_file is None:
        subprocess.run(cmd, check=True, cwd=ROOT)
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        with open(log_file, "a") as f:
            subprocess.run(cmd, check=True, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env)
    with _MANIFEST_LOCK:  # written at once: a benchmark killed during the evaluations that follow keeps it
        walls = manifest.setdefault("wall_s", {})
        walls[str(run)] = round(walls.get(str(run), 0.0) + time.perf_counter() - t0, 1)
        if "manifest_file" in manifest:
            write_json(Path(manifest["manifest_file"]), manifest)
    print(f"[{time.strftime('%H:%M:%S')}] finished {run} ({walls[str(run)]:.0f} s in all)", flush=True)


def load_manifest(out: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """The benchmark's manifest.json (kept across resumes), updated with ``fields`` and written."""
    path = out / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {}
    manifest.update(fields, manifest_file=str(path))
    write_json(path, manifest)
    return manifest


def run_jobs(
    out: Path,
    jobs: Sequence[tuple[int, str]],
    job: Callable[[int, str], None],
    workers: int,
    manifest: dict[str, Any],
    t_start: float,
) -> None:
    """Run ``job(seed, name)`` for every pair, ``workers`` at once: every seed's "seqgan" run (trained from
    scratch) first, then the forks in order, each waiting for its seed's source run, so no fork holds a worker
    while the run it waits for is still queued. Exits with one line naming the runs that failed."""
    sources: dict[int, Future] = {}
    elapsed_before = manifest.get("elapsed_s", 0.0)  # earlier invocations of the same command
    unique = list(dict.fromkeys(jobs))
    ordered = [j for j in unique if j[1] == "seqgan"] + [j for j in unique if j[1] != "seqgan"]

    def guarded(seed: int, name: str) -> None:
        if name != "seqgan":
            sources[seed].result()  # queued before every fork
        job(seed, name)
        with _MANIFEST_LOCK:  # elapsed so far, so that an interrupted benchmark still records it
            manifest["elapsed_s"] = round(elapsed_before + time.perf_counter() - t_start, 1)
            write_json(out / "manifest.json", manifest)

    submitted = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for seed, name in ordered:
            future = pool.submit(guarded, seed, name)
            submitted.append((out / f"seed{seed}" / name, future))
            if name == "seqgan":
                sources[seed] = future
    manifest["elapsed_s"] = round(elapsed_before + time.perf_counter() - t_start, 1)
    write_json(out / "manifest.json", manifest)
    failed = [f"{run} ({f.exception()})" for run, f in submitted if f.exception() is not None]
    if failed:
        sys.exit(
            f"error: {len(failed)} run(s) failed: {'; '.join(failed)}; see {out}/logs/ and rerun the same "
            "command to resume"
        )


# ------------------------------------------------------------------ reports
def machine(env: dict[str, Any]) -> str:
    """The machine of a run's env.json: the CPU model and its bf16 units (env.json's ``cpu``, recorded since
    2026-12-07) where present, else the processor field older runs have; the GPU's name on a GPU."""
    return env.get("gpu") or env.get("cpu") or env.get("processor") or env.get("platform") or "n/a"


def paired_verdict(gaps: list[float]) -> tuple[float, str]:
    """Two-sided one-sample t-test of per-seed paired gaps (system A minus system B): (p, "lower" | "higher" |
    "indistinguishable" | "undetermined ..."), lower / higher when the mean gap is below / above zero at level 0.05.
    No verdict from one seed or from gaps without spread (the t statistic is then undefined)."""
    if len(gaps) < 2 or max(gaps) - min(gaps) < 1e-9:
        return math.nan, "undetermined (one seed, or no spread across seeds)"
    p = one_sample_t_p(gaps)
    if math.isnan(p):
        return p, "undetermined (one seed, or no spread across seeds)"
    return p, ("lower" if statistics.mean(gaps) < 0 else "higher") if p < 0.05 else "indistinguishable"


def add_bench_args(ap: argparse.ArgumentParser, results: Path) -> None:
    """The options every seed-paired benchmark takes (benchmarks/conditional, benchmarks/generators)."""
    ap.add_argument("--out", required=True, help="folder for the runs (created)")
    ap.add_argument("--preset", default="demo", help="preset of every run (default demo)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--num-samples", type=int, default=4992, help="generated sequences scored per system")
    ap.add_argument("--workers", type=int, default=1, help="runs trained at once, one torch thread each")
    ap.add_argument("--results", default=str(results), help="the report written at the end")


def start_bench(args: argparse.Namespace, script: str) -> tuple[Path, str, dict[str, Any], float]:
    """The output folder (created), the command that reproduces the benchmark, its manifest and the start time."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = f"python {script} " + shlex.join(sys.argv[1:])
    return (
        out,
        command,
        load_manifest(out, {"command": command, "env": env_snapshot(torch.device("cpu"))}),
        time.perf_counter(),
    )
