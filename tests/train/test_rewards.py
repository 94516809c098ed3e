"""The reward table: a new estimator plugs in without touching the loop; each entry against a value by hand; the
shuffle wraps any estimator; names outside the tables are refused before anything is written. Also the checks a
fork makes on its source's end of pre-training."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from helpers import events, tiny_config

from seqgan.errors import UserError
from seqgan.models import Generator
from seqgan.train import rewards
from seqgan.train.checkpoint import load_file
from seqgan.train.rewards import REWARDS, RewardInputs, build_reward
from seqgan.train.trainer import SeqGANTrainer


class FirstTokenReward:
    """A toy estimator: Q = 1 for every position of a sequence whose first token is even, else 0."""

    uses_discriminator = False
    calls = 0

    def __call__(self, batch: RewardInputs) -> torch.Tensor:
        FirstTokenReward.calls += 1
        even = (batch.tokens[:, :1] % 2 == 0).to(torch.float32)
        return even.expand_as(batch.tokens).contiguous()


def test_a_new_estimator_is_one_table_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REWARDS, "first-token", FirstTokenReward)
    cfg = tiny_config("adversarial.reward=first-token", "adversarial.epochs=2", "adversarial.g_steps=2")
    SeqGANTrainer(cfg, tmp_path / "run").fit()
    assert FirstTokenReward.calls == 4  # 2 epochs x 2 g-steps
    adv = [e for e in events(tmp_path / "run") if e.get("phase") == "adversarial" and "g/reward_mean" in e]
    assert len(adv) == 2 and all(0.0 <= e["g/reward_mean"] <= 1.0 for e in adv)
    assert not [e for e in events(tmp_path / "run") if e.get("phase") == "d_pretrain"]  # it needs no D


def _batch(tokens: torch.Tensor, cfg_sets: tuple[str, ...] = ()) -> RewardInputs:
    cfg = tiny_config(*cfg_sets)
    policy = Generator(cfg.data.vocab_size, 8, 8)
    return RewardInputs(
        tokens, None, None, policy, torch.nn.Identity(), torch.Generator().manual_seed(0), cfg.adversarial, tokens
    )


def test_constant_reward_is_one_everywhere() -> None:
    tokens = torch.randint(0, 10, (3, 8))
    q = build_reward(tiny_config("adversarial.reward=constant").adversarial)(_batch(tokens))
    assert q.shape == (3, 8) and torch.equal(q, torch.ones(3, 8))


def test_bleu_reward_of_a_training_sequence_is_one() -> None:
    """PG-BLEU of a sequence that is itself a training sequence: every completion keeps the full sequence at t = T,
    so the last column is BLEU(Y, {Y}) = 1 exactly."""
    tokens = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, 1]])
    q = build_reward(tiny_config("adversarial.reward=bleu", "adversarial.rollout_num=2").adversarial)(_batch(tokens))
    assert q.shape == (2, 8) and torch.allclose(q[:, -1], torch.ones(2))
    assert bool((q >= 0).all() and (q <= 1 + 1e-6).all())


def test_shuffle_wraps_any_estimator_keeping_each_columns_values() -> None:
    tokens = torch.arange(24).view(6, 4) % 10
    plain = FirstTokenReward()(_batch(tokens))
    shuffled = rewards.ShuffledReward(FirstTokenReward())(_batch(tokens))
    for t in range(4):
        assert sorted(shuffled[:, t].tolist()) == sorted(plain[:, t].tolist())
    est = build_reward(tiny_config("adversarial.reward=constant", "adversarial.reward_shuffle=true").adversarial)
    assert isinstance(est, rewards.ShuffledReward) and not est.uses_discriminator


def test_mean_baseline_by_hand() -> None:
    q = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    assert float(rewards.BASELINES["mean"](q, mask)) == pytest.approx((1 + 2 + 4 + 5 + 6) / 5)
    assert rewards.BASELINES["none"](q, mask) == 0.0


@pytest.mark.parametrize("key", ["adversarial.reward", "adversarial.reward_baseline"])
def test_a_name_outside_the_table_is_refused_before_anything_is_written(tmp_path: Path, key: str) -> None:
    with pytest.raises(UserError, match=f"{key} must be one of .*; got 'nope'"):
        SeqGANTrainer(tiny_config(f"{key}=nope"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ what a fork checks
@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sources")
    a, b = root / "a", root / "b"
    SeqGANTrainer(tiny_config("adversarial.epochs=1"), a).fit()
    SeqGANTrainer(tiny_config("adversarial.epochs=0", "data.oracle_seed=5"), b).fit()
    return a, b


def test_a_fork_refuses_a_pretrained_checkpoint_that_is_not_the_end_of_pretraining(
    tmp_path: Path, two_runs: tuple[Path, Path]
) -> None:
    src = tmp_path / "src"
    shutil.copytree(two_runs[0], src)
    shutil.copy(src / "checkpoints" / "last.pt", src / "checkpoints" / "pretrained.pt")  # the finished run's state
    with pytest.raises(UserError, match="is not the end of pre-training .*phase done"):
        SeqGANTrainer.fork(src, tiny_config("adversarial.epochs=1"), tmp_path / "fork")
    assert not (tmp_path / "fork").exists()


def test_a_fork_refuses_another_runs_pretrained_checkpoint(tmp_path: Path, two_runs: tuple[Path, Path]) -> None:
    src = tmp_path / "src"
    shutil.copytree(two_runs[0], src)
    shutil.copy(two_runs[1] / "checkpoints" / "pretrained.pt", src / "checkpoints" / "pretrained.pt")
    assert load_file(src / "checkpoints" / "pretrained.pt")["state"]["phase"] == "adversarial"
    with pytest.raises(UserError, match="written by a run of other data or another seed"):
        SeqGANTrainer.fork(src, tiny_config("adversarial.epochs=1"), tmp_path / "fork")
    assert not (tmp_path / "fork").exists()


def test_a_fork_with_other_model_sizes_says_which_key_and_what_to_set(
    tmp_path: Path, two_runs: tuple[Path, Path]
) -> None:
    with pytest.raises(
        UserError, match=r"generator.kind is 'transformer' here but 'lstm' .* set generator.kind='lstm'"
    ):
        SeqGANTrainer.fork(two_runs[0], tiny_config("generator.kind=transformer"), tmp_path / "fork")
    assert not (tmp_path / "fork").exists()
