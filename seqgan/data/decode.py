"""Token ids -> what a person reads: id lists cut at EOS, and text through the run's vocabulary (or ids)."""

from __future__ import annotations

from torch import Tensor


def strip_special(tokens: Tensor, eos_token: int | None) -> list[list[int]]:
    """Sequences as lists of real token ids: cut at the first EOS (EOS itself left out)."""
    rows = tokens.tolist()
    if eos_token is None:
        return rows
    return [row[: row.index(eos_token)] if eos_token in row else row for row in rows]
