"""benchmarks/text: run.py prepares a corpus, trains SeqGAN and its baselines and evaluates every system's
frontier on the test split; a rerun trains nothing; report.py's verdicts are those of the runs' own files."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _corpus(folder: Path) -> None:
    r = random.Random(0)
    subjects, verbs, objects = (
        ["a man", "a woman", "two dogs", "a cat"],
        ["rides", "holds", "sees"],
        ["a horse", "a bike", "a tree"],
    )

    def line() -> str:  # noqa: E306
        return f"{r.choice(subjects)} {r.choice(verbs)} {r.choice(objects)}" + ("." if r.random() < 0.5 else "")

    folder.mkdir()
    (folder / "image_coco.txt").write_text("\n".join(line() for _ in range(300)))
    (folder / "test_coco.txt").write_text("\n".join(line() for _ in range(100)))


def test_text_benchmark_runs_resumes_and_reports(tmp_path: Path) -> None:
    from seqgan.eval.frontier import matched_gap

    _corpus(tmp_path / "coco")
    runs, out = tmp_path / "runs", tmp_path / "report"
    args = [
        "--coco",
        str(tmp_path / "coco"),
        "--out",
        str(runs),
        "--preset",
        "tiny",
        "--seeds",
        "1",
        "2",
        "--parts",
        "table",
        "sweep",
        "--num-samples",
        "100",
    ]
    first = _run("benchmarks/text/run.py", *args)
    assert first.count("seqgan train") == 4  # SeqGAN and fixed-schedule MLE, two seeds
    assert "seqgan train" not in _run("benchmarks/text/run.py", *args)  # resumed: nothing retrained
    _run("benchmarks/text/report.py", "--runs", str(runs), "--out", str(out))
    text = (out / "results.md").read_text()

    def sweep(seed: int, name: str) -> list[tuple[float, float, float]]:
        final = json.loads((runs / f"seed{seed}" / name / "final_eval.json").read_text())
        return [(p["alpha"], p["eval/self_bleu4"], -p["eval/bleu4"]) for p in final["sweep"].values()]

    mle_es = json.loads((runs / "seed1" / "mle_es" / "final_eval.json").read_text())
    assert mle_es["checkpoint"] == "pretrained" and len(mle_es["sweep"]) == 7
    row = next(line for line in text.splitlines() if line.startswith("| SeqGAN | MLE, early-stopped |"))
    gaps = [matched_gap(sweep(s, "seqgan"), sweep(s, "mle_es")) for s in (1, 2)]
    assert row.split(" | ")[4] == ", ".join(f"{g:+.3f}" for g in gaps)
    assert re.search(r"\*\*(better|worse|indistinguishable|undetermined)\*\*", row)
    assert "(100 captions" in text and (out / "frontiers.png").stat().st_size > 0
