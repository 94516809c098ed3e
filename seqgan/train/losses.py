"""The three losses of SeqGAN, as pure functions. Shapes: B batch, T length, V vocabulary.

Each loss can be a share of a larger batch's loss: with several processes (``torchrun``) every rank passes the
global batch's normaliser (``total``) and its share of the regulariser, so that the ranks' losses, and hence their
summed gradients, are those of the global batch. In one process the defaults give the plain loss of the batch.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from seqgan.models.discriminator import Discriminator


def mle_loss(
    logits: Tensor, targets: Tensor, mask: Tensor | None = None, total: Tensor | float | None = None
) -> Tensor:
    """Per-token cross-entropy (nats) summed over real positions, divided by ``total`` (default: their count here,
    i.e. the mean over this batch's real tokens).

    logits (B, T, V), targets (B, T), mask (B, T) bool (None: every position) -> scalar.
    """
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    m = torch.ones_like(ce) if mask is None else mask.reshape(-1).to(ce.dtype)
    if total is None:
        total = m.sum().clamp(min=1.0)
    return (ce * m).sum() / total


def mean_reward(rewards: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean Q over the real positions of a batch (the "mean" baseline). rewards (B, T) -> scalar."""
    m = torch.ones_like(rewards) if mask is None else mask.to(rewards.dtype)
    return (rewards * m).sum() / m.sum().clamp(min=1.0)


def policy_gradient_loss(
    log_probs: Tensor, rewards: Tensor, baseline: str | Tensor | float = "none", mask: Tensor | None = None
) -> Tensor:
    """REINFORCE loss -sum_{b,t} log G(y_t | Y_1:t-1) * (Q_t - b) (paper Eq. 6-8).

    A sum over batch and time, not a mean, as in the authors' ``generator.py``: with Adam the scale only matters
    through the gradient-norm clip, and a sum splits over processes with no normaliser.

    Args:
        log_probs: (B, T) log-probabilities of the sampled tokens, with gradient.
        rewards: (B, T) Q-values, treated as constants.
        baseline: "none" (the paper), "mean" (this batch's mean reward, :func:`mean_reward`) or a number b (e.g.
            the mean over every process's batch).
        mask: (B, T) bool, real positions (up to the first EOS); None: all. Masked positions contribute nothing
            and are left out of the mean.
    """
    q = rewards.detach()
    m = torch.ones_like(q) if mask is None else mask.to(q.dtype)
    if isinstance(baseline, str):
        if baseline not in ("none", "mean"):
            raise ValueError(f"unknown reward baseline {baseline!r}")
        baseline = mean_reward(q, mask) if baseline == "mean" else 0.0
    return -(log_probs * (q - baseline) * m).sum()


def discriminator_loss(
    discriminator: Discriminator,
    tokens: Tensor,
    labels: Tensor,
    l2_reg: float,
    total: int | None = None,
    l2_share: float = 1.0,
    label_smoothing: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """2-class cross-entropy (1 = real) of the rows here as a share of a batch of ``total`` rows (default: these
    rows alone, the batch mean), plus ``l2_share`` x ``l2_reg`` x L2 of the output layer (authors' code: 0.2).

    The share is the mean times len / total (not a sum divided by total): in one process the factor is exactly 1,
    so the numbers are bit for bit those of the plain mean. Returns the loss and the logits (B, 2), so the caller
    can count accuracy without a second pass.
    """
    if getattr(discriminator, "dense", False) and len(labels):  # a D of every prefix learns from every prefix
        every = discriminator.prefix_logits(tokens)  # (B, T, 2)
        targets = labels.repeat_interleave(every.shape[1])
        share = 1.0 if total is None else len(labels) / total
        ce = F.cross_entropy(every.reshape(-1, 2), targets, label_smoothing=label_smoothing) * share
        return ce + l2_share * l2_reg * discriminator.l2_penalty(), every[:, -1]
    logits = discriminator(tokens)
    if len(labels) == 0:  # an empty share (several processes, a last batch with fewer rows than ranks)
        ce = logits.sum() * 0.0
    else:
        share = 1.0 if total is None else len(labels) / total
        ce = F.cross_entropy(logits, labels, label_smoothing=label_smoothing) * share
    penalty = discriminator.l2_penalty() if hasattr(discriminator, "l2_penalty") else 0.0  # your own D may lack it
    return ce + l2_share * l2_reg * penalty, logits
