"""A user's text file -> prepare -> train -> sample text / eval, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import ok, user_error

from seqgan import cli, presets
from seqgan.config import apply_overrides
from seqgan.data.decode import strip_special
from seqgan.eval.bleu import bleu, self_bleu
from seqgan.eval.metrics import distinct_n, evaluate_samples
from seqgan.train.checkpoint import load_file
from seqgan.train.logbook import read_metrics
from seqgan.train.trainer import SeqGANTrainer

WORDS = """a man rides a horse on the beach
a woman holds an umbrella in the rain
two dogs play in the park
a man and a woman walk on the beach
a cat sleeps on the red sofa
the dog runs after a ball in the park
a child eats an apple
a horse stands in the field
two cats sit on a wall
a man rides a bike in the city
"""
CHINESE = "床前明月光\n疑是地上霜\n举头望明月\n低头思故乡\n白日依山尽\n黄河入海流\n"


def _prepare(tmp_path: Path, text: str, *flags: str) -> Path:
    src, out = tmp_path / "corpus.txt", tmp_path / "data"
    src.write_text(text, encoding="utf-8")
    assert cli.main(["prepare", str(src), "--out", str(out), *flags]) == 0
    return out


def _train(tmp_path: Path, data: Path, *sets: str) -> Path:
    run = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--data", str(data), "--out-dir", str(run), "--no-progress"]
    assert cli.main([*args, *sum((["--set", s] for s in sets), [])]) == 0
    return run


@pytest.fixture(scope="module")
def word_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("words")
    return _train(tmp, _prepare(tmp, WORDS))


def test_train_on_text_logs_text_metrics_and_keeps_best(word_run: Path):
    # training evaluates on the validation split only (model selection); the test split is for reporting
    evals = [e for e in read_metrics(word_run / "metrics.jsonl") if "eval/nll_valid" in e]
    assert evals and "eval/nll_oracle" not in evals[-1]
    for key in ("eval/bleu2", "eval/bleu5", "eval/self_bleu2", "eval/distinct1", "eval/mean_length"):
        assert 0 <= evals[-1][key] <= (10 if key == "eval/mean_length" else 1)
    assert not any("eval/nll_test" in e for e in read_metrics(word_run / "metrics.jsonl"))
    # NLL_valid starts at about log(V) and MLE lowers it
    assert evals[1]["eval/nll_valid"] < evals[0]["eval/nll_valid"]
    assert (word_run / "checkpoints" / "best.pt").exists() and (word_run / "vocab.json").exists()
    assert not (word_run / "oracle.npz").exists()
    config = json.loads((word_run / "config.json").read_text())
    assert config["data"]["eos_token"] == 2 and config["data"]["start_token"] == 1


def test_sample_writes_decoded_text(word_run: Path, tmp_path: Path, capsys):
    vocab = set(WORDS.split()) | {"<unk>"}
    out = tmp_path / "s.txt"
    assert cli.main(["sample", str(word_run), "--num-samples", "30", "--seed", "3", "--out", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30 and all(set(line.split()) <= vocab for line in lines)
    assert not any(tok.isdigit() for line in lines for tok in line.split())
    out2 = tmp_path / "s2.txt"
    cli.main(["sample", str(word_run), "--num-samples", "30", "--seed", "3", "--out", str(out2)])
    assert out2.read_text() == out.read_text()
    # prefix, top-k and the best checkpoint
    assert (
        cli.main(
            ["sample", str(word_run), "--num-samples", "5", "--prefix", "a man", "--top-k", "3", "--checkpoint", "best"]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(line.startswith("a man") for line in lines)


def test_top_k_one_is_greedy(word_run: Path, capsys):
    cli.main(["sample", str(word_run), "--num-samples", "4", "--top-k", "1", "--seed", "1"])
    first = capsys.readouterr().out
    cli.main(["sample", str(word_run), "--num-samples", "4", "--top-k", "1", "--seed", "2"])
    second = capsys.readouterr().out
    assert first == second and len(set(first.splitlines())) == 1


def test_eval_reports_all_metrics(word_run: Path, capsys):
    assert cli.main(["eval", str(word_run), "--num-samples", "50", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert {"eval/nll_test", "eval/bleu2", "eval/self_bleu4", "eval/distinct2"} <= result.keys()


def test_eval_lm_scores_and_splits(word_run: Path, tiny_run: Path, capsys):
    """--lm adds the LM and reverse LM scores (the real-text LM kept in RUN/lm and reused); --split valid scores
    against the validation split; the oracle task has no LM score."""
    argv = ["eval", str(word_run), "--num-samples", "60", "--lm", "--json"]
    first = json.loads(ok(capsys, argv).strip().splitlines()[-1])
    assert first["split"] == "test" and first["eval/lm_score"] > 0 and first["eval/reverse_lm_score"] > 0
    assert first["lm"]["settings"]["hidden_dim"] == 128 and len(list((word_run / "lm").glob("lm-*.pt"))) == 1
    again = json.loads(ok(capsys, argv).strip().splitlines()[-1])
    assert again["eval/lm_score"] == first["eval/lm_score"] and len(list((word_run / "lm").glob("*.pt"))) == 1
    valid = json.loads(
        ok(capsys, ["eval", str(word_run), "--num-samples", "60", "--split", "valid", "--json"])
        .strip()
        .splitlines()[-1]
    )
    assert "eval/nll_valid" in valid and "eval/nll_test" not in valid and "eval/nll_test" in first
    assert "oracle task" in user_error(capsys, ["eval", str(tiny_run), "--lm"])


def test_char_level_chinese_round_trip(tmp_path: Path):
    data = _prepare(tmp_path, CHINESE, "--level", "char", "--test-frac", "0.2")
    run = _train(tmp_path, data, "adversarial.epochs=1")
    out = tmp_path / "poems.txt"
    assert cli.main(["sample", str(run), "--num-samples", "10", "--out", str(out)]) == 0
    chars = set(CHINESE.replace("\n", "")) | set("<unk>")
    text = out.read_text(encoding="utf-8")
    assert set(text.replace("\n", "")) <= chars and " " not in text


def test_evaluate_samples_matches_the_metric_functions():
    """The trainer's text metrics are BLEU/Self-BLEU/distinct of the sequences cut at EOS."""
    torch.manual_seed(0)
    from seqgan.models import Generator

    g = Generator(9, 4, 4, start_token=1, eos_token=2, pad_token=0)
    samples = torch.tensor([[4, 5, 6, 2, 0], [4, 5, 7, 8, 2], [6, 6, 2, 0, 0]])
    test = torch.tensor([[4, 5, 6, 7, 2], [8, 6, 2, 0, 0]])
    metrics = evaluate_samples(g, samples, test, None, (2, 3), with_text_metrics=True)
    hyps = [[4, 5, 6], [4, 5, 7, 8], [6, 6]]
    assert strip_special(samples, 2) == hyps
    assert metrics["eval/bleu2"] == pytest.approx(bleu(hyps, [[4, 5, 6, 7], [8, 6]], (2,))[2], abs=1e-12)
    assert metrics["eval/self_bleu3"] == pytest.approx(self_bleu(hyps, (3,))[3], abs=1e-12)
    assert metrics["eval/distinct1"] == pytest.approx(5 / 9)  # tokens 4,5,6,7,8 among 9
    assert distinct_n(hyps, 2) == pytest.approx(5 / 6)  # (4,5) twice
    assert metrics["eval/mean_length"] == pytest.approx(3.0)


def test_resume_on_text_data_equals_uninterrupted(tmp_path: Path):
    data = _prepare(tmp_path, WORDS)
    cfg = apply_overrides(presets.get("tiny"), [f"data.path={data}", "run.progress=false", "eval.every=1"])
    full = SeqGANTrainer(cfg, tmp_path / "full")
    full.fit()
    cfg2 = apply_overrides(presets.get("tiny"), [f"data.path={data}", "run.progress=false", "eval.every=1"])
    part = SeqGANTrainer(cfg2, tmp_path / "part")
    part.pretrain_generator()
    part.close()
    SeqGANTrainer.resume(tmp_path / "part").fit()

    def strip(run: str) -> list[dict]:
        return [
            {k: v for k, v in e.items() if not k.startswith("time/")}
            for e in read_metrics(tmp_path / run / "metrics.jsonl")
        ]

    assert strip("part") == strip("full")
    best = [load_file(tmp_path / run / "checkpoints" / "best.pt") for run in ("part", "full")]
    for key in ("phase", "epoch", "best"):
        assert best[0]["state"][key] == best[1]["state"][key]
    for key, value in best[0]["generator"].items():
        assert torch.equal(value, best[1]["generator"][key]), key


def test_data_errors(tmp_path: Path, capsys):
    assert (
        cli.main(["train", "--preset", "tiny", "--data", str(tmp_path / "nope"), "--out-dir", str(tmp_path / "r")]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seqgan prepare" in err[0]
    assert not (tmp_path / "r").exists()
    data = _prepare(tmp_path, WORDS)
    assert (
        cli.main(
            [
                "train",
                "--preset",
                "tiny",
                "--data",
                str(data),
                "--oracle-params",
                "x.npz",
                "--out-dir",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "exclude" in capsys.readouterr().err
