"""Files written so that a crash never leaves half of one: atomic writes, their directory's fsync, JSON."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from seqgan.errors import UserError


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one."""
    with atomic_writer(path) as f:
        f.write(data)


def write_json(path: str | Path, obj: Any) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through, piece by piece: it appears complete when the block ends, and not at
    all (the old file kept) if the block raises."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(path.parent)


def read_json(path: Path, what: str, hint: str) -> Any:
    """The JSON value of ``path``; a missing, unreadable or malformed file is a UserError naming ``what`` and the
    fix ``hint``."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist: {hint}") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{what} {path} is damaged ({type(e).__name__}): {hint}") from None
