"""benchmarks/text: a thin caller of `seqgan verdict` that takes any pair of train and test files (not only COCO's
names), prepares them, and writes results.md and verdict.json where it is told; a rerun trains nothing."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _lines(path: Path, n: int, seed: int) -> Path:
    r = random.Random(seed)
    subjects, verbs, objects = ["a man", "a woman", "two dogs"], ["rides", "holds", "sees"], ["a horse", "a bike"]
    path.write_text("\n".join(f"{r.choice(subjects)} {r.choice(verbs)} {r.choice(objects)}" for _ in range(n)))
    return path


def test_text_benchmark_takes_any_train_and_test_files(tmp_path: Path) -> None:
    train, test = _lines(tmp_path / "speeches.txt", 300, 0), _lines(tmp_path / "held_out.txt", 80, 1)
    runs, results = tmp_path / "runs", tmp_path / "report"
    args = ["benchmarks/text/run.py", "--train", str(train), "--test", str(test), "--out", str(runs)]
    args += ["--preset", "tiny", "--seeds", "1", "2", "--systems", "mle", "--num-samples", "64", "--no-lm"]
    args += ["--results", str(results), "--set", "adversarial.epochs=2"]
    first = _run(*args)
    assert "4 runs (0 done)" in first and "4/4 jobs done" in first
    assert "4 runs (4 done)" in _run(*args)  # resumed: nothing trained again
    text = (results / "results.md").read_text()
    assert "| SeqGAN | MLE, early-stopped | 2 |" in text
    data = json.loads((runs / "data" / "manifest.json").read_text())["report"]
    assert f"{data['test_size']:,} test" in text and data["test_size"] == 80
    saved = json.loads((results / "verdict.json").read_text())
    assert saved == json.loads((runs / "verdict.json").read_text()) and saved["kind"] == "text"
    assert (results / "frontier-bleu-4-self-bleu-4.png").stat().st_size > 0
