"""benchmarks/oracle: run.py trains every Table 1 column and control, a rerun resumes without retraining, and
report.py's tables hold the numbers of the runs' own evaluation files."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["mle", "ss", "pg_bleu", "seqgan"]
CONTROLS = ["shuffled_reward", "constant_reward", "baseline_mean", "sgd"]
ARGS = ["--preset", "tiny", "--seeds", "1", "2", "--parts", "table", "controls", "sweep", "--sgd-lr", "0.1"]


def _run(*args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_oracle_benchmark_runs_resumes_and_reports(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "report"
    first = _run("benchmarks/oracle/run.py", "--out", str(runs), *ARGS)
    assert first.count("seqgan train") == 2 * (len(COLUMNS) + len(CONTROLS))
    manifest = json.loads((runs / "manifest.json").read_text())
    assert set(manifest["wall_s"]) == {str(runs / f"seed{s}" / c) for s in (1, 2) for c in COLUMNS + CONTROLS}
    for s in (1, 2):  # the early-stopped MLE is the seed's pre-trained checkpoint, evaluated on the test split
        mle_es = json.loads((runs / f"seed{s}" / "mle_es" / "final_eval.json").read_text())
        assert mle_es["checkpoint"].endswith("pretrained.pt") and len(mle_es["sweep"]) == 11
    elapsed = manifest["elapsed_s"]
    assert elapsed >= max(manifest["wall_s"].values())

    again = _run("benchmarks/oracle/run.py", "--out", str(runs), *ARGS)
    assert "seqgan train" not in again  # every run finished: nothing retrained
    manifest2 = json.loads((runs / "manifest.json").read_text())
    assert manifest2["wall_s"] == manifest["wall_s"] and manifest2["elapsed_s"] > elapsed

    # The Machine line gives the threads the runs used, read from their env.json (not the harness process's).
    env_file = runs / "seed2" / "sgd" / "env.json"
    env_file.write_text(json.dumps({**json.loads(env_file.read_text()), "torch_threads": 2}))
    _run("benchmarks/oracle/report.py", "--runs", str(runs), "--out", str(out))
    text = (out / "results.md").read_text()
    assert "(threads a run: 1-2)" in text
    assert (out / "fig2_nll_oracle.png").stat().st_size > 0
    row = next(line for line in text.splitlines() if line.startswith("| NLL_oracle, ours"))
    cells = re.findall(r"(\d+\.\d+) ± (\d+\.\d+)", row)
    assert len(cells) == 7  # Random, Uniform, MLE early-stopped, MLE, SS, PG-BLEU, SeqGAN
    for (mean, std), column in zip(cells[2:], ["mle_es", *COLUMNS], strict=True):
        values = [
            json.loads((runs / f"seed{s}" / column / "final_eval.json").read_text())["nll_oracle"] for s in (1, 2)
        ]
        assert float(mean) == round(statistics.mean(values), 3)
        assert abs(float(std) - statistics.stdev(values)) <= 6e-4
    assert "--preset tiny" in text and "16 runs trained" in text
    assert f"report.py --runs {runs} --out {out}`" in text  # the exact command, its --out too
    # Every verdict row's per-seed gaps are those of the runs' own sweeps.
    from seqgan.eval.frontier import matched_gap

    def sweep(seed: int, name: str) -> list[tuple[float, float, float]]:
        final = json.loads((runs / f"seed{seed}" / name / "final_eval.json").read_text())
        return [(p["alpha"], p["nll_test"], p["nll_oracle"]) for p in final["sweep"]]

    row = next(line for line in text.splitlines() if line.startswith("| SeqGAN | MLE, early-stopped |"))
    gaps = [matched_gap(sweep(s, "seqgan"), sweep(s, "mle_es")) for s in (1, 2)]
    assert row.split(" | ")[4] == ", ".join(f"{g:+.3f}" for g in gaps)
    assert re.search(r"\*\*(better|worse|indistinguishable)\*\*", row)
    assert "| SeqGAN | shuffled reward |" in text and (out / "quality_diversity.png").stat().st_size > 0
    assert (out / "entropy.png").stat().st_size > 0 and "## Entropy" in text


def test_reports_state_elapsed_time_or_that_it_is_missing() -> None:
    """A manifest records its elapsed time after every job; an older one cut short has none, and the report says
    so instead of printing 0 minutes."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from harness import elapsed

    assert elapsed({"elapsed_s": 5430.0}).startswith("90 min elapsed")
    assert "not recorded" in elapsed({})


def test_reports_name_the_cpu_model_where_the_run_recorded_it() -> None:
    """Runs since 2026-12-07 record the CPU model and its bf16 units (env.json ``cpu``), which decide the bf16
    figures; older runs have only ``processor`` (often just "x86_64"), and a GPU run names its GPU."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from harness import machine

    assert machine({"processor": "x86_64", "cpu": "AMD EPYC (AVX512-BF16)"}) == "AMD EPYC (AVX512-BF16)"
    assert machine({"processor": "x86_64"}) == "x86_64"
    assert machine({"processor": "", "platform": "Linux-6.1"}) == "Linux-6.1"
    assert machine({"cpu": "AMD EPYC (no bf16 units)", "gpu": "NVIDIA H100"}) == "NVIDIA H100"
    assert machine({}) == "n/a"
