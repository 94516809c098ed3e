"""LM score and reverse LM score: the LM learns real text, the scores rank samples the right way round, and the
same data and settings give the same numbers (the cache included)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqgan.eval.lm import LMSettings, data_key, forward_lm, lm_scores, train_lm
from seqgan.eval.metrics import mean_nll

V, T, EOS = 12, 6, 2
FAST = LMSettings(emb_dim=16, hidden_dim=32, max_epochs=12, patience=2, batch_size=32, lr=0.01)


def _corpus(n: int, modes: list[int], seed: int) -> torch.Tensor:
    """Sequences "m, m+1, m+2, m+3, <eos>, <pad>": one deterministic pattern per mode m (ids 4..)."""
    g = torch.Generator().manual_seed(seed)
    picks = torch.tensor(modes)[torch.randint(0, len(modes), (n,), generator=g)]
    rows = torch.zeros(n, T, dtype=torch.long)
    for j in range(4):
        rows[:, j] = 4 + (picks + j) % (V - 4)
    rows[:, 4] = EOS
    return rows


def test_lm_learns_the_patterns_and_stops_early() -> None:
    train, valid = _corpus(400, [0, 2, 4], 0), _corpus(100, [0, 2, 4], 1)
    lm, record = train_lm(train, valid, V, start_token=1, eos_token=EOS, settings=FAST)
    # a pattern is fixed by its first token: 3 equally likely modes -> log(3) / 5 real tokens per sequence
    assert mean_nll(lm, valid) == pytest.approx(torch.log(torch.tensor(3.0)).item() / 5, abs=0.05)
    assert record["best_epoch"] == record["held_out_nll_by_epoch"].index(min(record["held_out_nll_by_epoch"])) + 1
    assert not lm.training


def test_lm_score_ranks_typical_samples_better_and_reverse_lm_sees_dropped_modes() -> None:
    modes = [0, 2, 4, 6]
    train, valid, test = _corpus(400, modes, 0), _corpus(100, modes, 1), _corpus(200, modes, 2)
    lm, _ = train_lm(train, valid, V, 1, EOS, settings=FAST)
    real_like = _corpus(300, modes, 3)
    noise = torch.randint(4, V, (300, T), generator=torch.Generator().manual_seed(4))
    noise[:, 4] = EOS
    assert (
        lm_scores(real_like, lm, test, reverse=False)["eval/lm_score"]
        < lm_scores(noise, lm, test, False)["eval/lm_score"]
    )
    # Samples with half of the modes are each typical (a good LM score) but cover half of the test set.
    full = lm_scores(real_like, lm, test, reverse=True, settings=FAST)
    half = lm_scores(_corpus(300, modes[:2], 5), lm, test, reverse=True, settings=FAST)
    assert half["eval/lm_score"] < full["eval/lm_score"] + 0.05
    assert half["eval/reverse_lm_score"] > full["eval/reverse_lm_score"] + 1.0


def test_forward_lm_cache_returns_the_same_model(tmp_path: Path) -> None:
    train, valid = _corpus(200, [0, 3], 0), _corpus(50, [0, 3], 1)
    a, rec_a = forward_lm(train, valid, V, 1, EOS, cache_dir=tmp_path, settings=FAST)
    files = list(tmp_path.glob("lm-*.pt"))
    assert len(files) == 1 and data_key(train, valid, settings=FAST) in files[0].name
    b, rec_b = forward_lm(train, valid, V, 1, EOS, cache_dir=tmp_path, settings=FAST)
    assert rec_a == rec_b and all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    c, _ = train_lm(train, valid, V, 1, EOS, settings=FAST)  # same seed, same data: the same weights
    assert all(torch.equal(a.state_dict()[k], c.state_dict()[k]) for k in a.state_dict())
    assert data_key(train, valid, settings=FAST) != data_key(valid, train, settings=FAST)
