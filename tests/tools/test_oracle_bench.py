"""benchmarks/oracle: run.py (a thin caller of `seqgan verdict`) trains the Table 1 columns, the controls and the
ablations, a rerun trains nothing, and report.py adds Table 1 and the ablations from the committed JSON files alone."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--preset", "tiny", "--seeds", "1", "2", "--parts", "table", "controls", "ablations"]
ARGS += ["--only", "mle", "shuffled_reward", "rollout_n1", "--set", "adversarial.epochs=2", "--num-samples", "64"]


def _run(*args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_oracle_benchmark_runs_resumes_and_reports(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "report"
    first = _run("benchmarks/oracle/run.py", "--out", str(runs), "--results", str(out), *ARGS)
    assert "6 runs (0 done)" in first and "2 runs (1 done)" in first  # the ablation verdict reuses SeqGAN's run
    again = _run("benchmarks/oracle/run.py", "--out", str(runs), "--results", str(out), *ARGS)
    assert "jobs done" not in again  # every run finished: nothing trained again
    for name in ("verdict.json", "random.json", "ablations.json"):
        assert (out / name).is_file()
    _run("benchmarks/oracle/report.py", "--out", str(out), "--runs", str(runs))
    text = (out / "results.md").read_text()
    v = json.loads((out / "verdict.json").read_text())
    row = next(line for line in text.splitlines() if line.startswith("| NLL_oracle, ours"))
    cells = re.findall(r"(\d+\.\d+) ± (\d+\.\d+)", row)
    assert len(cells) == 5  # Random, Uniform, MLE early-stopped, MLE fixed schedule, SeqGAN
    for (mean, _), name in zip(cells[2:], ["mle_es", "mle", "seqgan"], strict=True):
        values = [p["1"]["eval/nll_oracle"] for p in v["points"][name].values()]
        assert float(mean) == round(statistics.mean(values), 3)
    assert "| SeqGAN | MLE, early-stopped | 2 |" in text and "| SeqGAN | shuffled reward | 2 |" in text
    assert re.search(r"\| roll-outs N = 1 \(1\) \| \d+\.\d+ \| [+-]\d\.\d+ \| [+-]\d\.\d+ \|", text)
    for png in ("frontier-nll-oracle-nll-test.png", "quality_diversity.png", "entropy.png"):
        assert (out / png).stat().st_size > 0
    # The committed JSON files alone regenerate the same report (the curves aside).
    before = text.split("## More figures")[0]
    _run("benchmarks/oracle/report.py", "--out", str(out))
    assert (out / "results.md").read_text().split("## More figures")[0] == before


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
