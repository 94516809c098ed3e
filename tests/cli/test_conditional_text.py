"""Labelled text end to end: prepare --labels tab, train, sample --label, eval per label with the label accuracy.

Each label writes with its own half of the vocabulary, so what a label asks for is plain to check: a short run must
generate the asked-for label's words at least 90 % of the time.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from helpers import ok, user_error

WORDS = {"sun": [f"s{i}" for i in range(8)], "rain": [f"r{i}" for i in range(8)]}


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory) -> tuple[Path, Path]:
    from seqgan import cli

    d = tmp_path_factory.mktemp("labelled")
    rng = random.Random(0)
    lines = [
        f"{label}\t{' '.join(rng.choice(words) for _ in range(rng.randint(3, 6)))}"
        for _ in range(160)
        for label, words in WORDS.items()
    ]
    (d / "weather.tsv").write_text("\n".join(lines) + "\n")
    assert cli.main(["prepare", str(d / "weather.tsv"), "--out", str(d / "data"), "--labels", "tab"]) == 0
    run = d / "run"
    sets = [
        "pretrain.g_epochs=20",
        "pretrain.g_lr=0.02",
        "pretrain.d_steps=1",
        "adversarial.epochs=2",
        "eval.num_samples=64",
        "eval.every=5",
    ]
    argv = ["train", "--preset", "tiny", "--data", str(d / "data"), "--out-dir", str(run), "--no-progress"]
    assert cli.main(argv + sum((["--set", s] for s in sets), [])) == 0
    return d, run


def test_a_short_run_writes_the_words_of_the_label_asked_for(labelled_run, capsys) -> None:
    _, run = labelled_run
    for label, words in WORDS.items():
        out = ok(capsys, ["sample", str(run), "--label", label, "--num-samples", "100", "--seed", "1"])
        rows = [line.split("\t") for line in out.splitlines()]
        assert all(name == label for name, _ in rows)
        tokens = [t for _, text in rows for t in text.split()]
        assert tokens and sum(t in words for t in tokens) / len(tokens) >= 0.9


def test_eval_reports_every_metric_per_label_and_the_label_accuracy(labelled_run, capsys) -> None:
    _, run = labelled_run
    report = json.loads(ok(capsys, ["eval", str(run), "--num-samples", "60", "--json"]))
    assert report["labels"] == ["rain", "sun"]  # sorted: ids 0 and 1
    for k in (0, 1):
        assert {f"eval/label{k}/nll_test", f"eval/label{k}/bleu2", f"eval/label{k}/self_bleu2"} <= report.keys()
    assert report["eval/label_acc_real"] >= 0.95  # the CNN judge separates the two vocabularies
    assert report["eval/label_acc"] >= 0.8  # chance: 0.5


def test_an_unknown_label_is_one_line_and_writes_nothing(labelled_run, capsys) -> None:
    d, run = labelled_run
    err = user_error(capsys, ["sample", str(run), "--label", "snow", "--out", str(d / "snow.txt")])
    assert "label 'snow' is not one of this run's labels (rain, sun)" in err
    assert not (d / "snow.txt").exists()
