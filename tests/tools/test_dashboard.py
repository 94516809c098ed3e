"""Runs in TensorBoard (live and converted) and written-text samples of tiny runs on punct and BPE data."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ok

from seqgan.data.detok import detokenize
from seqgan.train.logbook import read_metrics

accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

CAPTIONS = """a man, in a red hat, rides a horse.
a woman holds an umbrella; it rains.
two dogs play in the park!
a man and a woman walk on the beach.
a cat sleeps on the red sofa, alone.
the dog runs after a ball (a red one).
a child eats an apple.
a horse stands in the field, eating grass.
"""


def _train(tmp: Path, *flags: str, tensorboard: bool = False) -> Path:
    """A tiny run in its own process (the live mirror closes at exit), on CAPTIONS prepared with ``flags``."""
    src = tmp / "captions.txt"
    src.write_text(CAPTIONS * 4)
    code = "from seqgan.cli import main\nimport sys\nsys.exit(main(sys.argv[1:]))"
    argv = ["prepare", str(src), "--out", str(tmp / "data"), "--test-frac", "0.2", *flags]
    train = ["train", "--preset", "tiny", "--data", str(tmp / "data"), "--out-dir", str(tmp / "run"), "--no-progress"]
    train += ["--set", "pretrain.g_epochs=2", "--set", "adversarial.epochs=2"]
    for args in (argv, train + ["--tensorboard"] * tensorboard):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return tmp / "run"


@pytest.fixture(scope="module")
def punct_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("punct"), "--level", "punct", tensorboard=True)


def _read(folder: Path) -> tuple[dict[str, list[tuple[int, float]]], dict[str, list[int]]]:
    acc = accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in tags["scalars"]}
    texts = {t: sorted(e.step for e in acc.Tensors(t)) for t in tags["tensors"]}
    return scalars, texts


def _expected(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every number of every event, at its tag and step, computed here from metrics.jsonl."""
    events = read_metrics(run / "metrics.jsonl")
    last_mle = max(e["epoch"] for e in events if e["phase"] == "mle")
    want: dict[str, list[tuple[int, float]]] = {}
    for e in events:
        prefix = "d_pretrain/" if e["phase"] == "d_pretrain" else ""
        step = e["epoch"] + (last_mle if e["phase"] == "adversarial" else 0)
        for k, v in e.items():
            if k not in ("phase", "epoch") and isinstance(v, (int, float)) and math.isfinite(v):
                want.setdefault(prefix + k, []).append((step, v))
    return want


def _same(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for tag, points in want.items():
        assert [s for s, _ in got[tag]] == [s for s, _ in points], tag
        assert [v for _, v in got[tag]] == pytest.approx([v for _, v in points], rel=1e-6), tag  # stored as float32


def test_tensorboard_live_and_converted_hold_every_event(punct_run: Path, tmp_path: Path, capsys):
    want = _expected(punct_run)
    assert "eval/bleu4" in want and "d_pretrain/d/loss" in want and "g/reward_mean" in want
    samples = sorted(p.stem for p in (punct_run / "samples").glob("*.txt"))
    live, live_texts = _read(punct_run / "tensorboard")
    _same(live, want)
    out = json.loads(ok(capsys, ["tensorboard", str(punct_run), "--logdir", str(tmp_path / "tb"), "--json"]))
    assert out["runs"][0]["events"] == len(read_metrics(punct_run / "metrics.jsonl"))
    converted, texts = _read(tmp_path / "tb" / punct_run.name)
    _same(converted, want)
    assert texts == live_texts and sum(map(len, texts.values())) == len(samples)  # every evaluation's samples
    # a second conversion replaces the first instead of adding to it
    ok(capsys, ["tensorboard", str(punct_run), "--logdir", str(tmp_path / "tb")])
    assert len(os.listdir(tmp_path / "tb" / punct_run.name)) == 1
    _same(_read(tmp_path / "tb" / punct_run.name)[0], want)


def test_samples_read_as_written_text(punct_run: Path, capsys):
    for path in (punct_run / "samples").glob("*.txt"):
        text = path.read_text()
        assert " ," not in text and " ." not in text and " ;" not in text, path
    argv = ["sample", str(punct_run), "--num-samples", "40", "--seed", "4"]
    written, tokens = ok(capsys, argv).splitlines(), ok(capsys, [*argv, "--tokens"]).splitlines()
    assert written == [detokenize(line.split(" ")) for line in tokens]
    assert any(a != b for a, b in zip(written, tokens, strict=True))  # some sample holds a mark


def test_bpe_run_samples_are_text(tmp_path: Path, capsys):
    run = _train(tmp_path, "--level", "bpe", "--vocab-size", "80")
    from seqgan import load_run
    from seqgan.data.subword import Subword

    decoder = Subword(load_run(run).vocab.tokenizer)
    argv = ["sample", str(run), "--num-samples", "20", "--seed", "1"]
    written, pieces = ok(capsys, argv).splitlines(), ok(capsys, [*argv, "--tokens"]).splitlines()
    assert written == [decoder.text(line.split(" ")) for line in pieces]
    assert any("▁" in line for line in pieces) and not any("▁" in line for line in written)
    evals = [e for e in read_metrics(run / "metrics.jsonl") if "eval/bleu4" in e]
    assert evals and 0 <= evals[-1]["eval/bleu4"] <= 1
