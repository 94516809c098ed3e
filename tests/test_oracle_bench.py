"""benchmarks/oracle: run.py trains every Table 1 column, a rerun resumes without retraining, and
report.py's table holds the numbers of the runs' own evaluation files."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["mle", "ss", "pg_bleu", "seqgan"]


def _run(*args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_oracle_benchmark_runs_resumes_and_reports(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "report"
    first = _run("benchmarks/oracle/run.py", "--out", str(runs), "--preset", "tiny", "--seeds", "1", "2",
                 "--parts", "table")  # fmt: skip
    assert first.count("seqgan train") == 2 * len(COLUMNS)
    manifest = json.loads((runs / "manifest.json").read_text())
    assert set(manifest["wall_s"]) == {str(runs / f"seed{s}" / c) for s in (1, 2) for c in COLUMNS}
    elapsed = manifest["elapsed_s"]
    assert elapsed >= max(manifest["wall_s"].values())

    again = _run("benchmarks/oracle/run.py", "--out", str(runs), "--preset", "tiny", "--seeds", "1", "2",
                 "--parts", "table")  # fmt: skip
    assert "seqgan train" not in again  # every run finished: nothing retrained
    manifest2 = json.loads((runs / "manifest.json").read_text())
    assert manifest2["wall_s"] == manifest["wall_s"] and manifest2["elapsed_s"] > elapsed

    _run("benchmarks/oracle/report.py", "--runs", str(runs), "--out", str(out))
    text = (out / "results.md").read_text()
    assert (out / "fig2_nll_oracle.png").stat().st_size > 0
    row = next(line for line in text.splitlines() if line.startswith("| NLL_oracle, ours"))
    cells = re.findall(r"(\d+\.\d+) ± (\d+\.\d+)", row)
    assert len(cells) == 6  # Random, Uniform, MLE, SS, PG-BLEU, SeqGAN
    for (mean, std), column in zip(cells[2:], COLUMNS, strict=True):
        values = [
            json.loads((runs / f"seed{s}" / column / "final_eval.json").read_text())["nll_oracle"] for s in (1, 2)
        ]
        assert float(mean) == round(statistics.mean(values), 3)
        assert abs(float(std) - statistics.stdev(values)) <= 6e-4
    assert "--preset tiny" in text and "8 runs trained" in text
