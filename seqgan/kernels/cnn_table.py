"""The paper CNN's filter banks as table look-ups over the roll-out completions (numba).

A window of bank k (width w, n filters) at position p has, before bias and ReLU, the pre-activation

    a[p, f] = sum_j sum_e emb[y_(p+j), e] W_k[f, e, j] = sum_j table_k[y_(p+j), j n + f]

with ``table_k = emb @ W_k`` laid out once per G step (D does not change during it): a (V, E) x (E, w n) product
per bank, S = sum_k w_k n_k columns in all. A window then costs w row additions of n floats instead of w E n
multiply-adds. The banks' tables lie one after the other and the kernel works bank by bank, so the table it reads
at a time is one bank's (2 to 61 MiB for the paper D at V = 5,000), not all of them.

For the N completions of the prefix Y_1:P (P = t, plus a conditional D's label column), the kernel

- takes the maximum over the windows that lie inside the prefix from Y's running maximum (once per sequence),
- adds the part inside the prefix of each window that straddles the prefix end once per prefix, not per completion,
- adds the rest per completion, in fp32, with the running maximum fused in (no window is written out),
- stops a completion at its content: windows of PAD alone all have one value per bank, added once.

Max-pooling commutes with the per-filter bias and ReLU (both monotone), so the caller applies them after the maximum
as the eager path (:func:`seqgan.train.rollout.score_completions`) does. The sums run in another order than the
convolution's, so the results agree with the eager path to fp32 rounding, not bit for bit.

Memory: the table holds V x S fp32 values (the paper D: S = 12,500, so 238 MiB at V = 5,000 and 954 MiB at
V = 20,000); :func:`table_bytes` says it before anything is built, so the caller can fall back to the eager path.
"""

from __future__ import annotations

import os

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

if "NUMBA_THREADING_LAYER" not in os.environ:
    # numba's OpenMP layer shares the OpenMP runtime with torch and its start-up resets torch's thread count (a run
    # with 1 thread went on with 2, other sums); the workqueue layer has its own threads.
    numba.config.THREADING_LAYER = "workqueue"


def table_bytes(vocab: int, filters: list[tuple[int, int]]) -> int:
    """Bytes of the look-up tables for ``vocab`` rows (label tokens included) and banks (width, count)."""
    return 4 * vocab * sum(w * n for w, n in filters)


class Table:
    """One G step's look-up tables and the banks' layout. ``weights``: each bank's Conv1d weight (n, E, w)."""

    def __init__(self, embedding: Tensor, weights: list[Tensor]) -> None:
        emb = embedding.detach().float()
        # bank k's table (V, w * n), column j * n + f, flattened one after another
        parts = [(emb @ w.detach().float().permute(1, 2, 0).flatten(1)).reshape(-1) for w in weights]
        self.table = torch.cat(parts).numpy()
        self.widths = np.array([w.shape[2] for w in weights], dtype=np.int64)
        self.counts = np.array([w.shape[0] for w in weights], dtype=np.int64)
        self.bases = np.concatenate([[0], np.cumsum([p.numel() for p in parts])[:-1]]).astype(np.int64)
        self.columns = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)  # bank k's first filter
        self.num_filters = int(self.counts.sum())

    def banks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.widths, self.counts, self.bases, self.columns

    def prefix_max(self, tokens: np.ndarray) -> np.ndarray:
        """Y's running maximum over windows: tokens (B, T) -> (B, T, F), [b, p] the max over windows at <= p."""
        out = np.empty((tokens.shape[0], tokens.shape[1], self.num_filters), dtype=np.float32)
        _prefix_max(self.table, *self.banks(), tokens, out)
        return out

    def pad_windows(self, pad: int) -> np.ndarray:
        """Every bank's value on a window of PAD alone, (F,)."""
        out = np.zeros(self.num_filters, dtype=np.float32)
        for w, n, base, c in zip(*self.banks(), strict=True):
            row = base + pad * w * n
            for j in range(w):
                out[c : c + n] += self.table[row + j * n : row + (j + 1) * n]
        return out

    def pooled(
        self,
        tokens: np.ndarray,
        block: np.ndarray,
        live: np.ndarray,
        shared: int,
        content: np.ndarray,
        prefix_max: np.ndarray,
        pad_value: np.ndarray,
    ) -> np.ndarray:
        """Max-over-time of every filter before bias and ReLU for the completions of one prefix length.

        tokens (B, T) Y; block (N, L, T) the completions of the L sequences ``live`` (L,) of Y, which share their
        first ``shared`` positions with Y; content (N, L) 1 + each completion's last position that is not PAD
        (T: no PAD shortcut); prefix_max from :meth:`prefix_max`; pad_value from :meth:`pad_windows` -> (N, L, F).
        """
        out = np.empty((block.shape[0], block.shape[1], self.num_filters), dtype=np.float32)
        _pooled(self.table, *self.banks(), tokens, block, live, shared, content, prefix_max, pad_value, out)
        return out


@numba.njit(cache=True, parallel=True)
def _prefix_max(table, widths, counts, bases, columns, tokens, out):  # pragma: no cover - compiled
    B, T = tokens.shape
    for k in range(widths.shape[0]):
        w, n, base, c = widths[k], counts[k], bases[k], columns[k]
        for b in prange(B):
            acc = np.empty(n, dtype=np.float32)
            for p in range(T):
                if p <= T - w:
                    acc[:] = 0.0
                    for j in range(w):
                        row = base + tokens[b, p + j] * w * n + j * n
                        r = table[row : row + n]  # a view: no index checks, so the loop vectorises
                        for f in range(n):
                            acc[f] += r[f]
                    here = out[b, p, c : c + n]
                    if p == 0:
                        here[:] = acc
                    else:
                        before = out[b, p - 1, c : c + n]
                        for f in range(n):
                            here[f] = max(before[f], acc[f])
                else:  # no window starts here: the maximum so far
                    out[b, p, c : c + n] = out[b, p - 1, c : c + n]


@numba.njit(cache=True, parallel=True)
def _pooled(
    table, widths, counts, bases, columns, tokens, block, live, shared, content, prefix_max, pad_value, out
):  # pragma: no cover - compiled
    N, L, T = block.shape
    P = shared
    for k in range(widths.shape[0]):  # bank by bank: one bank's table is read at a time
        w, n, base, c = widths[k], counts[k], bases[k], columns[k]
        windows = T - w + 1
        start = max(0, P - w + 1)  # windows at positions < start lie inside the prefix
        straddle = max(0, min(P, windows) - start)  # windows [start, start + straddle) begin inside it
        for li in prange(L):
            b = live[li]
            part = np.zeros((max(straddle, 1), n), dtype=np.float32)  # their sums over the prefix, once
            acc = np.empty(n, dtype=np.float32)
            best = np.empty(n, dtype=np.float32)
            for s in range(straddle):
                p = start + s
                into = part[s]
                for j in range(P - p):
                    row = base + tokens[b, p + j] * w * n + j * n
                    r = table[row : row + n]
                    for f in range(n):
                        into[f] += r[f]
            for m in range(N):
                if start > 0:
                    best[:] = prefix_max[b, start - 1, c : c + n]
                else:
                    best[:] = -np.inf
                stop = min(windows, max(content[m, li], start))  # windows from here on hold PAD alone
                for p in range(start, stop):
                    if p < start + straddle:
                        acc[:] = part[p - start]
                        first = P - p
                    else:
                        acc[:] = 0.0
                        first = 0
                    for j in range(first, w):
                        row = base + block[m, li, p + j] * w * n + j * n
                        r = table[row : row + n]
                        for f in range(n):
                            acc[f] += r[f]
                    for f in range(n):
                        best[f] = max(best[f], acc[f])
                if stop < windows:
                    pv = pad_value[c : c + n]
                    for f in range(n):
                        best[f] = max(best[f], pv[f])
                out[m, li, c : c + n] = best
