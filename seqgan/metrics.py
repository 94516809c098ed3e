"""Evaluation metrics. Pure functions of models and token tensors; no I/O."""

from __future__ import annotations

import torch
from torch import Tensor

from seqgan.models.generator import Generator


@torch.no_grad()
def sequence_nll(model: Generator, tokens: Tensor, batch_size: int = 1024) -> Tensor:
    """Per-sequence mean per-token NLL (nats) of ``tokens`` under ``model``: (B, T) -> (B,).

    Teacher-forced from the start token. With the oracle as ``model`` and generated
    sequences as ``tokens`` this is NLL_oracle per sample (the t-test's unit); with the
    generator and held-out data it is NLL_test.
    """
    device = model.out.weight.device
    was_training = model.training
    model.eval()
    out = [-model.log_probs(chunk.to(device)).mean(dim=1) for chunk in tokens.split(batch_size)]
    model.train(was_training)
    return torch.cat(out).cpu()


def mean_nll(model: Generator, tokens: Tensor, batch_size: int = 1024) -> float:
    """Mean per-token NLL in nats, the scale of the paper's Table 1 (fixed-length sequences)."""
    return float(sequence_nll(model, tokens, batch_size).double().mean())
