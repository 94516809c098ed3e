"""What every ``seqgan`` command shares: the parser that reports mistakes in one line, subcommands with an
example, result printing, output-file checks. A leaf: it imports nothing of the command modules."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any, NoReturn

from seqgan.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        err = UserError(f"{message} (see `{self.prog} --help`)")
        err.mirrored = True  # type: ignore[attr-defined]  # the same command line on every rank: rank 0 reports
        raise err


def subcommand(subparsers: argparse._SubParsersAction, name: str, help: str, example: str) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` ends with a worked example."""
    return subparsers.add_parser(
        name,
        help=help,
        description=help,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _json_safe(value: Any) -> Any:
    """NaN and infinities are not JSON: they print as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def emit(result: dict[str, Any], as_json: bool) -> None:
    """Print a command's result: one JSON object on one line, or ``key: value`` lines."""
    if as_json:
        print(json.dumps(_json_safe(result), allow_nan=False))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


def output_file(path: str, force: bool = False, flag: str = "--out") -> Path:
    """A file about to be written: its folder must exist; an existing file is replaced only with ``force``, never if
    it is not a regular file, and never if it is one of a run directory's own files (config.json, data.pt, a
    checkpoint, ...), of an exported model or of a prepared data directory, whose loss would break every command
    on that folder."""
    from seqgan.data.prepared import prepared_file_of
    from seqgan.train.portable import export_file_of
    from seqgan.train.rundir import run_file_of

    out = Path(path)
    if out.is_dir():
        raise UserError(f"{flag} {path} is a directory: give a file name")
    if not out.parent.is_dir():
        raise UserError(f"the folder of {flag} {path} does not exist: create it first")
    if (run := run_file_of(out)) is not None:
        raise UserError(
            f"{flag} {path} is one of the files of the run {run}: writing it would break the run; choose another file"
        )
    for owner, kind in ((export_file_of(out), "exported model"), (prepared_file_of(out), "prepared data")):
        if owner is not None:
            raise UserError(
                f"{flag} {path} is one of the files of the {kind} {owner}: writing it would break it; choose "
                "another file"
            )
    if os.path.lexists(out):
        if not out.is_file():
            raise UserError(f"{flag} {path} exists and is not a regular file: choose another file")
        if not force:
            raise UserError(f"{flag} {path} already exists: pass --force to replace it, or choose another file")
    return out


def seed_type(text: str) -> int:
    """argparse type of every --seed: an integer in 0..2^63 - 1 (what torch and numpy accept)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: give an integer") from None
    if not 0 <= value <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"seed {value} is outside 0..2^63 - 1")
    return value


def check_text_arguments(args: argparse.Namespace) -> None:
    """Refuse an argument (a file name, most often) that is not valid UTF-8: such names cannot be printed or written
    to JSON, and would fail only after work was done."""
    for name, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and any("\udc80" <= ch <= "\udcff" for ch in item):
                shown = item.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                raise UserError(
                    f"--{name.replace('_', '-')} {shown!r} is not valid UTF-8 (a file name with "
                    "undecodable bytes): rename the file or pass another path"
                )


def add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="replace the output if it exists (never a run's own file)")


def add_json(p: argparse.ArgumentParser, what: str = "the result") -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as one JSON object")
