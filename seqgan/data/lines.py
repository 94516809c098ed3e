"""The one reader of UTF-8 text files that users give: corpora, reference files, samples, judges' sheets."""

from __future__ import annotations

from pathlib import Path

from seqgan.errors import UserError

TEXT_HINT = "give a UTF-8 text file, one sequence per line"


def read_lines(path: Path) -> tuple[list[str], bytes]:
    """The file's lines without ``\\n`` / ``\\r\\n``, and its bytes; every unreadable file is a UserError."""
    if not path.is_file():
        raise UserError(f"input {path} {'is a directory' if path.is_dir() else 'does not exist'}: {TEXT_HINT}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read input file {path} ({e.strerror}): {TEXT_HINT}") from None
    if not data or b"\0" in data[:8192]:
        raise UserError(f"input file {path} is {'binary (NUL bytes)' if data else 'empty'}: {TEXT_HINT}")
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data  # a byte-order mark is encoding, not content
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        line = body.count(b"\n", 0, e.start) + 1
        raise UserError(f"{path} line {line} is not UTF-8 (byte 0x{body[e.start]:02x}): convert the file, e.g. "
                        f"`iconv -f <enc> -t utf-8 {path} > {path.name}.utf8`") from None  # fmt: skip
    lines = text.split("\n")  # not splitlines(): \x0c, \x1c, \u2028 ... stay inside a line
    return [ln.removesuffix("\r") for ln in (lines[:-1] if lines[-1] == "" else lines)], data
