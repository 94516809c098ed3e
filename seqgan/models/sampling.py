"""What every generator shares: which positions are real (masks), and drawing tokens from logits.

Shapes: B batch (or R rows), T length, V vocabulary, K draws per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from seqgan.errors import UserError


def sequence_mask(tokens: Tensor, eos_token: int | None) -> Tensor:
    """Real positions of each sequence: every token up to and including the first EOS.

    tokens (B, T) -> bool (B, T). With ``eos_token=None`` (fixed-length data such as the oracle
    task) every position is real.
    """
    if eos_token is None:
        return torch.ones_like(tokens, dtype=torch.bool)
    is_eos = (tokens == eos_token).long()
    return (is_eos.cumsum(dim=1) - is_eos) == 0


def ended_prefixes(tokens: Tensor, eos_token: int | None) -> Tensor:
    """[b, j]: the prefix y_0..y_j of sequence b already holds an EOS (so everything after it is PAD).
    tokens (B, T) -> bool (B, T); all False without an EOS token."""
    if eos_token is None:
        return torch.zeros_like(tokens, dtype=torch.bool)
    return (tokens == eos_token).cumsum(dim=1) > 0


def trim_padding(tokens: Tensor, eos_token: int | None) -> Tensor:
    """Drop the trailing columns that are padding in every row: (B, T) -> (B, T') with T' the longest
    real length. Teacher-forced log-probabilities of the kept positions do not change (the LSTM is
    causal), and padding carries no loss, so MLE and NLL can skip it."""
    if eos_token is None:
        return tokens
    return tokens[:, : int(sequence_mask(tokens, eos_token).sum(dim=1).max())]


def finish_after_eos(tokens: Tensor, done: Tensor, eos_token: int | None, pad_token: int) -> tuple[Tensor, Tensor]:
    """Replace the new ``tokens`` (R,) of rows that already ended by PAD; mark rows that end now."""
    if eos_token is None:
        return tokens, done
    tokens = torch.where(done, torch.full_like(tokens, pad_token), tokens)
    return tokens, done | (tokens == eos_token)


_BLOCK = 128  # tokens per block of the two-level inverse CDF
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-2, 1e2  # beyond them the softmax under- or overflows to one token or noise


def check_sampling(
    num: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    max_num: int = 10**8,
) -> None:
    """Refuse sampling options that would silently give wrong output or run for days (one line naming the option
    and the fix)."""
    if num is not None and not 0 < num <= max_num:
        raise UserError(f"the number of samples (--num-samples) must be in 1..{max_num:,}, got {num}")
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:  # also refuses NaN
        raise UserError(
            f"the temperature (--temperature) must be in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}], "
            f"got {temperature}: 1.0 samples the model as trained"
        )
    if top_k is not None and top_k < 1:
        raise UserError(f"top_k (--top-k) must be >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:  # also refuses NaN
        raise UserError(f"top_p (--top-p) must be in (0, 1], got {top_p}")


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Keep the ``top_k`` most likely tokens and/or the smallest set whose probability reaches
    ``top_p`` (nucleus sampling, Holtzman et al. 2020); the others get -inf. logits (B, V)."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop = cum - sorted_logits.softmax(dim=-1) >= top_p  # mass before this token already reaches p
        logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    return logits


def sample_from_logits(logits: Tensor, uniforms: Tensor, temperature: float = 1.0) -> Tensor:
    """Draw tokens by inverse-CDF sampling: one uniform number per draw.

    Faster than ``torch.multinomial`` (about 20x over 5,000 classes on CPU), and a draw is a pure
    function of its uniform number, so the batched and the per-prefix roll-outs give the same
    tokens from the same random numbers. Token k is drawn when F(k-1) <= u * F(V) < F(k) for the
    cumulative sums F (``right=True``: a zero-probability token is never drawn at a boundary).

    Args:
        logits: (B, V) unnormalised log-probabilities.
        uniforms: (B,) numbers in [0, 1), or (B, K) for K draws from each row.
    Returns:
        (B,) or (B, K) token ids (int64).
    """
    probs = torch.softmax(logits / temperature if temperature != 1.0 else logits, dim=-1)
    u = uniforms.to(probs.dtype).contiguous()
    single = u.dim() == 1
    if single:
        u = u.unsqueeze(1)
    V = probs.shape[-1]
    if V < 4 * _BLOCK:
        cdf = probs.cumsum(dim=-1)  # (B, V)
        idx = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)
    else:
        idx = _two_level_search(probs, u)
    idx = idx.clamp_(max=V - 1)  # u * total rounding onto the total itself
    return idx.squeeze(1) if single else idx


def _two_level_search(probs: Tensor, u: Tensor) -> Tensor:
    """Inverse CDF over blocks of ``_BLOCK`` tokens: find the block from the cumulative block
    sums, then the token inside it. It avoids the full (B, V) cumulative sum, a serial pass
    that costs as much as the softmax. probs (B, V), u (B, K) -> (B, K)."""
    B, V = probs.shape
    K = u.shape[1]
    whole = V // _BLOCK
    sums = probs[:, : whole * _BLOCK].reshape(B, whole, _BLOCK).sum(dim=2)
    if whole * _BLOCK < V:
        sums = torch.cat([sums, probs[:, whole * _BLOCK :].sum(dim=1, keepdim=True)], dim=1)
    csum = sums.cumsum(dim=1)  # (B, blocks)
    target = u * csum[:, -1:]  # (B, K)
    block = torch.searchsorted(csum, target, right=True).clamp_(max=csum.shape[1] - 1)
    base = torch.nn.functional.pad(csum, (1, 0)).gather(1, block)  # the mass before each chosen block
    cols = block.unsqueeze(-1) * _BLOCK + torch.arange(_BLOCK, device=probs.device)  # (B, K, BLOCK)
    # The rare exceptions below cost a host sync on a GPU, so there they are always handled; on the CPU only
    # when they occur (most draws touch neither).
    check = probs.is_cuda
    if whole * _BLOCK < V and (check or bool((block == whole).any())):  # the partial last block: columns past V
        inside = probs.gather(1, cols.clamp(max=V - 1).view(B, -1)).view(B, K, _BLOCK).masked_fill(cols >= V, 0.0)
    else:
        inside = probs.gather(1, cols.view(B, -1)).view(B, K, _BLOCK)
    running = inside.cumsum(dim=-1) + base.unsqueeze(-1)
    j = torch.searchsorted(running, target.unsqueeze(-1), right=True).squeeze(-1)  # (B, K)
    # The block's own running total can fall an ulp short of its cumulative block sum (other
    # summation order); a target in that gap goes to the block's last token with probability > 0.
    beyond = j >= _BLOCK
    if check or bool(beyond.any()):
        last = (torch.arange(1, _BLOCK + 1, device=probs.device) * (inside > 0)).argmax(dim=-1)
        j = torch.where(beyond, last, j)
    return block * _BLOCK + j


def draw_chunked(
    project: Callable[[Tensor], Tensor],
    h: Tensor,
    uniforms: Tensor,
    temperature: float = 1.0,
    chunk: int = 256,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    """Next tokens from output states: ``project`` maps h (R, H) to logits (R, V); uniforms (R,) or (R, K).

    Projects and samples ``chunk`` rows at a time on the CPU: the (R, V) logits of a large batch do not fit in
    cache, and going through them in pieces is about 2.5x faster there. On a GPU one call over all rows avoids
    many small kernel launches. -> (R,) or (R, K) token ids."""

    def one(hc: Tensor, uc: Tensor) -> Tensor:
        logits = project(hc)
        if top_k is not None or top_p is not None:
            logits = filter_logits(logits, top_k, top_p)
        return sample_from_logits(logits, uc, temperature)

    if h.shape[0] <= chunk or h.is_cuda:
        return one(h, uniforms)
    return torch.cat([one(hc, uc) for hc, uc in zip(h.split(chunk), uniforms.split(chunk), strict=True)])


def generate_in_batches(
    sample: Callable[..., Tensor],
    num: int,
    seq_len: int,
    rng: torch.Generator | None,
    batch_size: int,
    **kwargs: object,
) -> Tensor:
    """``num`` sequences of a generator's ``sample``, ``batch_size`` at a time (bounded memory) -> (num, T);
    per-row ``labels`` (num,) are cut into the batches too."""
    labels = kwargs.pop("labels", None)
    return torch.cat(
        [
            sample(
                min(batch_size, num - i),
                seq_len,
                rng,
                **kwargs,
                labels=None if labels is None else labels[i : i + batch_size],
            )
            for i in range(0, num, batch_size)
        ]
    )


# ------------------------------------------------------- decoding loops every generator shares
# ``model`` below is any generator with begin / advance / state_logits / draw (the LSTM, the Transformer): only what
# a model keeps of its states differs, so the loops live here once.
def token_log_probs(logits: Tensor, tokens: Tensor, temperature: float, eos_token: int | None) -> Tensor:
    """log G(y_t | y_<t) of each token from teacher-forced ``logits`` (B, T, V) -> (B, T); 0 after EOS."""
    logp = torch.log_softmax(logits / temperature if temperature != 1.0 else logits, dim=-1)
    logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    return logp if eos_token is None else logp * sequence_mask(tokens, eos_token)


def scheduled_sampling_decode(
    model: Any, tokens: Tensor, true_prob: float, rng: torch.Generator | None, labels: Tensor | None
) -> Tensor:
    """Scheduled sampling (Bengio et al. 2015): logits (B, T, V) of ``tokens`` (B, T) where, at each position of
    each sequence independently, the input is the true previous token with probability ``true_prob`` and otherwise
    a token drawn from the model's own prediction at the previous position (no gradient through the draw)."""
    B, T = tokens.shape
    feed_true = torch.rand(B, T, generator=rng, device=tokens.device) < true_prob  # [:, t]: the input of step t
    uniforms = torch.rand(B, T, generator=rng, device=tokens.device)  # [:, t]: the draw at step t
    state, inputs = model.begin(B, labels), tokens[:, 0]  # inputs: set at the end of each step, read at the next
    logits = []
    for t in range(T):
        if t > 0:
            state = model.advance(inputs, state)
        logits.append(model.state_logits(state))
        if t + 1 < T:
            drawn = sample_from_logits(logits[-1].detach(), uniforms[:, t])
            inputs = torch.where(feed_true[:, t + 1], tokens[:, t], drawn)
    return torch.stack(logits, dim=1)


def ancestral_decode(
    model: Any,
    num: int,
    seq_len: int,
    uniforms: Tensor,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    prefix: Tensor | None,
    labels: Tensor | None,
    keep: Callable[[Any], Any] | None = None,
) -> tuple[Tensor, list[Any], Any]:
    """Ancestral sampling driven by ``uniforms`` (num, T): tokens (num, T), what ``keep`` took of the state after
    each of y_0 .. y_{T-2} was fed (the states the roll-outs continue from; nothing without ``keep``), and the last
    state. ``prefix`` (P,): fed, not drawn. Rows end at their first EOS and are padded after it."""
    device = uniforms.device
    state = model.begin(num, labels)
    tokens = torch.empty(num, seq_len, dtype=torch.long, device=device)
    inputs = tokens[:, 0]  # set at the end of each step, read at the next
    done = torch.zeros(num, dtype=torch.bool, device=device)
    kept = []
    for t in range(seq_len):
        if t > 0:
            state = model.advance(inputs, state)
            if keep is not None:  # state now = after feeding y_{t-1}
                kept.append(keep(state))
        if prefix is not None and t < len(prefix):
            drawn = prefix[t].to(device).expand(num)
        else:
            drawn = model.draw(state, uniforms[:, t], temperature, top_k=top_k, top_p=top_p)
        inputs, done = finish_after_eos(drawn, done, model.eos_token, model.pad_token)
        tokens[:, t] = inputs
    return tokens, kept, state
