"""Evaluation metrics. Pure functions of models and token tensors; no I/O."""

from __future__ import annotations

import torch
from torch import Tensor

from seqgan.models.generator import Generator, sequence_mask


@torch.no_grad()
def sequence_nll(model: Generator, tokens: Tensor, batch_size: int = 1024) -> Tensor:
    """Per-sequence mean per-token NLL (nats) of ``tokens`` under ``model``: (B, T) -> (B,).

    With an EOS token, the mean runs over the real positions (up to and including the first EOS).

    Teacher-forced from the start token. With the oracle as ``model`` and generated
    sequences as ``tokens`` this is NLL_oracle per sample (the t-test's unit); with the
    generator and held-out data it is NLL_test.
    """
    device = model.out.weight.device
    was_training = model.training
    model.eval()
    out = []
    for chunk in tokens.split(batch_size):
        chunk = chunk.to(device)
        lengths = sequence_mask(chunk, model.eos_token).sum(dim=1).clamp(min=1)
        out.append(-model.log_probs(chunk).sum(dim=1) / lengths)
    model.train(was_training)
    return torch.cat(out).cpu()


def mean_nll(model: Generator, tokens: Tensor, batch_size: int = 1024) -> float:
    """Mean per-token NLL in nats over all real tokens of the corpus (for fixed-length
    sequences the paper's Table 1 scale: the mean of the per-sequence means)."""
    per_seq = sequence_nll(model, tokens, batch_size).double()
    lengths = sequence_mask(tokens, model.eos_token).sum(dim=1).clamp(min=1).double().cpu()
    return float((per_seq * lengths).sum() / lengths.sum())
