"""The ``seqgan`` command: argument parsing only; every algorithm lives in the library.

One module per command group (``train``, ``prepare``, ``oracle``, ``generate``, ``tools``, ``verdict``), each with a
``register`` function; ``common`` holds what they share. User errors (bad flags, missing or malformed files) print
one line ``error: ...`` on stderr and exit with code 2, without a traceback. ``--json`` results are one JSON object
on the last line of stdout.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
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


def _rank() -> int:
    """This process's rank as the launcher set it: 0 in a single process, or where RANK or WORLD_SIZE is not a
    number (errors are still shown)."""
    try:
        return int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0
    except ValueError:
        return 0


def _stop_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (kill, a scheduler's stop) ends a command like Ctrl-C: files being written are removed, not left
    half-written beside their target (training installs its own handler, which finishes the epoch first)."""
    raise KeyboardInterrupt


def _report(kind: str, message: str, err: BaseException) -> None:
    """Print ``kind: message`` on stderr. Under torchrun an error that every rank raises alike (marked
    ``mirrored``) is printed by rank 0 only; other errors carry the rank that raised them."""
    rank = _rank()
    if rank != 0 and getattr(err, "mirrored", False):
        return
    sys.stdout.flush()
    # Undecodable bytes of a file name, and control characters of a user's file, must not reach the terminal raw.
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    message = "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in message)
    print(f"{kind}: [rank {rank}] {message}" if rank else f"{kind}: {message}", file=sys.stderr)


def os_error_message(e: OSError) -> str:
    """One line that says what is really wrong with a file the command could not read or write, and the fix."""
    where = f" {e.filename}" if e.filename else ""
    fixes = {
        errno.ENOSPC: "the disk is full: free disk space, then run again (a run continues with --resume)",
        errno.EDQUOT: "the disk quota is used up: free space, then run again (a run continues with --resume)",
        errno.EROFS: "the file system is read-only: choose a location on a writable disk",
        errno.EACCES: "permission denied: choose a folder you may write to, or change its permissions",
        errno.EPERM: "permission denied: choose a folder you may write to, or change its permissions",
        errno.ENOTDIR: "a part of the path is a file where a folder is needed: give a folder there",
        errno.EISDIR: "it is a folder where a file is needed: give a file name",
        errno.EEXIST: "a file is in the way where a folder is needed: move it or choose another path",
        errno.ELOOP: "it is a loop of symbolic links: give a real path",
    }
    if e.errno == errno.ENOENT and e.filename and os.path.islink(e.filename):
        return f"cannot use{where}: it is a symbolic link to a missing target; fix the link or give another path"
    fix = fixes.get(e.errno or 0)
    if fix is None:
        return f"cannot read or write{where or ' a file'}: {e.strerror or e}; check the path and run again"
    return f"cannot read or write{where or ' a file'} ({e.strerror or e}): {fix}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if _main_thread() else None
    try:
        keep_freed_memory()  # a library import leaves the allocator alone; the command line owns its process
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
        _report("error", os_error_message(e), e)
        return 2
    except (Interrupted, KeyboardInterrupt) as e:
        if str(e):
            _report("interrupted", str(e), e)
        elif _rank() == 0:
            print("interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
