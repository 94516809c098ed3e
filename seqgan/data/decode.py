"""Token ids -> what a person reads: id lists cut at EOS, and text through the run's vocabulary (or ids)."""

from __future__ import annotations

from torch import Tensor

from seqgan.data.vocab import Vocab


def strip_special(tokens: Tensor, eos_token: int | None) -> list[list[int]]:
    """Sequences as lists of real token ids: cut at the first EOS (EOS itself left out)."""
    rows = tokens.tolist()
    if eos_token is None:
        return rows
    return [row[: row.index(eos_token)] if eos_token in row else row for row in rows]


def render_rows(rows: Tensor | list[list[int]], vocab: Vocab | None, tokens: bool = False) -> list[str]:
    """One line of text per sequence: written text through the run's vocabulary (punct tokens spaced as text is
    written, subword pieces decoded), its tokens apart with ``tokens`` (``seqgan sample --tokens``), or
    space-separated ids (oracle task)."""
    rows = rows.tolist() if isinstance(rows, Tensor) else rows
    if vocab is not None:
        return [vocab.decode(r) if tokens else vocab.text(r) for r in rows]
    return [" ".join(map(str, r)) for r in rows]
