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


def temporary_sibling(path: Path) -> Path:
    """The name ``path`` is written under before it is renamed into place (``.NAME.tmp-PID``). Those left behind
    by a process that was killed (SIGKILL cannot be caught) are removed here first, so they never pile up."""
    prefix = f".{path.name}.tmp-"
    try:
        leftovers = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        leftovers = []
    for old in leftovers:
        pid = old.name[len(prefix) :]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)) and old.is_file():
            with contextlib.suppress(OSError):
                old.unlink()
    return path.with_name(f"{prefix}{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or a number the OS cannot check: leave its file alone
    return True


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through, piece by piece: it appears complete when the block ends, and not at
    all (the old file kept) if the block raises."""
    path = Path(path)
    tmp = temporary_sibling(path)
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


def parse_json(text: str) -> Any:
    """``json.loads`` whose every failure is a ValueError: a value nested too deeply for the parser (thousands of
    ``[``) raises RecursionError there, which no caller expecting a malformed file would catch."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_json(path: Path, what: str, hint: str, kind: type | None = None) -> Any:
    """The JSON value of ``path`` (of type ``kind`` when given: dict for an object); a missing, unreadable,
    malformed or too deeply nested file, or a value of another type, is a UserError naming ``what``, the file and
    the fix ``hint``."""
    try:
        value = parse_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist: {hint}") from None
    except (OSError, ValueError) as e:
        why = str(e) if str(e) == "nested too deeply" else type(e).__name__
        raise UserError(f"{what} {path} is damaged ({why}): {hint}") from None
    if kind is not None and not isinstance(value, kind):
        shown = "an object" if kind is dict else kind.__name__
        raise UserError(f"{what} {path} is damaged (not {shown}): {hint}")
    return value
