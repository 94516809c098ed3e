"""The ``seqgan`` command: argument parsing only; every algorithm lives in the library.

One module per command group (``train``, ``prepare``, ``oracle``, ``generate``, ``tools``, ``verdict``), each with a
``register`` function; ``common`` holds what they share. User errors (bad flags, missing or malformed files) print
one line ``error: ...`` on stderr and exit with code 2, without a traceback. ``--json`` results are one JSON object
on the last line of stdout.
"""

from __future__ import annotations

import argparse
import os
import sys

from seqgan.cli import generate, oracle, prepare, tools, train, verdict
from seqgan.cli.common import Parser, check_text_arguments
from seqgan.env import keep_freed_memory
from seqgan.errors import Interrupted, TrainingError, UserError


def build_parser() -> argparse.ArgumentParser:
    from seqgan.version import __version__

    parser = Parser(prog="seqgan", description="SeqGAN (Yu et al., AAAI 2017): train, sample, evaluate.")
    parser.add_argument("--version", action="version", version=f"seqgan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for group in (train, prepare, oracle, generate, tools, verdict):
        group.register(sub)
    return parser


def _report(kind: str, message: str, err: BaseException) -> None:
    """Print ``kind: message`` on stderr. Under torchrun an error that every rank raises alike (marked
    ``mirrored``) is printed by rank 0 only; other errors carry the rank that raised them."""
    rank = int(os.environ.get("RANK", "0"))
    if rank != 0 and getattr(err, "mirrored", False):
        return
    sys.stdout.flush()
    # Undecodable bytes of a file name, and control characters of a user's file, must not reach the terminal raw.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    message = "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in message)
    print(f"{kind}: [rank {rank}] {message}" if rank else f"{kind}: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    keep_freed_memory()  # a library import leaves the allocator alone; the command line owns its process
    try:
        args = parser.parse_args(argv)
        check_text_arguments(args)
        args.command_line = list(sys.argv[1:] if argv is None else argv)  # what a command records of itself
        args.func(args)
    except UserError as e:
        _report("error", str(e), e)
        return 2
    except TrainingError as e:
        _report("error", str(e), e)
        return 1
    except OSError as e:  # a full or read-only disk, a vanished folder: name it instead of a traceback
        where = f" ({e.filename})" if e.filename else ""
        _report(
            "error",
            f"cannot read or write a file{where}: {e.strerror or e}; free disk space or choose a writable "
            "location, then run again (a run continues with --resume)",
            e,
        )
        return 2
    except (Interrupted, KeyboardInterrupt) as e:
        if str(e):
            _report("interrupted", str(e), e)
        elif int(os.environ.get("RANK", "0")) == 0:
            print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
