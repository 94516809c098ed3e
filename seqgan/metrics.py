"""Evaluation metrics. Pure functions of models and token tensors; no I/O."""

from __future__ import annotations

import torch
from torch import Tensor

from seqgan.models.generator import Generator, sequence_mask, trim_padding


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
        chunk = trim_padding(chunk.to(device), model.eos_token)
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


def strip_special(tokens: Tensor, eos_token: int | None) -> list[list[int]]:
    """Sequences as lists of real token ids: cut at the first EOS (EOS itself left out)."""
    rows = tokens.tolist()
    if eos_token is None:
        return rows
    return [row[: row.index(eos_token)] if eos_token in row else row for row in rows]


def distinct_n(sequences: list[list[int]], n: int) -> float:
    """Distinct n-grams / all n-grams over a corpus (Li et al. 2016); 0 when there are none."""
    grams = [tuple(s[i : i + n]) for s in sequences for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def evaluate_samples(generator: Generator, samples: Tensor, test: Tensor, oracle: Generator | None,
                     bleu_orders: tuple[int, ...] = (2, 3, 4, 5), with_text_metrics: bool = False,
                     batch_size: int = 1024) -> dict[str, float]:  # fmt: skip
    """Every evaluation metric of a generator, as flat ``eval/...`` keys.

    samples (S, T): fresh generator samples; test (N, T): held-out real sequences.
    BLEU-n: mean sentence BLEU of each sample against the whole test set (NLTK method1, the
    paper's and Texygen's protocol); Self-BLEU-n: each sample against the other samples.
    """
    from seqgan.bleu import bleu, self_bleu

    out: dict[str, float] = {}
    if oracle is not None:
        out["eval/nll_oracle"] = mean_nll(oracle, samples, batch_size)
    if len(test):
        out["eval/nll_test"] = mean_nll(generator, test, batch_size)
    if with_text_metrics:
        hyps = strip_special(samples.cpu(), generator.eos_token)
        refs = strip_special(test.cpu(), generator.eos_token)
        if len(refs):
            out.update({f"eval/bleu{n}": v for n, v in bleu(hyps, refs, bleu_orders).items()})
        if len(hyps) > 1:
            out.update({f"eval/self_bleu{n}": v for n, v in self_bleu(hyps, bleu_orders).items()})
        out["eval/distinct1"] = distinct_n(hyps, 1)
        out["eval/distinct2"] = distinct_n(hyps, 2)
        out["eval/mean_length"] = sum(map(len, hyps)) / max(len(hyps), 1)
    return out
