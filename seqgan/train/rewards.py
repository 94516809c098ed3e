"""The reward of the adversarial phase: one interface, a table of implementations.

A reward estimator turns the sequences sampled for one G step into their action values Q(Y_1:t-1, y_t), (B, T),
which the policy gradient (Eq. 8) weights the log-probabilities with. The table :data:`REWARDS` maps
``adversarial.reward`` to a factory; ``adversarial.reward_shuffle`` wraps any of them in the shuffled-reward control,
and :data:`BASELINES` maps ``adversarial.reward_baseline`` to what is subtracted from Q. A new estimator is one class
(or function returning one) and one entry in :data:`REWARDS`; the training loop does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from seqgan.config import AdversarialConfig
from seqgan.data.decode import strip_special
from seqgan.errors import UserError
from seqgan.eval.bleu import BleuReference
from seqgan.models.interface import SequenceGenerator, States, dtype_of
from seqgan.models.recurrent import dense_rewards
from seqgan.models.sampling import sequence_mask
from seqgan.train import distributed, rollout
from seqgan.train.losses import mean_reward
from seqgan.train.resample import log_odds


@dataclass
class RewardInputs:
    """What an estimator may read for one G step (one process's share of the batch, B rows)."""

    tokens: Tensor  # (B, T) the sampled sequences Y_1:T
    states: States | None  # the roll-out policy's states along ``tokens`` (None: the policy computes them)
    labels: Tensor | None  # (B,) the label each sequence was asked for (conditional generation), else None
    policy: SequenceGenerator  # the roll-out policy G_beta that completes prefixes
    discriminator: nn.Module  # D, in the state the last D round left it
    rng: torch.Generator  # the training stream: every draw an estimator makes comes from it
    cfg: AdversarialConfig
    train_data: Tensor  # (N, T) the training sequences


class RewardEstimator(Protocol):
    """Optional members: ``stats`` (a dict of numbers about the last call, logged with the step, e.g. the
    effective sample size) and ``state_dict()`` / ``load_state_dict()`` for an estimator that carries state across
    steps (a moving baseline), which checkpoints then hold so that resume equals uninterrupted."""

    uses_discriminator: bool  # True: D is pre-trained and trained by the adversarial loop's d-steps

    def __call__(self, batch: RewardInputs) -> Tensor:
        """Q-values (B, T) of ``batch.tokens``, in G's dtype or D's."""
        ...


class DiscriminatorReward:
    """The paper's reward (Eq. 4): Q of a prefix is the mean of D's P(real) over ``rollout_num`` Monte Carlo
    completions by the roll-out policy; the full sequence's Q is D(Y) itself."""

    uses_discriminator = True

    def __call__(self, batch: RewardInputs) -> Tensor:
        cfg = batch.cfg
        return rollout.rollout_rewards(
            batch.policy,
            batch.discriminator,
            batch.tokens,
            cfg.rollout_num,
            batch.states,
            rng=batch.rng,
            score_batch=cfg.d_score_batch,
            dropout=cfg.reward_dropout,
            bf16=bool(cfg.reward_bf16),
            labels=batch.labels,
            kernels=cfg.kernels,
            table_mb=cfg.kernel_table_mb,
        )


class BleuReward:
    """PG-BLEU (paper Table 1): Eq. 4 with BLEU-``bleu_order`` of each completion against the training data in
    place of D. The training data is indexed once, on first use."""

    uses_discriminator = False

    def __init__(self) -> None:
        self._reference: BleuReference | None = None

    def __call__(self, batch: RewardInputs) -> Tensor:
        if self._reference is None:
            refs = strip_special(batch.train_data.cpu(), batch.policy.eos_token)
            self._reference = BleuReference(refs, (batch.cfg.bleu_order,))
        return rollout.bleu_rollout_rewards(
            batch.policy, self._reference, batch.tokens, batch.cfg.rollout_num, batch.states, rng=batch.rng
        )


class ConstantReward:
    """The constant-reward control: Q = 1 everywhere, no roll-outs. The gradient then only raises the probability
    of G's own samples, which tells how much of SeqGAN's effect needs no information from D at all."""

    uses_discriminator = False

    def __call__(self, batch: RewardInputs) -> Tensor:
        return torch.ones(batch.tokens.shape, device=batch.tokens.device, dtype=dtype_of(batch.policy))


class ShuffledReward:
    """The shuffled-reward control (Caccia et al. 2020) around any estimator: the same Q values, permuted at each
    position across the sequences still running there, so that they no longer belong to the sequences that earned
    them (:func:`seqgan.train.rollout.shuffle_rewards`)."""

    def __init__(self, inner: RewardEstimator) -> None:
        self.inner = inner
        self.uses_discriminator = inner.uses_discriminator

    def __call__(self, batch: RewardInputs) -> Tensor:
        q = self.inner(batch)
        return rollout.shuffle_rewards(q, sequence_mask(batch.tokens, batch.policy.eos_token), batch.rng)

    @property
    def stats(self) -> dict[str, float]:
        return getattr(self.inner, "stats", {})

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict() if hasattr(self.inner, "state_dict") else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if hasattr(self.inner, "load_state_dict"):
            self.inner.load_state_dict(state)


def _global(t: Tensor) -> Tensor:
    """The rows of every process (rank order; this process's own in one process)."""
    return distributed.all_gather_rows(t)


def _mine(t: Tensor) -> Tensor:
    """This process's share of rows gathered by :func:`_global`."""
    world = distributed.world_size()
    return t.tensor_split(world)[distributed.rank()] if world > 1 else t


class MovingBaseline:
    """ScratchGAN's moving-average baseline: each call returns the b to subtract from this batch (the previous
    average; ours: the first batch's own mean to start, where ScratchGAN starts from 0) and moves b as
    b <- (1 - rate) b + rate mean, mean over the real positions of every process's batch. Kept in checkpoints."""

    def __init__(self) -> None:
        self.value: float | None = None

    def step(self, values: Tensor, mask: Tensor, rate: float) -> tuple[float, float]:
        """values, mask (B, T) -> (b for this batch, this batch's mean)."""
        mean = float(mean_reward(_global(values), _global(mask)))
        b = mean if self.value is None else self.value
        self.value = (1.0 - rate) * b + rate * mean
        return b, mean

    def state_dict(self) -> dict[str, Any]:
        return {"baseline": self.value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.value = state["baseline"]


class CentredReward:
    """ScratchGAN's centring (de Masson d'Autume et al. 2019, arXiv 1905.09922) on SeqGAN's Monte Carlo Q: each Q
    becomes 2 Q - 1 in [-1, 1], minus a moving-average baseline b of the batch's mean centred reward, so that
    rewards can be negative and a saturated D (Q near 0 everywhere) still ranks the batch's sequences around their
    mean. b starts at the first batch's mean (ours: the paper starts from 0, which makes the first step push every
    token down) and then moves as b <- (1 - a) b + a mean, a = ``adversarial.baseline_rate`` (ScratchGAN's
    baseline decay 0.08)."""

    uses_discriminator = True

    def __init__(self) -> None:
        self.inner = DiscriminatorReward()
        self.baseline = MovingBaseline()
        self.stats: dict[str, float] = {}

    def __call__(self, batch: RewardInputs) -> Tensor:
        centred = 2.0 * self.inner(batch) - 1.0
        mask = sequence_mask(batch.tokens, batch.policy.eos_token)
        b, mean = self.baseline.step(centred, mask, batch.cfg.baseline_rate)
        self.stats = {"g/baseline": b, "g/centred_mean": mean}
        return centred - b

    def state_dict(self) -> dict[str, Any]:
        return self.baseline.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.baseline.load_state_dict(state)


class MaliGANReward:
    """MaliGAN's normalised importance weights (Che et al. 2017, arXiv 1702.07983): each sequence's weight
    r = D / (1 - D) = exp(logit_real - logit_fake), normalised over the batch (a softmax of the logit differences,
    exact where D saturates and D / (1 - D) would overflow), minus the mean weight 1/B, is that sequence's reward at
    every position. The weights keep ranking sequences when every D(Y) is near 0. ``g/ess``: the effective sample
    size (sum w)^2 / sum w^2 = 1 / sum w^2, between 1 (all the weight on one sequence) and B."""

    uses_discriminator = True

    def __init__(self) -> None:
        self.stats: dict[str, float] = {}

    def __call__(self, batch: RewardInputs) -> Tensor:
        odds = log_odds(batch.discriminator, batch.tokens, batch.policy.vocab_size, batch.labels)  # (B,)
        weights = torch.softmax(_global(odds), dim=0)  # (B_global,)
        self.stats = {"g/ess": float(1.0 / (weights**2).sum()), "g/weight_max": float(weights.max())}
        reward = _mine(weights - 1.0 / len(weights)).to(dtype_of(batch.policy))
        return reward.unsqueeze(1).expand_as(batch.tokens).contiguous()


class DenseReward:
    """ScratchGAN's dense rewards (de Masson d'Autume et al. 2019): a recurrent D (``discriminator.kind=lstm``)
    scores every prefix of Y in one pass; the reward of token y_t is 2 D(Y_1:t) - 1, its return the discounted sum
    R_t = r_t + ``discount`` R_t+1, minus a moving-average baseline as in :class:`CentredReward`. No Monte Carlo
    roll-outs: one D pass per batch instead of N x T completions."""

    uses_discriminator = True

    def __init__(self) -> None:
        self.baseline = MovingBaseline()
        self.stats: dict[str, float] = {}

    def __call__(self, batch: RewardInputs) -> Tensor:
        d, tokens = batch.discriminator, batch.tokens
        with torch.no_grad(), rollout.eval_mode(d):
            every = d.prefix_logits(rollout.labelled(tokens, batch.labels, batch.policy.vocab_size)).float()
        probs = torch.softmax(every[:, -tokens.shape[1] :], dim=-1)[..., 1]  # past a conditional D's label token
        mask = sequence_mask(tokens, batch.policy.eos_token)
        returns = dense_rewards(probs, mask, batch.cfg.discount)
        b, _ = self.baseline.step(returns, mask, batch.cfg.baseline_rate)
        self.stats = {"g/baseline": b, "g/prefix_real_mean": float(mean_reward(probs, mask))}
        return (returns - b).to(dtype_of(batch.policy))

    state_dict = CentredReward.state_dict
    load_state_dict = CentredReward.load_state_dict


# adversarial.reward -> a factory of its estimator (a new estimator: one entry here).
REWARDS: dict[str, Callable[[], RewardEstimator]] = {
    "discriminator": DiscriminatorReward,
    "bleu": BleuReward,
    "constant": ConstantReward,
    "centred": CentredReward,
    "maligan": MaliGANReward,
    "dense": DenseReward,
}

# adversarial.reward_baseline -> b in Q - b: rewards (B, T) of the whole batch, its real positions (B, T) -> b.
BASELINES: dict[str, Callable[[Tensor, Tensor], Tensor | float]] = {
    "none": lambda rewards, mask: 0.0,  # the paper and the authors' code
    "mean": mean_reward,  # the batch's mean Q over real tokens (a control: Q centred, its ranking kept)
}


def check_reward(cfg: AdversarialConfig) -> None:
    """A UserError for a reward or baseline name that is not in its table (before anything is written)."""
    for key, value, table in (
        ("adversarial.reward", cfg.reward, REWARDS),
        ("adversarial.reward_baseline", cfg.reward_baseline, BASELINES),
    ):
        if value not in table:
            raise UserError(f"{key} must be one of {', '.join(table)}; got {value!r}")


def build_reward(cfg: AdversarialConfig) -> RewardEstimator:
    """The estimator ``cfg`` names, wrapped in the shuffled-reward control when ``reward_shuffle`` is on."""
    check_reward(cfg)
    estimator = REWARDS[cfg.reward]()
    return ShuffledReward(estimator) if cfg.reward_shuffle else estimator
