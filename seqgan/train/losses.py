"""The three losses of SeqGAN, as pure functions. Shapes: B batch, T length, V vocabulary."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from seqgan.models.discriminator import Discriminator


def mle_loss(logits: Tensor, targets: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean per-token cross-entropy (nats) over real positions.

    logits (B, T, V), targets (B, T), mask (B, T) bool (None: every position) -> scalar.
    """
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    if mask is None:
        return ce.mean()
    mask = mask.reshape(-1).to(ce.dtype)
    return (ce * mask).sum() / mask.sum().clamp(min=1.0)


def policy_gradient_loss(log_probs: Tensor, rewards: Tensor, baseline: str = "none",
                         mask: Tensor | None = None) -> Tensor:  # fmt: skip
    """REINFORCE loss -sum_{b,t} log G(y_t | Y_1:t-1) * Q_t (paper Eq. 6-8).

    A sum over batch and time, not a mean, as in the authors' ``generator.py``: with Adam the
    scale only matters through the gradient-norm clip. ``baseline="mean"`` subtracts the mean
    reward of the batch (an option; the paper uses none).

    Args:
        log_probs: (B, T) log-probabilities of the sampled tokens, with gradient.
        rewards: (B, T) Q-values, treated as constants.
        mask: (B, T) bool, real positions (up to the first EOS); None: all. Masked positions
            contribute nothing and are left out of the baseline mean.
    """
    q = rewards.detach()
    m = torch.ones_like(q) if mask is None else mask.to(q.dtype)
    if baseline == "mean":
        q = q - (q * m).sum() / m.sum().clamp(min=1.0)
    elif baseline != "none":
        raise ValueError(f"unknown reward baseline {baseline!r}")
    return -(log_probs * q * m).sum()


def discriminator_loss(discriminator: Discriminator, tokens: Tensor, labels: Tensor, l2_reg: float
                       ) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Mean 2-class cross-entropy (1 = real) plus ``l2_reg`` x L2 of the output layer.

    Returns the loss and the logits (B, 2) so the caller can count accuracy without a second pass.
    """
    logits = discriminator(tokens)
    loss = F.cross_entropy(logits, labels) + l2_reg * discriminator.l2_penalty()
    return loss, logits
