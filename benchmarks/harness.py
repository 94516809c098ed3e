"""What the benchmark scripts share: training runs as resumable subprocesses, scheduling a seed's forks after its
source run, and the report's verdict table. Imported by benchmarks/*/run.py and report.py (not part of the package).
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
from seqgan.eval.frontier import compare, one_sample_t_p  # noqa: E402
from seqgan.files import write_json  # noqa: E402
from seqgan.train.checkpoint import latest_checkpoint  # noqa: E402

_MANIFEST_LOCK = threading.Lock()  # parallel workers update one manifest
Point = tuple[float, float, float]  # (alpha, diversity, quality), both lower-better


def phase(run: Path) -> str | None:
    """Where a run stands: None (not started), "new" (no checkpoint yet) or its checkpoint's phase."""
    if not (run / "config.json").exists():
        return None
    ckpt = latest_checkpoint(run / "checkpoints")
    return "new" if ckpt is None else ckpt["state"]["phase"]


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
def elapsed(manifest: dict[str, Any]) -> str:
    """The benchmark's wall-clock time as a report states it: recorded after every finished job since this field
    was kept per job; a manifest without it (older benchmarks cut short) says so instead of 0."""
    if "elapsed_s" not in manifest:
        return "elapsed time not recorded (the benchmark was interrupted before recording it)"
    lost = "time since the last finished job of a killed invocation is lost"
    return f"{manifest['elapsed_s'] / 60:.0f} min elapsed ({lost})"


def out_flag(out: Path, default: Path) -> str:
    """ " --out OUT" for a report's printed command, or "" where OUT is the report's default folder."""
    return "" if out.resolve() == default.resolve() else f" --out {out}"


def machine(env: dict[str, Any]) -> str:
    """The machine of a run's env.json: the CPU model and its bf16 units (env.json's ``cpu``, recorded since
    2026-12-07) where present, else the processor field older runs have; the GPU's name on a GPU."""
    return env.get("gpu") or env.get("cpu") or env.get("processor") or env.get("platform") or "n/a"


def fmt(x: float | None, spec: str = ".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def fmt_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "< 1e-6" if p < 1e-6 else f"{p:.2g}"


def mean_std(values: list[float], spec: str = ".3f") -> str:
    if not values:
        return "not run"
    if len(values) == 1:
        return f"{values[0]:{spec}} (1 seed)"
    return f"{statistics.mean(values):{spec}} ± {statistics.stdev(values):{spec}}"


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


def verdict_table(
    points: Callable[[str], dict[int, list[Point]]],
    comparisons: Sequence[tuple[str, str]],
    names: dict[str, str],
    gap_label: str,
) -> tuple[list[str], dict[tuple[str, str], Any]]:
    """Markdown rows: each comparison's per-seed matched-diversity gaps (seeds paired), their t-test and the
    verdict; ``points(system)`` gives a system's sweep per seed."""
    lines = [
        f"| system | against | seeds | {gap_label} (mean ± std over seeds) | per seed | p (t-test of the gaps, "
        "two-sided) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = {}
    for a, b in comparisons:
        pa, pb = points(a), points(b)
        seeds = sorted(set(pa) & set(pb))
        if not seeds:
            continue
        v = compare([pa[s] for s in seeds], [pb[s] for s in seeds])
        verdicts[(a, b)] = v
        per_seed = ", ".join(f"{g:+.3f}" for g in v.gaps) + (
            f" ({v.seeds_without_overlap} without overlap)" if v.seeds_without_overlap else ""
        )
        spread = "" if math.isnan(v.std) else f" ± {v.std:.3f}"
        lines.append(
            f"| {names[a]} | {names[b]} | {len(seeds)} | {fmt(v.mean, '+.3f')}{spread} | {per_seed} | "
            f"{fmt_p(v.p)} | **{v.verdict}** |"
        )
    return lines, verdicts


def verdict_sentences(verdicts: dict[tuple[str, str], Any], names: dict[str, str], frontier: str) -> list[str]:
    """The answers in words, generated from the verdicts (negative ones included)."""
    out = []

    def says(a: str, b: str) -> str | None:
        v = verdicts.get((a, b))
        return None if v is None else v.verdict

    main = says("seqgan", "mle_es")
    if main:
        word = {
            "better": "better than",
            "worse": "worse than",
            "indistinguishable": "indistinguishable from",
            "undetermined": "not separable (too few seeds or no overlap) from",
        }[main]
        out.append(f"- **SeqGAN is {word} early-stopped, temperature-tuned MLE** on the {frontier} frontier.")
    uninformative = [c for c in ("shuffled_reward", "constant_reward") if says("seqgan", c)]
    if uninformative:
        beaten = [names[c] for c in uninformative if says("seqgan", c) == "better"]
        if len(beaten) == len(uninformative):
            out.append(
                f"- SeqGAN beats the {' and the '.join(beaten)} controls: D's reward carries information "
                "that helps beyond the sharpening of the policy."
            )
        else:
            rest = [f"{names[c]}: {says('seqgan', c)}" for c in uninformative]
            out.append(
                "- SeqGAN does not beat every reward that carries no information about the sequence ("
                f"{'; '.join(rest)}): whatever SeqGAN gains or loses against MLE is not D's information at "
                "work."
            )
    for c in ("baseline_mean", "sgd"):
        if says("seqgan", c):
            out.append(
                f"- SeqGAN against the {names[c]} control: {says('seqgan', c)}; the {names[c]} control against "
                f"early-stopped MLE: {says(c, 'mle_es') or 'not run'}."
            )
    return out
