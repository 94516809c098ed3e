"""Monte Carlo roll-out rewards (paper Eq. 4) and the delayed roll-out policy.

For a sampled sequence Y_1:T and every prefix Y_1:t with t < T, the action value is

    Q(Y_1:t-1, y_t) = (1/N) sum_n D(Y^n_1:T),  Y^n completed from Y_1:t by the roll-out policy,

and for t = T it is D(Y_1:T) itself. Shapes: B batch, T length, N roll-outs, H hidden.

The batched version samples all (T-1) x N x B continuations together, one position at a
time, starting each prefix from the LSTM state the generator already computed while sampling
Y (no prefix is re-encoded), and scores the completions in large D calls that compute the
convolution windows lying inside each prefix once, not once per roll-out (:func:`score_completions`).
:func:`naive_rollout_rewards` is the authors' loop order (one roll-out per prefix, prefix
re-encoded every time), kept as the reference the tests and the benchmark compare against.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from seqgan import kernels
from seqgan.data.decode import strip_special
from seqgan.eval.bleu import BleuReference
from seqgan.models.discriminator import Discriminator, window_products
from seqgan.models.interface import SequenceGenerator, States, dtype_of
from seqgan.models.sampling import ended_prefixes, finish_after_eos, sample_from_logits

if TYPE_CHECKING:
    from seqgan.kernels import cnn_table

LOG = logging.getLogger("seqgan")


@contextlib.contextmanager
def eval_mode(*modules: nn.Module, training: bool = False) -> Iterator[None]:
    """Temporarily switch modules to eval mode (no dropout; ``training=True``: train mode), restoring
    their modes after."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.train(training)
        yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)


@torch.no_grad()
def score(
    discriminator: Discriminator,
    tokens: Tensor,
    batch: int = 4096,
    dropout: bool = False,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """P(real) of every row, in eval mode (``dropout=True``: with D's dropout), ``batch`` rows per call.
    ``dtype`` (e.g. ``torch.bfloat16``): the paper CNN computes as :func:`score_completions` does; another D runs
    under bf16 autocast. tokens (R, T) -> (R,)."""
    with eval_mode(discriminator, training=dropout):
        if dtype is None:
            return torch.cat([torch.softmax(discriminator(chunk), dim=-1)[:, 1] for chunk in tokens.split(batch)])
        if not isinstance(discriminator, Discriminator):
            with torch.autocast(tokens.device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
                return score(discriminator, tokens, batch, dropout).to(dtype_of(discriminator))
        cnn = frozen_cnn(discriminator, dtype)
        return torch.cat(
            [
                probs_from_raw(discriminator, cnn, _pooled_raw(cnn, cnn.embedding[chunk]))
                for chunk in tokens.split(batch)
            ]
        )


def rollout_uniforms(
    batch: int, seq_len: int, rollout_num: int, rng: torch.Generator | None, device: torch.device | str
) -> Tensor:
    """Random numbers for every draw of a roll-out, (T-1, N, B, T): [t-1, n, b, i] drives the
    token at position i of roll-out n of prefix length t of sequence b (used for i >= t)."""
    return torch.rand(seq_len - 1, rollout_num, batch, seq_len, generator=rng, device=device)


def labelled(tokens: Tensor, labels: Tensor | None, vocab_size: int) -> Tensor:
    """What a conditional D reads: each sequence's label as one more token (id ``vocab_size`` + label) before it.
    tokens (..., B, T), labels (B,) -> (..., B, T + 1); without labels, the tokens as they are."""
    if labels is None:
        return tokens
    column = (vocab_size + labels).view(*([1] * (tokens.dim() - 2)), -1, 1).expand(*tokens.shape[:-1], 1)
    return torch.cat([column, tokens], dim=-1)


@torch.no_grad()
def rollout_completions(
    policy: SequenceGenerator,
    tokens: Tensor,
    rollout_num: int,
    states: States | None = None,
    uniforms: Tensor | None = None,
    rng: torch.Generator | None = None,
    labels: Tensor | None = None,
    drop_ended: bool = True,
) -> Tensor:
    """Complete every prefix of ``tokens`` ``rollout_num`` times with ``policy``.

    Args:
        tokens: (B, T) sampled sequences.
        states: the policy's per-position states of ``tokens``, as ``sample(..., return_states=True)`` returns
            them; computed here (``policy.states_of``) when None.
        uniforms: (T-1, N, B, T) random numbers (see :func:`rollout_uniforms`); drawn when None.
        labels: (B,) each sequence's label, for a conditional policy (its states carry it).
        drop_ended: rows leave the batch once they have ended, and prefixes that already ended get no roll-out
            (needs the policy's optional ``select_state``); False keeps every row to the end (the same result).
    Returns:
        (T-1, N, B, T) completions: [t-1, n, b] keeps tokens[b, :t] and continues it.
    """
    B, T = tokens.shape
    N = rollout_num
    if states is None:
        states = policy.states_of(tokens) if labels is None else policy.states_of(tokens, labels)
    if uniforms is None:
        uniforms = rollout_uniforms(B, T, N, rng, tokens.device)
    # Every completion starts as Y itself: a prefix that already holds an EOS is completed by PAD alone, which is
    # what Y has after its EOS, so such prefixes need no roll-out at all.
    out = tokens.expand(T - 1, N, B, T).clone()
    grid = out.view(-1, T)  # row ((t-1) * N + n) * B + b: roll-out n of the prefix of length t of sequence b
    eos, pad = policy.eos_token, policy.pad_token
    ended = ended_prefixes(tokens, eos)
    # A generator with select_state (both of ours) drops a row as soon as it has ended; one without keeps every
    # row to the end and pads it (the same completions, more work).
    select = getattr(policy, "select_state", None) if drop_ended else None
    fan = torch.arange(N, device=tokens.device).unsqueeze(1) * B  # (N, 1)
    every = torch.arange(B, device=tokens.device)
    flat_uniforms = uniforms.reshape(-1, T)  # rows as in grid
    state = None
    prev = rows = torch.empty(0, dtype=torch.long, device=tokens.device)  # rows: each active row's index in grid
    done = torch.empty(0, dtype=torch.bool, device=tokens.device)
    for i in range(1, T):
        # Active rows are continuations of prefixes of length 1..i-1, and the N roll-outs of each prefix of length
        # i join them; the batch grows as the staircase of the roll-out grid and no row does a step it does not need.
        if prev.numel():
            state = policy.advance(prev, state)
            cont = policy.draw(state, flat_uniforms[rows, i])
            prev, done = finish_after_eos(cont, done, eos, pad)
        joining = policy.prefix_state(states, i)
        live = (~ended[:, i - 1]).nonzero().squeeze(1) if select is not None else None
        if live is not None and live.numel() < B:
            joining = select(joining, live)
        seqs = live if live is not None else every
        if seqs.numel():
            # The N roll-outs of a joining prefix share one state, hence one distribution: project it once per
            # sequence and draw N tokens from it.
            joined = policy.draw(joining, uniforms[i - 1, :, seqs, i].T).T.reshape(-1)  # (N * L,), order (n, l)
            joined, joined_done = finish_after_eos(joined, ended[seqs, i - 1].repeat(N), eos, pad)
            prev, done = torch.cat([prev, joined]), torch.cat([done, joined_done])
            rows = torch.cat([rows, ((i - 1) * N * B + fan + seqs).reshape(-1)])
            state = policy.cat_state(state, policy.repeat_state(joining, N))
        grid[rows, i] = prev
        if select is not None and i + 1 < T and bool(done.any()):  # ended rows: PAD to the end, out of the batch
            grid[rows[done], i + 1 :] = pad
            keep = (~done).nonzero().squeeze(1)
            prev, done, rows = prev[keep], done[keep], rows[keep]
            state = select(state, keep) if keep.numel() else None
    return out


class _FrozenCNN(NamedTuple):
    """The paper CNN's weights laid out once for the many sequences of one G step (D does not change during it)."""

    embedding: Tensor  # (V, E) in the compute dtype
    filters: list[tuple[int, Tensor]]  # (width w, weight): fp32/fp64 (n, E, w) for conv1d; bf16 (w * E, n) for a matmul
    bias: Tensor  # (F,) every filter's bias, in D's dtype
    highway: Tensor  # (F, 2F): the gate's and the transform's weights side by side, one matmul for both
    highway_bias: Tensor  # (2F,), in D's dtype
    real: tuple[Tensor, Tensor] | None  # a 2-class D's logit(real) - logit(fake) as (F,) weight and () bias


def frozen_cnn(d: Discriminator, dtype: torch.dtype) -> _FrozenCNN:
    if dtype == torch.bfloat16:  # the layout of window_products, laid out once
        filters = [
            (w, c.weight.detach().permute(2, 1, 0).flatten(0, 1).to(dtype).contiguous())
            for (w, _), c in zip(d.filters, d.convs, strict=True)
        ]
    else:
        filters = [(w, c.weight.detach().to(dtype)) for (w, _), c in zip(d.filters, d.convs, strict=True)]
    weight = torch.cat([d.highway_gate.weight, d.highway_transform.weight]).detach().T.to(dtype).contiguous()
    bias = torch.cat([d.highway_gate.bias, d.highway_transform.bias]).detach()
    out = d.out.weight.detach(), d.out.bias.detach()
    real = (out[0][1] - out[0][0], out[1][1] - out[1][0]) if out[0].shape[0] == 2 else None
    return _FrozenCNN(
        d.embedding.weight.detach().to(dtype),
        filters,
        torch.cat([c.bias for c in d.convs]).detach(),
        weight,
        bias,
        real,
    )


def _window_outputs(x: Tensor, weight: Tensor) -> Tensor:
    """A filter bank's output at every window, before bias and ReLU: x (R, T', E) -> (R, T'-w+1, n).
    fp32 and fp64 (weight (n, E, w)): oneDNN's convolution, the fastest there; bf16 (weight (w * E, n)): one matrix
    product over the windows, about 2x the bf16 convolution's speed."""
    if weight.dim() == 3:
        return torch.nn.functional.conv1d(x.transpose(1, 2), weight).transpose(1, 2)
    return window_products(x, weight)


def _pooled_raw(cnn: _FrozenCNN, x: Tensor) -> Tensor:
    """Max-over-time of every filter before bias and ReLU (both monotone, so they can follow the max and touch
    (R, F) values instead of every window's): x (R, T, E) -> (R, F)."""
    return torch.cat([_window_outputs(x, weight).amax(dim=1) for _, weight in cnn.filters], dim=1)


def probs_from_raw(d: Discriminator, cnn: _FrozenCNN, raw: Tensor) -> Tensor:
    """P(real) from the pooled window maxima before bias and ReLU: raw (R, F) -> (R,), in D's dtype."""
    pooled = torch.relu(raw.to(cnn.bias.dtype) + cnn.bias)
    if cnn.highway.dtype == pooled.dtype:
        z = torch.addmm(cnn.highway_bias, pooled, cnn.highway)
    else:  # bf16 product, bias added in D's dtype
        z = (pooled.to(cnn.highway.dtype) @ cnn.highway).to(pooled.dtype) + cnn.highway_bias
    F = pooled.shape[1]
    gate = torch.sigmoid(z[:, :F])
    h = d.dropout(torch.addcmul(pooled, gate, torch.relu(z[:, F:]) - pooled))  # gate * T(x) + (1 - gate) * x
    if cnn.real is None:
        return torch.softmax(d.out(h), dim=-1)[:, 1]
    return torch.sigmoid(h @ cnn.real[0] + cnn.real[1])  # softmax(l)[1] = sigmoid(l1 - l0), one product not two


@torch.no_grad()
def score_completions(
    discriminator: Discriminator,
    tokens: Tensor,
    completions: Tensor,
    batch: int = 4096,
    dropout: bool = False,
    shift: int = 0,
    dtype: torch.dtype | None = None,
    ended: Tensor | None = None,
    full: Tensor | None = None,
    pad: int | None = None,
    table: cnn_table.Table | None = None,
) -> Tensor:
    """P(real) of every roll-out completion, sharing the work that lies inside the prefix.

    A completion of the prefix Y_1:t agrees with Y on positions < t, so every convolution window
    that ends inside the prefix has the same output as on Y itself, for all N roll-outs. Those
    positions are pooled once per sequence from Y (a running max over positions); each roll-out
    only convolves the windows that reach past the prefix. Max-pooling is exact, so the result
    equals :func:`score` on the completions. tokens (B, T), completions (T-1, N, B, T) ->
    probabilities (T-1, N, B). Dropout (``dropout=True``) acts after pooling, so sharing stays exact.
    A discriminator of your own (not the paper's CNN) scores every completion whole. ``shift``: leading
    positions every completion shares with Y besides the prefix (1: a conditional D's label token).
    ``dtype``: what the convolutions and the highway's product compute in (None: D's own; ``torch.bfloat16``: the
    reward_bf16 option); bias, gates and output layer stay in D's dtype, and so do the probabilities.
    ``ended`` (B, T-1) bool with ``full`` (B,): the prefixes that already hold an EOS, whose completions are Y
    itself (PAD after the EOS), are not scored; their entries are ``full``, D(Y) as the caller scored it.
    ``pad``: the PAD token: rows are scored in order of length (1 + their last position that is not PAD), and the
    windows past a chunk's longest row, PAD only and so all equal, are computed once (exact for any rows).
    ``table``: D's filter banks as this G step's look-up table (:func:`kernel_table`; the compiled path, equal to
    this eager one to fp32 rounding).
    """
    T1, N, B, T = completions.shape
    if table is not None:
        return _score_with_table(discriminator, table, tokens, completions, dropout, shift, dtype, ended, full, pad)
    if not isinstance(discriminator, Discriminator):
        if ended is None:
            return score(discriminator, completions.reshape(-1, T), batch, dropout, dtype).view(T1, N, B)
        out = full.expand(T1, N, B).clone()
        live = (~ended.T).unsqueeze(1).expand(T1, N, B)
        out[live] = score(discriminator, completions[live], batch, dropout, dtype).to(out.dtype)
        return out
    cnn = frozen_cnn(discriminator, dtype or dtype_of(discriminator))
    out = torch.empty(T1, N, B, device=tokens.device, dtype=cnn.bias.dtype)
    with eval_mode(discriminator, training=dropout):
        x_y = cnn.embedding[tokens]  # (B, T, E)
        # prefix_max[k][:, p]: max over the windows at positions <= p of filter bank k on Y (before bias and ReLU)
        prefix_max = [_window_outputs(x_y, weight).cummax(dim=1).values for _, weight in cnn.filters]
        widest = max(w for w, _ in cnn.filters)
        if pad is not None:  # each filter bank's output on a window of PAD only, (1, n)
            pad_windows = [
                _window_outputs(cnn.embedding[torch.full((1, w), pad, device=tokens.device)], weight)[:, 0]
                for w, weight in cnn.filters
            ]
        else:
            pad_windows = [None] * len(cnn.filters)
        for t in range(1, T1 + 1):  # t: the prefix length (T counts the label column too when shift = 1)
            seqs = None if ended is None else (~ended[:, t - 1]).nonzero().squeeze(1)  # the sequences scored
            if seqs is not None:
                out[t - 1] = full
                if not seqs.numel():
                    continue
            block = completions[t - 1] if seqs is None else completions[t - 1][:, seqs]  # (N, L, T)
            L = block.shape[1]
            rows = block.reshape(N * L, T)
            seq = torch.arange(N * L, device=tokens.device) % L  # each row's sequence among the L
            if pad is not None:  # rows in order of their length, so that a chunk stops where its longest row does
                content = T - (rows != pad).flip(1).int().argmax(dim=1)  # 1 + the last position that is not PAD
                order = content.argsort()
                rows, seq, content = rows[order], seq[order], content[order]
            probs = torch.empty(N * L, device=tokens.device, dtype=out.dtype)
            for lo in range(0, N * L, batch):
                chunk, chunk_seq = rows[lo : lo + batch], seq[lo : lo + batch]
                of_y = chunk_seq if seqs is None else seqs[chunk_seq]  # each row's sequence among the B of Y
                # Windows that start at or after ``reach`` hold PAD only: all equal, one value per filter bank.
                # Rounded up to a multiple of 8 (computing a few PAD windows in full changes nothing): fewer distinct
                # shapes, which oneDNN would otherwise plan afresh.
                reach = T if pad is None else min(T, -(-int(content[lo : lo + batch].max()) // 8) * 8)
                x = cnn.embedding[chunk[:, : min(T, reach + widest - 1)]]  # (R, T', E)
                raw = []
                for (w, weight), pm, pad_value in zip(cnn.filters, prefix_max, pad_windows, strict=True):
                    start = max(0, t + shift - w + 1)  # windows at positions < start lie inside the prefix
                    stop = min(T - w + 1, max(reach, start))  # windows [start, stop) are computed
                    parts = [] if stop == start else [_window_outputs(x[:, start : stop + w - 1], weight).amax(dim=1)]
                    if stop < T - w + 1:
                        parts.append(pad_value.expand(chunk.shape[0], -1))
                    if start > 0:
                        parts.append(pm[of_y, start - 1])
                    raw.append(functools.reduce(torch.maximum, parts))
                probs[lo : lo + chunk.shape[0]] = probs_from_raw(discriminator, cnn, torch.cat(raw, 1))
            if pad is not None:
                probs = torch.empty_like(probs).index_copy_(0, order, probs)
            if seqs is None:
                out[t - 1] = probs.view(N, B)
            else:
                out[t - 1][:, seqs] = probs.view(N, L)
    return out


def kernel_table(discriminator: nn.Module, mode: str, table_mb: int, device: torch.device) -> cnn_table.Table | None:
    """This G step's look-up table for the compiled roll-out path, or None for the eager one: ``mode`` "eager",
    a device other than the CPU, a D other than the paper's CNN in fp32, numba missing ("numba" then refuses) or a
    table over ``table_mb`` MiB (:func:`seqgan.kernels.cnn_table.table_bytes`; logged once)."""
    if mode == "eager" or device.type != "cpu":
        return None
    if not isinstance(discriminator, Discriminator) or dtype_of(discriminator) != torch.float32:
        return None
    kernels.require(mode)
    if kernels.numba_version() is None:
        return None
    import numba

    from seqgan.kernels import cnn_table

    size = cnn_table.table_bytes(discriminator.embedding.num_embeddings, list(discriminator.filters))
    if size > table_mb * 2**20:
        if not _TOO_LARGE:
            LOG.warning(
                f"roll-out rewards on the eager path: D's look-up table would take {size / 2**20:,.0f} MiB, over "
                f"adversarial.kernel_table_mb {table_mb}"
            )
            _TOO_LARGE.append(size)
        return None
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    return cnn_table.Table(discriminator.embedding.weight, [c.weight for c in discriminator.convs])


_TOO_LARGE: list[int] = []  # the table-size warning is said once per process


def _score_with_table(
    d: Discriminator,
    table: cnn_table.Table,
    tokens: Tensor,
    completions: Tensor,
    dropout: bool,
    shift: int,
    dtype: torch.dtype | None,
    ended: Tensor | None,
    full: Tensor | None,
    pad: int | None,
) -> Tensor:
    """:func:`score_completions` with the filter banks as table look-ups (same arguments, same result to fp32
    rounding): the kernel gives the pooled maxima before bias and ReLU, the highway and output layer run here."""
    T1, N, B, T = completions.shape
    cnn = frozen_cnn(d, dtype or torch.float32)
    y, every = np.ascontiguousarray(tokens.numpy()), completions.numpy()
    prefix_max = table.prefix_max(y)
    pad_value = table.pad_windows(pad) if pad is not None else np.zeros(table.num_filters, np.float32)
    out = torch.empty(T1, N, B, dtype=cnn.bias.dtype)
    with eval_mode(d, training=dropout):
        for t in range(1, T1 + 1):
            live = np.arange(B) if ended is None else (~ended[:, t - 1]).nonzero().squeeze(1).numpy()
            if ended is not None:
                out[t - 1] = full
            if not len(live):
                continue
            block = np.ascontiguousarray(every[t - 1][:, live])  # (N, L, T)
            content = np.full(block.shape[:2], T, np.int64)
            if pad is not None:  # 1 + the last position that is not PAD
                content = T - np.argmax((block != pad)[..., ::-1], axis=-1)
            raw = table.pooled(y, block, live.astype(np.int64), t + shift, content, prefix_max, pad_value)
            probs = probs_from_raw(d, cnn, torch.from_numpy(raw).view(-1, table.num_filters))
            out[t - 1][:, torch.from_numpy(live)] = probs.view(N, len(live)).to(out.dtype)
    return out


def rollout_rewards(
    policy: SequenceGenerator,
    discriminator: Discriminator,
    tokens: Tensor,
    rollout_num: int,
    states: States | None = None,
    uniforms: Tensor | None = None,
    rng: torch.Generator | None = None,
    score_batch: int = 4096,
    dropout: bool = False,
    bf16: bool = False,
    labels: Tensor | None = None,
    kernels: str = "eager",
    table_mb: int = 2048,
) -> Tensor:
    """Q-values of Eq. 4 for every position: tokens (B, T) -> rewards (B, T).

    rewards[:, t-1] is the mean over N roll-outs of D(completion of Y_1:t) for t < T and
    rewards[:, T-1] = D(Y_1:T). D is scored in eval mode (no dropout) unless ``dropout``.
    ``bf16``: D's convolutions and highway product compute in bf16 (the sampling does not, so the completions are
    the same); the rewards come back in D's own dtype. ``labels`` (B,): the label each sequence was asked for (a
    conditional G and D); the roll-outs keep it and D judges every completion with it. ``kernels`` ("auto", "numba",
    "eager") and ``table_mb``: the compiled path where it runs (:func:`kernel_table`), the eager one elsewhere.
    """
    completions = rollout_completions(policy, tokens, rollout_num, states, uniforms, rng, labels)
    dtype = dtype_of(discriminator)
    compute = torch.bfloat16 if bf16 else None
    raw = tokens
    tokens, completions = (labelled(x, labels, policy.vocab_size) for x in (tokens, completions))
    # A prefix that already holds an EOS is completed by PAD alone: its N completions are Y, scored once (with D's
    # dropout on, each completion keeps its own draw of the dropout mask, so all are scored, and Y too).
    eos = policy.eos_token
    ended = None if eos is None or dropout else ended_prefixes(raw, eos)[:, :-1]
    last = None if ended is None else score(discriminator, tokens, dropout=dropout, dtype=compute)
    q = score_completions(
        discriminator,
        tokens,
        completions,
        score_batch,
        dropout,
        shift=int(labels is not None),
        dtype=compute,
        ended=ended,
        full=last,
        pad=None if eos is None else policy.pad_token,
        table=kernel_table(discriminator, kernels, table_mb, tokens.device),
    ).mean(dim=1)  # (T-1, B)
    if last is None:
        last = score(discriminator, tokens, dropout=dropout, dtype=compute)
    return torch.cat([q.to(dtype).T, last.to(dtype).unsqueeze(1)], dim=1)


def bleu_rollout_rewards(
    policy: SequenceGenerator,
    reference: BleuReference,
    tokens: Tensor,
    rollout_num: int,
    states: States | None = None,
    uniforms: Tensor | None = None,
    rng: torch.Generator | None = None,
    labels: Tensor | None = None,
) -> Tensor:
    """PG-BLEU (paper Table 1): Eq. 4 with BLEU against the training data in place of D.

    reference: the training sequences, indexed once (:class:`seqgan.eval.bleu.BleuReference`, one order).
    Sequences are cut at their first EOS before scoring. tokens (B, T) -> rewards (B, T).
    """
    B, T = tokens.shape
    completions = rollout_completions(policy, tokens, rollout_num, states, uniforms, rng, labels)
    rows = torch.cat([completions.reshape(-1, T), tokens])  # the full sequences last
    (order,) = reference.orders
    scores = reference.scores(strip_special(rows.cpu(), policy.eos_token))[order]
    scores = torch.tensor(scores, dtype=dtype_of(policy), device=tokens.device)
    q = scores[:-B].view(T - 1, rollout_num, B).mean(dim=1)  # (T-1, B)
    return torch.cat([q.T, scores[-B:].unsqueeze(1)], dim=1)


@torch.no_grad()
def naive_rollout_rewards(
    policy: SequenceGenerator,
    discriminator: Discriminator,
    tokens: Tensor,
    rollout_num: int,
    uniforms: Tensor | None = None,
    rng: torch.Generator | None = None,
    labels: Tensor | None = None,
) -> Tensor:
    """Reference: the authors' loop (rollout.py). For each roll-out n and prefix length t,
    re-encode the prefix from the start token, sample the rest step by step, score with D; the
    full sequence is scored once per roll-out as they do. With ``uniforms`` the draws use the
    same random numbers as :func:`rollout_rewards`; without, ``torch.multinomial`` as the
    authors' ``tf.multinomial``. Returns (B, T)."""
    B, T = tokens.shape
    rewards = torch.zeros(B, T, device=tokens.device, dtype=dtype_of(policy))
    with eval_mode(discriminator):
        for n in range(rollout_num):
            for t in range(1, T):
                seq = tokens.clone()
                state = policy.begin(B, labels)
                logits = policy.state_logits(state)
                for j in range(t):  # re-encode the prefix
                    logits, state = policy.step(tokens[:, j], state)
                done = (tokens[:, :t] == policy.eos_token).any(dim=1) if policy.eos_token is not None else None
                for i in range(t, T):
                    if uniforms is None:
                        nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=rng).squeeze(1)
                    else:
                        nxt = sample_from_logits(logits, uniforms[t - 1, n, :, i])
                    nxt, done = finish_after_eos(nxt, done, policy.eos_token, policy.pad_token)
                    seq[:, i] = nxt
                    if i < T - 1:
                        logits, state = policy.step(nxt, state)
                rewards[:, t - 1] += score(discriminator, labelled(seq, labels, policy.vocab_size))
            rewards[:, T - 1] += score(discriminator, labelled(tokens, labels, policy.vocab_size))
    return rewards / rollout_num


def shuffle_rewards(rewards: Tensor, mask: Tensor, rng: torch.Generator | None = None) -> Tensor:
    """The shuffled-reward control: at each position, permute Q across the sequences still running there.

    Each column keeps its values (mean, spread, scale), but a value no longer belongs to the sequence that
    earned it, so whatever D knows about that sequence is gone. Positions after a sequence's end keep their
    value (the loss ignores them). rewards (B, T), mask (B, T) bool -> (B, T).
    """
    B, _ = rewards.shape
    rows = torch.arange(B, device=rewards.device, dtype=rewards.dtype).unsqueeze(1) / B  # in [0, 1): ties broken
    keys = torch.rand(rewards.shape, generator=rng, device=rewards.device, dtype=rewards.dtype)
    # Per column, running rows come first: in random order (donors) and in row order (receivers); the rows
    # that have ended come after, in row order on both sides, so each keeps its own value.
    donors = torch.where(mask, keys, 2.0 + rows).argsort(dim=0)
    receivers = torch.where(mask, rows, 2.0 + rows).argsort(dim=0)
    return torch.empty_like(rewards).scatter_(0, receivers, rewards.gather(0, donors))


@torch.no_grad()
def update_delayed_policy(policy: torch.nn.Module, generator: torch.nn.Module, rate: float) -> None:
    """beta <- rate * beta + (1 - rate) * theta; the embedding is copied, as the authors'
    ``ROLLOUT.update_params`` intends (their TF graph never uses the result: see docs)."""
    for (name, b), theta in zip(policy.named_parameters(), generator.parameters(), strict=True):
        if name.startswith("embedding"):
            b.copy_(theta)
        else:
            b.mul_(rate).add_(theta, alpha=1.0 - rate)
