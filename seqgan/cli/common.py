"""What every ``seqgan`` command shares: the parser that reports mistakes in one line, subcommands with an
example, result printing, output-file checks. A leaf: it imports nothing of the command modules."""

from __future__ import annotations

import argparse
import json
import math
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
    return subparsers.add_parser(name, help=help, description=help, epilog=f"example:\n  {example}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip


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


def output_file(path: str) -> Path:
    """A file to write: its folder must exist and it must not be a directory."""
    out = Path(path)
    if out.is_dir():
        raise UserError(f"--out {path} is a directory: give a file name")
    if not out.parent.exists():
        raise UserError(f"the folder of --out {path} does not exist: create it first")
    return out


def add_json(p: argparse.ArgumentParser, what: str = "the result") -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as one JSON object")
