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
from pathlib import Path
from typing import Any

import torch

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
    torch.save({"format_version": FORMAT_VERSION, "sha256": hashlib.sha256(data).hexdigest(),
                "payload": torch.frombuffer(bytearray(data), dtype=torch.uint8)}, outer)  # fmt: skip
    last, prev = ckpt_dir / "last.pt", ckpt_dir / "prev.pt"
    tmp = ckpt_dir / ".next.pt"
    write_atomic(tmp, outer.getvalue())
    if last.exists():
        os.replace(last, prev)
    os.replace(tmp, last)
    return last


def load_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {path} does not exist: give a run directory written by `seqgan train`") from None
    except Exception as e:  # noqa: BLE001 - any damage to the file is the same user-facing problem
        raise UserError(f"checkpoint {path} is damaged or not a seqgan checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format_version") != FORMAT_VERSION:
        raise UserError(f"checkpoint {path} is not a seqgan checkpoint of format {FORMAT_VERSION}")
    data = ckpt["payload"].numpy().tobytes()
    if hashlib.sha256(data).hexdigest() != ckpt["sha256"]:
        raise UserError(f"checkpoint {path} is damaged (checksum mismatch)")
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def latest_checkpoint(ckpt_dir: str | Path) -> dict[str, Any] | None:
    """The newest loadable checkpoint in ``ckpt_dir`` (last.pt, else prev.pt), or None if none exists."""
    ckpt_dir = Path(ckpt_dir)
    candidates = [p for p in (ckpt_dir / "last.pt", ckpt_dir / "prev.pt") if p.exists()]
    errors = []
    for path in candidates:
        try:
            ckpt = load_file(path)
        except UserError as e:
            errors.append(str(e))
            continue
        if errors:
            log.warning("%s; using the previous checkpoint %s", errors[0], path)
        return ckpt
    if errors:
        raise UserError("; ".join(errors))
    return None
