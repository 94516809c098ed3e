"""Discriminator-guided sampling: resampling follows D's odds, and the residual model's NLL is exact where it can be
computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from seqgan.models import Generator
from seqgan.train.resample import log_odds, resample, residual_nll


class FirstTokenD(torch.nn.Module):
    """Logit difference ``even`` when a row's first token is even, ``odd`` otherwise."""

    def __init__(self, even: float, odd: float) -> None:
        super().__init__()
        self.even, self.odd = even, odd

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        diff = torch.where(tokens[:, 0] % 2 == 0, self.even, self.odd)
        return torch.stack([torch.zeros_like(diff), diff], dim=1)


def _g() -> Generator:
    torch.manual_seed(0)
    return Generator(10, 8, 8).eval()


def test_resampling_follows_ds_odds() -> None:
    g, rng = _g(), torch.Generator().manual_seed(1)
    rows, stats = resample(g, FirstTokenD(30.0, -30.0), 200, 8, 5, rng)
    plain = g.generate(200 * 8, 5, torch.Generator().manual_seed(2)).view(200, 8, 5)
    # every row whose 8 candidates held an even first token picks one of them (odds e^60 : 1)
    assert rows.shape == (200, 5)
    assert float((rows[:, 0] % 2 == 0).float().mean()) > float((plain[:, 0, 0] % 2 == 0).float().mean())
    assert 1.0 <= stats["resample/ess"] <= 8.0
    _, flat = resample(g, FirstTokenD(0.0, 0.0), 50, 8, 5, rng)
    assert flat["resample/ess"] == pytest.approx(8.0)  # D indifferent: every candidate weighs the same


def test_residual_nll_with_a_constant_d_is_gs_own() -> None:
    g = _g()
    refs = g.generate(64, 5, torch.Generator().manual_seed(3))
    proposals = g.generate(256, 5, torch.Generator().manual_seed(4))
    out = residual_nll(g, FirstTokenD(1.7, 1.7), refs, proposals)
    assert out["resample/log_z"] == pytest.approx(1.7)
    assert out["resample/nll"] == pytest.approx(out["resample/nll_base"], abs=1e-9)


def test_residual_nll_by_hand() -> None:
    """Proposals with odd first tokens only (s = 0, so log Z = 0); refs with even first tokens (s = log 2): each ref
    gains log 2 nats, spread over its T = 5 tokens."""
    g = _g()
    refs = torch.tensor([[0, 1, 2, 3, 4], [2, 2, 2, 2, 2]])
    proposals = torch.tensor([[1, 1, 1, 1, 1], [3, 0, 0, 0, 0]] * 10)
    out = residual_nll(g, FirstTokenD(math.log(2.0), 0.0), refs, proposals)
    assert out["resample/log_z"] == pytest.approx(0.0, abs=1e-12) and out["resample/log_z_spread"] == 0.0
    assert out["resample/nll"] == pytest.approx(out["resample/nll_base"] - math.log(2.0) / 5, abs=1e-9)
    assert torch.allclose(log_odds(FirstTokenD(math.log(2.0), 0.0), refs, 10), torch.full((2,), math.log(2.0)))


def test_sample_and_eval_resample_from_the_command_line(tmp_path, capsys) -> None:
    import json

    from helpers import tiny_config

    from seqgan.cli import main
    from seqgan.train.trainer import SeqGANTrainer

    SeqGANTrainer(tiny_config("adversarial.epochs=0"), tmp_path / "run").fit()
    run = str(tmp_path / "run")
    assert main(["sample", run, "--checkpoint", "pretrained", "--resample", "4", "--num-samples", "6"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 6
    assert main(["eval", run, "--checkpoint", "pretrained", "--resample", "4", "--num-samples", "64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["resample"] == 4 and out["eval/nll_test"] == out["resample/nll"]
    assert 1.0 <= out["resample/ess"] <= 4.0 and out["resample/log_z_spread"] >= 0.0
    assert main(["sample", run, "--resample", "100000"]) == 2
    assert "--resample 100000 must be a number of candidates" in capsys.readouterr().err
