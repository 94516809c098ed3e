"""The three losses of SeqGAN, as pure functions. Shapes: B batch, T length, V vocabulary."""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

from seqgan.models.discriminator import Discriminator


def mle_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean per-token cross-entropy (nats). logits (B, T, V), targets (B, T) -> scalar."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def policy_gradient_loss(log_probs: Tensor, rewards: Tensor, baseline: str = "none") -> Tensor:
    """REINFORCE loss -sum_{b,t} log G(y_t | Y_1:t-1) * Q_t (paper Eq. 6-8).

    A sum over batch and time, not a mean, as in the authors' ``generator.py``: with Adam the
    scale only matters through the gradient-norm clip. ``baseline="mean"`` subtracts the mean
    reward of the batch (an option; the paper uses none).

    Args:
        log_probs: (B, T) log-probabilities of the sampled tokens, with gradient.
        rewards: (B, T) Q-values, treated as constants.
    """
    q = rewards.detach()
    if baseline == "mean":
        q = q - q.mean()
    elif baseline != "none":
        raise ValueError(f"unknown reward baseline {baseline!r}")
    return -(log_probs * q).sum()


def discriminator_loss(discriminator: Discriminator, tokens: Tensor, labels: Tensor, l2_reg: float
                       ) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Mean 2-class cross-entropy (1 = real) plus ``l2_reg`` x L2 of the output layer.

    Returns the loss and the logits (B, 2) so the caller can count accuracy without a second pass.
    """
    logits = discriminator(tokens)
    loss = F.cross_entropy(logits, labels) + l2_reg * discriminator.l2_penalty()
    return loss, logits
