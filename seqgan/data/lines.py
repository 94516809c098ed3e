"""The one reader of the UTF-8 text files users give: corpora, reference and hypothesis files, samples, id lines.

Rules, the same for every command: the file must be a regular file (a FIFO or a device is refused rather than
waited on); a UTF-8 byte-order mark is dropped; a NUL byte anywhere means a binary or UTF-16 file and is refused;
bytes that are not UTF-8 are refused with their line number; a line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r``
(the line end of classic Mac OS files, counted by :func:`lone_cr_count`), so form feeds, ``\\x1c`` or ``\\u2028``
stay inside a line; the line end after the last line is optional.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from seqgan.env import available_memory
from seqgan.errors import UserError

TEXT_HINT = "give a UTF-8 text file, one sequence per line"
# Bytes of memory per byte of a text file once read as Python lines, tokens and n-gram counts (measured order of
# magnitude: a 10 MB corpus takes a few hundred MB as token lists).
MEMORY_PER_BYTE = 40


def check_regular_file(path: Path, what: str, hint: str) -> None:
    """Refuse, in one line, a path that is missing, a directory, or not a regular file (FIFO, socket, device)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist: {hint}") from None
    except OSError as e:
        raise UserError(f"cannot read {what} {path} ({e.strerror}): {hint}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{what} {path} is a directory: {hint}")
    if not stat.S_ISREG(mode):
        raise UserError(f"{what} {path} is not a regular file (a FIFO, socket or device): {hint}")


def read_text(path: str | Path, what: str = "input file", hint: str = TEXT_HINT) -> tuple[list[str], bytes]:
    """The lines of a UTF-8 text file (without their line ends: ``\\n``, ``\\r\\n`` or a lone ``\\r``) and its raw
    bytes (for a checksum).

    Every file that cannot be read as text is a UserError that names ``what``, the file, the problem and ``hint``.
    """
    path = Path(path)
    check_regular_file(path, what, hint)
    size, available = path.stat().st_size, available_memory()
    if available is not None and size * MEMORY_PER_BYTE > available:
        raise UserError(
            f"{what} {path} is {size / 2**30:.1f} GiB: reading it (as lines, tokens and n-grams) needs "
            f"about {size * MEMORY_PER_BYTE / 2**30:.0f} GiB, but {available / 2**30:.1f} GiB are "
            "available: give a smaller file"
        )
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read {what} {path} ({e.strerror}): {hint}") from None
    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw  # a byte-order mark is encoding, not content
    if (nul := body.find(b"\0")) >= 0:
        line = body.count(b"\n", 0, nul) + 1
        raise UserError(
            f"{what} {path} line {line} holds a NUL byte: it is binary or UTF-16, not UTF-8 text; convert it ({hint})"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        line = body.count(b"\n", 0, e.start) + 1
        raise UserError(
            f"{what} {path} line {line} is not UTF-8 (byte 0x{body[e.start]:02x}): convert the file, e.g. "
            f"`iconv -f <enc> -t utf-8 {path} > {path.name}.utf8`"
        ) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")  # not splitlines(): \x0c, \x1c, \u2028 ... stay inside a line
    if lines[-1] == "":
        lines.pop()
    return lines, raw


def lone_cr_count(raw: bytes) -> int:
    """How many line ends of a file's bytes are a lone ``\\r`` (not followed by ``\\n``): :func:`read_text` ends
    a line there; `seqgan prepare` reports the count (a file of only such line ends is one long line to many tools)."""
    return raw.count(b"\r") - raw.count(b"\r\n")


def read_token_lines(path: str | Path, what: str, hint: str) -> tuple[list[list[str]], int]:
    """Whitespace-split tokens of every non-blank line, and the number of blank lines skipped."""
    lines, _ = read_text(path, what, hint)
    rows = [line.split() for line in lines]
    return [r for r in rows if r], sum(not r for r in rows)


def read_id_lines(path: str | Path, vocab_size: int, what: str = "input file") -> list[list[int]]:
    """Lines of space-separated integer ids, all of one length, each in [0, vocab_size); blank lines skipped."""
    hint = "give one sequence of space-separated ids per line"
    rows: list[list[int]] = []
    for n, line in enumerate(read_text(path, what, hint)[0], 1):
        if not line.strip():
            continue
        try:
            row = [int(tok) for tok in line.split()]
        except ValueError:
            raise UserError(f"{path} line {n}: not integer ids ({line[:40]!r}); {hint}") from None
        if bad := [i for i in row if not 0 <= i < vocab_size]:
            raise UserError(f"{path} line {n}: id {bad[0]} is outside the vocabulary 0..{vocab_size - 1}")
        if rows and len(row) != len(rows[0]):
            raise UserError(
                f"{path} line {n}: {len(row)} ids but the first line has {len(rows[0])}; give lines of one length"
            )
        rows.append(row)
    if not rows:
        raise UserError(f"{path} holds no sequences: {hint}")
    return rows
