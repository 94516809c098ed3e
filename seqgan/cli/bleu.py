"""The ``seqgan bleu`` and ``seqgan self-bleu`` subcommands (registered by ``add_parsers``).

Input files: UTF-8 text, one sentence per line, tokens split on whitespace; blank lines are skipped
and counted. A missing, empty, binary or non-UTF-8 file is a UserError (one line, exit code 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seqgan.errors import UserError

PROTOCOL_HELP = ("full (the only one): every reference line is a reference for every hypothesis, NLTK "
                 "method1 smoothing, uniform weights 1/n, score = mean of NLTK sentence BLEU")  # fmt: skip
SELF_PROTOCOL_HELP = ("full (the only one): each hypothesis against all the other lines (itself excluded, "
                      "duplicates kept), NLTK method1 smoothing, uniform weights 1/n, "
                      "mean of sentence BLEU")  # fmt: skip


def read_token_lines(path: str, flag: str) -> tuple[list[list[str]], int]:
    """Sentences of ``path`` as whitespace-split tokens, and the number of blank lines skipped."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{flag} {path} does not exist (or is not a file)")
    data = p.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark
        data = data[3:]
    rows: list[list[str]] = []
    blank = 0
    lines = data.split(b"\n")
    if lines[-1] == b"":  # the newline that ends the last line
        lines.pop()
    for n, raw in enumerate(lines, 1):
        if b"\x00" in raw:
            raise UserError(f"{flag} {path} line {n} holds a NUL byte: this looks like a binary (or UTF-16) file; "
                            "convert it to UTF-8 text, one sentence per line")  # fmt: skip
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{flag} {path} line {n} is not UTF-8: convert the file to UTF-8 "
                            f"(e.g. `iconv -f LATIN1 -t UTF-8 {path} > fixed.txt`)") from None  # fmt: skip
        tokens = line.split()
        if tokens:
            rows.append(tokens)
        else:
            blank += 1
    if not rows:
        raise UserError(f"{flag} {path} holds no sentences (empty or only blank lines): "
                        "give one sentence per line, tokens separated by spaces")  # fmt: skip
    return rows, blank


def _orders(values: list[int]) -> list[int]:
    bad = [v for v in values if v < 1]
    if bad:
        raise UserError(f"--n {bad[0]} is invalid: BLEU orders are integers >= 1 (e.g. --n 2 3 4 5)")
    return sorted(set(values))


def cmd_bleu(args: argparse.Namespace) -> None:
    from seqgan.cli import _emit
    from seqgan.eval.bleu import bleu

    orders = _orders(args.n)
    hyps, hyp_blank = read_token_lines(args.hyps, "--hyps")
    refs, ref_blank = read_token_lines(args.refs, "--refs")
    scores = bleu(hyps, refs, orders)
    result: dict = {f"bleu{n}": scores[n] for n in orders}
    result.update({"num_hypotheses": len(hyps), "num_references": len(refs), "protocol": args.protocol,
                   "blank_lines_skipped_hyps": hyp_blank, "blank_lines_skipped_refs": ref_blank})  # fmt: skip
    _emit(result, args.json)


def cmd_self_bleu(args: argparse.Namespace) -> None:
    from seqgan.cli import _emit
    from seqgan.eval.bleu import self_bleu

    orders = _orders(args.n)
    hyps, hyp_blank = read_token_lines(args.hyps, "--hyps")
    if len(hyps) < 2:
        raise UserError(f"--hyps {args.hyps} holds 1 sentence: Self-BLEU needs at least 2")
    scores = self_bleu(hyps, orders)
    result: dict = {f"self_bleu{n}": scores[n] for n in orders}
    result.update({"num_hypotheses": len(hyps), "protocol": args.protocol, "blank_lines_skipped_hyps": hyp_blank})
    _emit(result, args.json)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register ``bleu`` and ``self-bleu`` on the ``seqgan`` subparsers ``sub``."""
    from seqgan.cli import _sub

    p = _sub(sub, "bleu", "BLEU-n of generated text against a reference file (SeqGAN/Texygen/RelGAN protocol, "
             "exactly NLTK's numbers)",
             "seqgan bleu --hyps samples.txt --refs test_coco.txt --n 2 3 4 5 --json")  # fmt: skip
    p.add_argument("--hyps", required=True, metavar="FILE", help="generated text: UTF-8, one sentence per line")
    p.add_argument("--refs", required=True, metavar="FILE", help="reference text (e.g. the test set), same format")
    p.add_argument("--n", type=int, nargs="+", default=[2, 3, 4, 5], metavar="N", help="orders (default 2 3 4 5)")
    p.add_argument("--protocol", choices=["full"], default="full", help=PROTOCOL_HELP)
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_bleu)

    p = _sub(sub, "self-bleu", "Self-BLEU-n of generated text (diversity; higher = less diverse), each line "
             "scored against all the others, exactly NLTK's numbers",
             "seqgan self-bleu --hyps samples.txt --n 2 3 4 5 --json")  # fmt: skip
    p.add_argument("--hyps", required=True, metavar="FILE", help="generated text: UTF-8, one sentence per line")
    p.add_argument("--n", type=int, nargs="+", default=[2, 3, 4, 5], metavar="N", help="orders (default 2 3 4 5)")
    p.add_argument("--protocol", choices=["full"], default="full", help=SELF_PROTOCOL_HELP)
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_self_bleu)
