"""The ``seqgan turing-test build`` and ``seqgan turing-test score`` subcommands (registered by ``add_parsers``).

Argument parsing only; the sheet, the key and the statistics live in :mod:`seqgan.turing`.
"""

from __future__ import annotations

import argparse
import json
import sys

from seqgan.errors import UserError

SYSTEM_HELP = ("LABEL=SOURCE (repeat, at least 2): SOURCE is a run directory (fresh samples of its generator), "
               "RUN_DIR:test (rows of the run's test set, decoded like its samples) or a text file with one "
               "sample per line (e.g. the real test set)")  # fmt: skip


def _system(value: str) -> tuple[str, str]:
    label, sep, source = value.partition("=")
    if not sep or not label.strip() or not source.strip():
        raise UserError(f"--system {value!r} is not LABEL=SOURCE: give e.g. --system real=data/test.txt "
                        "--system seqgan=runs/poems")  # fmt: skip
    return label.strip(), source.strip()


def cmd_build(args: argparse.Namespace) -> None:
    from seqgan.cli import _emit
    from seqgan.tools.turing import build

    systems = [_system(v) for v in args.system or []]
    result = build(systems, args.per_system, args.seed, args.out, checkpoint=args.checkpoint)
    if args.json:
        _emit(result, True)
        return
    systems = ", ".join(result["systems"])
    sys.stdout.write(f"wrote {result['items']} items ({result['per_system']} of each of {systems}) "
                     f"to {result['out_dir']}\n"
                     f"give the judges only: {' and '.join(result['for_judges'])}\n"
                     f"keep secret: {' and '.join(result['keep_secret'])}\n")  # fmt: skip


def cmd_score(args: argparse.Namespace) -> None:
    from seqgan.tools.turing import format_report, score

    result = score(args.key, args.sheets, real=args.real, allow_blank=args.allow_blank)
    sys.stdout.write(json.dumps(result) + "\n" if args.json else format_report(result))


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``turing-test`` (with ``build`` and ``score``) on the ``seqgan`` subparsers ``sub``."""
    from seqgan.cli import _Parser, _sub

    p = _sub(sub, "turing-test", "human evaluation (the paper's Turing test, Table 2): a blind sheet of real and "
             "generated samples, and the human score of filled sheets",
             "seqgan turing-test build --system real=data/test.txt --system seqgan=runs/poems --system "
             "mle=runs/poems-mle --per-system 20 --seed 0 --out turing\n"
             "  seqgan turing-test score --key turing/key.csv judge1.csv judge2.csv --real real")  # fmt: skip
    tsub = p.add_subparsers(dest="turing_command", metavar="ACTION", parser_class=_Parser)
    tsub.required = True

    q = _sub(tsub, "build", "write a blind sheet (sheet.html to read, sheet.csv to fill) mixing samples of "
             "several systems, and its answer key (key.csv, key.json) separately",
             "seqgan turing-test build --system real=data/test.txt --system seqgan=runs/poems --system "
             "mle=runs/poems-mle --per-system 20 --seed 0 --out turing\n"
             "  seqgan turing-test build --system real=runs/poems:test --system seqgan=runs/poems "
             "--out turing")  # fmt: skip
    q.add_argument("--system", action="append", metavar="LABEL=SOURCE", help=SYSTEM_HELP)
    q.add_argument("--checkpoint", default="last", choices=["last", "best", "prev"],
                   help="checkpoint the runs are sampled from (default last)")  # fmt: skip
    q.add_argument("--per-system", type=int, default=20, help="items per system (default 20, as in the paper)")
    q.add_argument("--seed", type=int, default=0, help="seed of every draw and the shuffle (default 0); same "
                   "arguments, same sheet")  # fmt: skip
    q.add_argument("--out", required=True, metavar="DIR", help="new or empty output directory (its parent must exist)")
    q.add_argument("--json", action="store_true", help="print the result as one JSON object")
    q.set_defaults(func=cmd_build)

    q = _sub(tsub, "score", "human score per system (mean of the judgements, 1 = judged real) over items and "
             "judges, standard errors, Welch t-tests and Fisher exact tests between systems",
             "seqgan turing-test score --key turing/key.csv judge1.csv judge2.csv --real real --json")  # fmt: skip
    q.add_argument("--key", required=True, metavar="KEY_CSV", help="the key.csv written by `turing-test build`")
    q.add_argument("sheets", nargs="+", metavar="SHEET_CSV", help="filled sheets, one per judge")
    q.add_argument("--real", metavar="LABEL", help="the system that is real data: also report each judge's accuracy")
    q.add_argument("--allow-blank", action="store_true", help="skip (and count) blank judgements and deleted rows "
                   "instead of refusing the sheet")  # fmt: skip
    q.add_argument("--json", action="store_true", help="print the result as one JSON object")
    q.set_defaults(func=cmd_score)
