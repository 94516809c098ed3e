"""Complete, atomic checkpoints: everything needed to continue a run bit for bit.

``checkpoints/last.pt`` is the newest; the one before it is kept as ``prev.pt`` so that a
crash between the two renames (or a damaged newest file) still leaves a good checkpoint.
Loading uses ``torch.load(weights_only=True)``: a checkpoint holds only tensors and plain
Python values, never pickled code. The state is stored as serialized bytes with their SHA-256, so
damage anywhere in the file (not only a truncation) is detected before the state is used.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from seqgan.data.lines import check_regular_file
from seqgan.errors import UserError
from seqgan.files import write_atomic

FORMAT_VERSION = 2
log = logging.getLogger("seqgan")


def save_checkpoint(ckpt_dir: str | Path, payload: dict[str, Any]) -> Path:
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    inner = io.BytesIO()
    torch.save(payload, inner)
    data = inner.getvalue()
    outer = io.BytesIO()
    torch.save(
        {
            "format_version": FORMAT_VERSION,
            "sha256": hashlib.sha256(data).hexdigest(),
            "payload": torch.frombuffer(bytearray(data), dtype=torch.uint8),
        },
        outer,
    )
    last, prev = ckpt_dir / "last.pt", ckpt_dir / "prev.pt"
    tmp = ckpt_dir / ".next.pt"
    write_atomic(tmp, outer.getvalue())
    if last.exists():
        os.replace(last, prev)
    os.replace(tmp, last)
    return last


# What every checkpoint holds (a file without one of them is damaged, whatever its checksum says).
PAYLOAD_KEYS = (
    "config",
    "state",
    "generator",
    "discriminator",
    "rollout_policy",
    "g_mle_opt",
    "g_pg_opt",
    "d_opt",
    "rng",
)
STATE_KEYS = ("phase", "epoch", "metrics_bytes")


def load_file(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents, checked: the file is a regular file, its outer record and checksum are intact, and
    the state holds every part. Any damage is a UserError (so :func:`latest_checkpoint` can fall back)."""
    path = Path(path)
    check_regular_file(path, "checkpoint", "give a run directory written by `seqgan train` or one of its checkpoints")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any damage to the file is the same user-facing problem
        raise UserError(f"checkpoint {path} is damaged or not a seqgan checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format_version") != FORMAT_VERSION:
        raise UserError(f"checkpoint {path} is not a seqgan checkpoint of format {FORMAT_VERSION}")
    payload, digest = ckpt.get("payload"), ckpt.get("sha256")
    if not isinstance(payload, torch.Tensor) or payload.dtype != torch.uint8 or not isinstance(digest, str):
        raise UserError(f"checkpoint {path} is damaged (its outer record lacks the payload or the checksum)")
    data = payload.numpy().tobytes()
    if hashlib.sha256(data).hexdigest() != digest:
        raise UserError(f"checkpoint {path} is damaged (checksum mismatch)")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a payload that matches its checksum but does not load
        raise UserError(f"checkpoint {path} is damaged (its state does not load: {type(e).__name__})") from None
    missing = [k for k in PAYLOAD_KEYS if not isinstance(state, dict) or k not in state]
    missing += [
        f"state.{k}"
        for k in STATE_KEYS
        if not missing and (not isinstance(state["state"], dict) or k not in state["state"])
    ]
    if missing:
        raise UserError(f"checkpoint {path} is damaged (it lacks {missing[0]})")
    return state


def latest_checkpoint(
    ckpt_dir: str | Path, check: Callable[[dict[str, Any], Path], None] | None = None, hint: str = ""
) -> dict[str, Any] | None:
    """The newest good checkpoint in ``ckpt_dir``: last.pt, else prev.pt (with a warning), or None if neither
    exists. ``check(ckpt, path)`` may refuse one that loads (a UserError), which is then passed over like a damaged
    file; when every one present is refused, a UserError gives each reason and ``hint``."""
    ckpt_dir = Path(ckpt_dir)
    errors = []
    for path in (ckpt_dir / "last.pt", ckpt_dir / "prev.pt"):
        if not os.path.lexists(path):
            continue
        try:
            ckpt = load_file(path)
            if check is not None:
                check(ckpt, path)
        except UserError as e:
            errors.append(str(e))
            continue
        if errors:
            log.warning("%s; using the previous checkpoint %s", errors[0], path)
        return ckpt
    if errors:
        raise UserError("; ".join(errors) + hint)
    return None
