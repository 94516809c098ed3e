"""Discriminator-guided sampling without policy gradient: G stays the model it is (the early-stopped MLE generator of
a run's ``pretrained`` checkpoint, with the D pre-trained against it), and D only reweights its samples.

The model is the residual energy-based model of Deng et al. 2020 (arXiv 2004.11714), q(x) = p(x) w(x) / Z with
w(x) = D(x) / (1 - D(x)) = exp(s(x)), s the logit difference real - fake, and Z = E_p[w]. Sampling it exactly would
need every sequence; :func:`resample` draws it approximately by sampling-importance-resampling (Azadi et al. 2019,
discriminator rejection sampling, arXiv 1810.06758, in its resampling form): ``k`` candidates from p, one kept with
probability proportional to w (k -> infinity: exactly q). :func:`residual_nll` is q's NLL of held-out sequences with
Z estimated by Monte Carlo from p's samples, and that estimate's spread, so its NLL_test compares with G's fairly.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from seqgan.errors import UserError
from seqgan.eval.metrics import sequence_nll
from seqgan.models.sampling import sequence_mask
from seqgan.train.rollout import eval_mode, labelled

MAX_RESAMPLE = 1024  # candidates per sequence: far past where resampling stops changing (tests use 8-64)


def check_resample(k: int) -> None:
    """A UserError for a number of candidates that is not 0 (off), 1 (off) or 2..MAX_RESAMPLE."""
    if not isinstance(k, int) or not 0 <= k <= MAX_RESAMPLE:
        raise UserError(f"--resample {k} must be a number of candidates in 2..{MAX_RESAMPLE} (0: off)")


@torch.no_grad()
def log_odds(
    discriminator: nn.Module, tokens: Tensor, vocab_size: int, labels: Tensor | None = None, batch: int = 4096
) -> Tensor:
    """s(x) = logit_real - logit_fake = log(D / (1 - D)) of every row, exact where D saturates: (N, T) -> (N,)."""
    out = []
    with eval_mode(discriminator):
        for lo in range(0, len(tokens), batch):
            rows = tokens[lo : lo + batch]
            given = None if labels is None else labels[lo : lo + batch]
            logits = discriminator(labelled(rows, given, vocab_size)).float()
            out.append(logits[:, 1] - logits[:, 0])
    return torch.cat(out) if out else torch.zeros(0)


@torch.no_grad()
def resample(
    generator: Any,
    discriminator: nn.Module,
    num: int,
    k: int,
    seq_len: int,
    rng: torch.Generator,
    labels: Tensor | None = None,
    batch_size: int = 1024,
    **sampling: Any,
) -> tuple[Tensor, dict[str, float]]:
    """``num`` sequences, each chosen among ``k`` fresh candidates of ``generator`` with probability proportional
    to D / (1 - D) (of ``labels`` (num,): every candidate of row i is asked for labels[i]). ``sampling``: the
    generator's options (temperature, top_k, top_p, prefix). Returns (num, T) and the mean effective sample size of
    a row's weights, (sum w)^2 / sum w^2 in [1, k]: near 1, D picks one candidate whatever G proposes."""
    asked = None if labels is None else labels.repeat_interleave(k)
    given = {} if asked is None else {"labels": asked}
    candidates = generator.generate(num * k, seq_len, rng, batch_size, **sampling, **given)  # (num * k, T)
    scores = log_odds(discriminator, candidates, generator.vocab_size, asked).view(num, k)
    weights = torch.softmax(scores, dim=1)
    pick = torch.multinomial(weights, 1, generator=rng).squeeze(1)
    chosen = candidates.view(num, k, seq_len)[torch.arange(num), pick.to(candidates.device)]
    return chosen, {"resample/ess": float((1.0 / (weights**2).sum(dim=1)).mean()), "resample/k": float(k)}


@torch.no_grad()
def residual_nll(
    generator: Any,
    discriminator: nn.Module,
    refs: Tensor,
    proposals: Tensor,
    temperature: float = 1.0,
    ref_labels: Tensor | None = None,
    proposal_labels: Tensor | None = None,
    chunks: int = 10,
) -> dict[str, float]:
    """Mean per-token NLL of ``refs`` (N, T) under q(x) = p(x) exp(s(x)) / Z, with log Z estimated from
    ``proposals`` (M, T), fresh samples of p at ``temperature``: log Z = logsumexp(s) - log M. Also the spread of
    that estimate (the standard deviation of log Z over ``chunks`` disjoint parts of the proposals, divided by
    sqrt(chunks)); a D whose weights fall on few sequences gives a wide spread, and the NLL is then unreliable."""
    vocab = generator.vocab_size
    s = log_odds(discriminator, proposals, vocab, proposal_labels).double()
    log_z = float(torch.logsumexp(s, 0) - math.log(len(s)))
    parts = [float(torch.logsumexp(c, 0) - math.log(len(c))) for c in s.chunk(chunks) if len(c)]
    spread = float(torch.tensor(parts).std() / math.sqrt(len(parts))) if len(parts) > 1 else float("nan")
    per_seq = sequence_nll(generator, refs, temperature=temperature, labels=ref_labels).double().cpu()  # mean / token
    lengths = sequence_mask(refs, generator.eos_token).sum(dim=1).clamp(min=1).double().cpu()
    s_refs = log_odds(discriminator, refs, vocab, ref_labels).double().cpu()
    total = (per_seq * lengths).sum() - s_refs.sum() + log_z * len(refs)
    return {
        "resample/nll": float(total / lengths.sum()),
        "resample/log_z": log_z,
        "resample/log_z_spread": spread,
        "resample/nll_base": float((per_seq * lengths).sum() / lengths.sum()),
    }
