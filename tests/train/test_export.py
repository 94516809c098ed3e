"""Portable models: `seqgan export` writes safetensors, the config, the vocabulary and a model card (no data, no
pickle); `sample`, `eval` and `seqgan.load_run` open the folder after the run is gone; damage is one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from helpers import ok, tiny_config, user_error

import seqgan
from seqgan.train.trainer import SeqGANTrainer

WORDS = "".join(f"a {w} sat on the {v}\n" for w in ("cat", "dog", "man", "bird") for v in ("mat", "rug", "bed", "sofa"))


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("export")
    (d / "c.txt").write_text(WORDS * 3)
    from seqgan.data.text import prepare

    prepare(d / "c.txt", d / "data", test_frac=0.2)
    run = d / "run"
    SeqGANTrainer(
        tiny_config(
            f"data.path={d / 'data'}",
            "generator.kind=transformer",
            "generator.emb_dim=16",
            "generator.ff_dim=32",
            "generator.init_std=0.02",
        ),
        run,
    ).fit()
    return run


def test_export_samples_like_the_run_after_the_run_is_gone(tiny_run: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = seqgan.load_run(run).sample(12, seed=3)
    result = json.loads(ok(capsys, ["export", str(run), "--out", str(tmp_path / "model"), "--json"]).splitlines()[-1])
    files = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert (
        files
        == result["files"]
        == [
            "MODEL_CARD.md",
            "config.json",
            "discriminator.safetensors",
            "generator.safetensors",
            "model.json",
            "oracle.npz",
        ]
    )
    command = (run / "command.txt").read_text().strip()
    shutil.rmtree(run)  # the model needs nothing of the run
    assert ok(capsys, ["sample", str(tmp_path / "model"), "--num-samples", "12", "--seed", "3"]).splitlines() == before
    out = ok(capsys, ["eval", str(tmp_path / "model"), "--num-samples", "50", "--json"])
    metrics = json.loads(out.splitlines()[-1])
    assert "eval/nll_oracle" in metrics and "eval/nll_test" not in metrics  # the oracle travels, no data does
    card = (tmp_path / "model" / "MODEL_CARD.md").read_text()
    assert command in card and "SHA-256" in card


def test_text_model_generates_text_in_one_call(text_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "model"
    ok(capsys, ["export", str(text_run), "--checkpoint", "best", "--out", str(out)])
    assert (out / "vocab.json").exists() and not list(out.glob("*.pt"))
    model = seqgan.load_run(out)
    lines = model.generate(4, temperature=0.8, top_p=0.9, prefix="a cat", seed=1)
    assert len(lines) == 4 and all(line.startswith("a cat") for line in lines)
    assert "give --data DIR" in user_error(capsys, ["eval", str(out)])
    data = text_run.parent / "data"
    metrics = json.loads(
        ok(capsys, ["eval", str(out), "--data", str(data), "--num-samples", "30", "--json"]).splitlines()[-1]
    )
    assert "eval/nll_test" in metrics and "eval/bleu4" in metrics
    assert "--force to replace an exported model" in user_error(capsys, ["export", str(text_run), "--out", str(out)])
    ok(capsys, ["export", str(text_run), "--out", str(out), "--force"])


def test_damaged_or_mismatched_exports_are_one_line(tiny_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "model"
    ok(capsys, ["export", str(tiny_run), "--out", str(out)])
    assert "exists" in user_error(capsys, ["export", str(tiny_run), "--out", str(tmp_path)])  # a non-empty folder
    (out / "generator.safetensors").write_bytes(b"\x00" * 64)
    assert "generator.safetensors is damaged" in user_error(capsys, ["sample", str(out)])
    ok(capsys, ["export", str(tiny_run), "--out", str(out), "--force"])
    config = json.loads((out / "config.json").read_text())
    config["generator"]["hidden_dim"] = 7
    (out / "config.json").write_text(json.dumps(config))
    assert "does not match its config.json" in user_error(capsys, ["sample", str(out)])
    (out / "model.json").write_text("{}")
    assert "is not a seqgan model" in user_error(capsys, ["sample", str(out)])


def test_exported_weights_hold_no_pickle(tiny_run: Path, tmp_path: Path, capsys) -> None:
    from safetensors.torch import load_file

    ok(capsys, ["export", str(tiny_run), "--out", str(tmp_path / "m")])
    weights = load_file(str(tmp_path / "m" / "generator.safetensors"))
    from seqgan.train.checkpoint import load_file as load_checkpoint

    ckpt = load_checkpoint(tiny_run / "checkpoints" / "last.pt")
    assert weights.keys() == ckpt["generator"].keys()
    assert all(torch.equal(weights[k], ckpt["generator"][k]) for k in weights)
