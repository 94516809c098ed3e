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
    monkeypatch.setattr(FirstTokenReward, "calls", 0)  # other tests call it too
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


# ------------------------------------------------------------------ the field's fixes (issue: saturated D)
class _Fixed:
    """A stub estimator returning the given Q values in turn."""

    uses_discriminator = True

    def __init__(self, *qs: torch.Tensor) -> None:
        self.qs = list(qs)

    def __call__(self, batch: RewardInputs) -> torch.Tensor:
        return self.qs.pop(0)


def test_centred_reward_by_hand() -> None:
    est = rewards.CentredReward()
    est.inner = _Fixed(torch.tensor([[0.1, 0.2], [0.3, 0.4]]), torch.full((2, 2), 0.5))
    batch = _batch(torch.ones(2, 2, dtype=torch.long), ("adversarial.baseline_rate=0.08",))
    # 2 Q - 1 = [[-0.8, -0.6], [-0.4, -0.2]], mean -0.5: the first baseline, so the advantages are centred.
    assert torch.allclose(est(batch), torch.tensor([[-0.3, -0.1], [0.1, 0.3]]))
    assert est.stats["g/baseline"] == pytest.approx(-0.5)
    # Next batch: 2 Q - 1 = 0 everywhere; the advantage is 0 - (-0.5); then b = 0.92 * -0.5 + 0.08 * 0.
    assert torch.allclose(est(batch), torch.full((2, 2), 0.5))
    assert est.state_dict() == {"baseline": pytest.approx(-0.46)}


class _LogitD(torch.nn.Module):
    """A stub D whose logit difference (real - fake) for row b is ``diffs[b]``."""

    def __init__(self, diffs: list[float]) -> None:
        super().__init__()
        self.diffs = torch.tensor(diffs)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.zeros(len(tokens)), self.diffs[: len(tokens)]], dim=1)


def test_maligan_weights_by_hand() -> None:
    """D / (1 - D) = 1 and 3 (logit differences 0 and ln 3): weights 1/4 and 3/4, minus their mean 1/2; the
    effective sample size 1 / (1/16 + 9/16) = 1.6. A saturated D (differences -30 and -28) still ranks the pair."""
    tokens = torch.ones(2, 3, dtype=torch.long)
    est = rewards.MaliGANReward()
    batch = _batch(tokens)
    batch.discriminator = _LogitD([0.0, float(torch.log(torch.tensor(3.0)))])
    q = est(batch)
    assert torch.allclose(q, torch.tensor([[-0.25] * 3, [0.25] * 3]), atol=1e-6)
    assert est.stats["g/ess"] == pytest.approx(1.6)
    batch.discriminator = _LogitD([-30.0, -28.0])  # D(Y) about 1e-13 and 7e-13
    q = est(batch)
    assert float(q[1, 0]) > 0.0 > float(q[0, 0]) and torch.isfinite(q).all()


@pytest.mark.parametrize("reward", ["centred", "maligan", "dense"])
def test_new_estimators_train_and_resume_equals_uninterrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reward: str
) -> None:
    import signal

    from seqgan.errors import Interrupted
    from seqgan.train import state

    sets = (f"adversarial.reward={reward}", "adversarial.epochs=3", "eval.every=1")
    sets += ("discriminator.kind=lstm",) if reward == "dense" else ()
    SeqGANTrainer(tiny_config(*sets), tmp_path / "whole").fit()
    real_end_epoch = state.end_epoch

    def stop_after_first_adversarial_epoch(t: SeqGANTrainer) -> None:
        if t.phase == "adversarial" and t.epoch == 1:
            t.signals.received = signal.SIGTERM
        real_end_epoch(t)

    monkeypatch.setattr(state, "end_epoch", stop_after_first_adversarial_epoch)
    with pytest.raises(Interrupted):
        SeqGANTrainer(tiny_config(*sets), tmp_path / "cut").fit()
    monkeypatch.setattr(state, "end_epoch", real_end_epoch)
    SeqGANTrainer.resume(tmp_path / "cut").fit()
    assert events(tmp_path / "cut") == events(tmp_path / "whole")
    adv = [e for e in events(tmp_path / "whole") if "g/pg_loss" in e]
    assert len(adv) == 3 and ("g/ess" in adv[0] if reward == "maligan" else "g/baseline" in adv[0])


# ------------------------------------------------------------------ a D that stays informative
def test_label_smoothing_by_hand() -> None:
    from seqgan.train.losses import discriminator_loss

    class D(torch.nn.Module):
        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return torch.tensor([[0.0, 2.0], [1.0, -1.0]])

    y = torch.tensor([1, 0])
    log_p = torch.log_softmax(torch.tensor([[0.0, 2.0], [1.0, -1.0]]), dim=1)
    eps = 0.2  # targets 0.9 on the true class, 0.1 on the other
    by_hand = -(0.9 * log_p[0, 1] + 0.1 * log_p[0, 0] + 0.9 * log_p[1, 0] + 0.1 * log_p[1, 1]) / 2
    loss, _ = discriminator_loss(D(), torch.zeros(2, 3, dtype=torch.long), y, 0.0, label_smoothing=eps)
    assert float(loss) == pytest.approx(float(by_hand), abs=1e-6)


def test_skipping_d_steps_above_an_accuracy_band(tmp_path: Path) -> None:
    """A band of 0 skips every epoch's d-steps (D's weights stay those of pre-training) and logs the check; a band
    of 1 never skips but logs the check too."""
    sets = ("adversarial.epochs=2", "adversarial.d_skip_above=0.0")
    trainer = SeqGANTrainer(tiny_config(*sets), tmp_path / "skip")
    trainer.fit()
    adv = [e for e in events(tmp_path / "skip") if "g/pg_loss" in e]
    assert [e["d/skipped"] for e in adv] == [1.0, 1.0] and all(0.0 < e["d/acc_check"] <= 1.0 for e in adv)
    assert all("d/loss" not in e for e in adv)
    pre = load_file(tmp_path / "skip" / "checkpoints" / "pretrained.pt")["discriminator"]
    assert all(torch.equal(v, trainer.discriminator.state_dict()[k]) for k, v in pre.items())
    SeqGANTrainer(tiny_config("adversarial.epochs=1", "adversarial.d_skip_above=1.0"), tmp_path / "never").fit()
    (event,) = [e for e in events(tmp_path / "never") if "g/pg_loss" in e]
    assert event["d/skipped"] == 0.0 and "d/loss" in event


def test_d_weight_decay_reaches_adam_and_a_fork_takes_its_own(tmp_path: Path) -> None:
    trainer = SeqGANTrainer(tiny_config("adversarial.epochs=0", "discriminator.weight_decay=0.001"), tmp_path / "a")
    assert trainer.d_opt.param_groups[0]["weight_decay"] == 0.001
    trainer.fit()
    trainer.close()
    fork = SeqGANTrainer.fork(tmp_path / "a", tiny_config("discriminator.weight_decay=0.01"), tmp_path / "b")
    assert fork.d_opt.param_groups[0]["weight_decay"] == 0.01
    with pytest.raises(UserError, match="discriminator.label_smoothing must be in"):
        tiny_config("discriminator.label_smoothing=1.0")
    with pytest.raises(UserError, match="adversarial.d_skip_above is an accuracy"):
        tiny_config("adversarial.d_skip_above=2")


# ------------------------------------------------------------------ dense rewards from a recurrent D
def test_dense_returns_by_hand() -> None:
    from seqgan.models.recurrent import dense_rewards

    probs = torch.tensor([[0.75, 0.5, 1.0], [1.0, 0.25, 0.9]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    # r = 2 p - 1 = [0.5, 0, 1] and [1, -0.5, (ended)]; discount 0.5 from the end.
    expected = torch.tensor([[0.5 + 0.5 * (0.0 + 0.5 * 1.0), 0.0 + 0.5 * 1.0, 1.0], [1.0 - 0.25, -0.5, 0.0]])
    assert torch.allclose(dense_rewards(probs, mask, 0.5), expected)


def test_recurrent_d_scores_each_prefix_causally() -> None:
    from seqgan.models.recurrent import RecurrentDiscriminator

    torch.manual_seed(0)
    d = RecurrentDiscriminator(20, 8, 8).eval()
    x = torch.randint(0, 20, (3, 7))
    every = d.prefix_logits(x)
    assert every.shape == (3, 7, 2) and torch.allclose(d(x), every[:, -1])
    for t in range(7):  # the score of a prefix does not see the tokens after it
        assert torch.allclose(every[:, t], d.prefix_logits(x[:, : t + 1])[:, -1], atol=1e-6)


def test_dense_reward_needs_the_recurrent_d() -> None:
    with pytest.raises(UserError, match="add --set discriminator.kind=lstm"):
        tiny_config("adversarial.reward=dense")


def test_a_fork_that_changes_d_pretrains_its_own_from_the_end_of_mle(
    tmp_path: Path, two_runs: tuple[Path, Path]
) -> None:
    """Changing D's pre-training starts the fork at the source's end of MLE (checkpoints/mle.pt): with the same D
    architecture it equals a run trained from scratch with its config; with a recurrent D it trains that D."""
    source = two_runs[0]
    assert load_file(source / "checkpoints" / "mle.pt")["state"]["phase"] == "d_pretrain"
    sets = ("pretrain.d_steps=1", "adversarial.epochs=1")
    SeqGANTrainer.fork(source, tiny_config(*sets), tmp_path / "fork").fit()
    SeqGANTrainer(tiny_config(*sets), tmp_path / "scratch").fit()
    assert events(tmp_path / "fork") == events(tmp_path / "scratch")
    dense = ("discriminator.kind=lstm", "adversarial.reward=dense", "adversarial.epochs=1")
    SeqGANTrainer.fork(source, tiny_config(*dense), tmp_path / "dense").fit()
    evs = events(tmp_path / "dense")
    assert [e["epoch"] for e in evs if e.get("phase") == "d_pretrain"] == [1, 2]  # tiny: 2 D rounds
    assert any("g/baseline" in e for e in evs)
    (source_mle,) = [e for e in events(source) if e.get("phase") == "mle" and "g/mle_loss" in e][-1:]
    assert source_mle in evs  # the same MLE pre-training
