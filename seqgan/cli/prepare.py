"""``seqgan prepare``: argument parsing only; the work is :func:`seqgan.data.prepare`.

Wired into the main parser with ``add_parsers(sub)`` (``sub`` = the ``add_subparsers`` action of ``seqgan``).
"""

from __future__ import annotations

import argparse


def cmd_prepare(args: argparse.Namespace) -> None:
    from seqgan.cli import _emit
    from seqgan.data.text import prepare

    report = prepare(args.input, args.out, level=args.level or "word", lowercase=args.lowercase,
                     max_len=args.max_len, vocab_size=args.vocab_size, min_freq=args.min_freq,
                     test_frac=args.test_frac, seed=args.seed, ids=args.ids, force=args.force,
                     test_file=args.test_file, valid_frac=args.valid_frac,
                     valid_file=args.valid_file)  # fmt: skip
    if args.json:
        _emit(report, True)
        return
    flat = {key: (" ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value)
            for key, value in report.items()}  # fmt: skip
    _emit(flat, False)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from seqgan.cli import _sub

    p = _sub(sub, "prepare", "turn a text file (one sequence per line) into a vocabulary and train/test tensors",
             "seqgan prepare poems.txt --out data/poems --level char --max-len 40\n"
             "  seqgan prepare corpus.txt --out data/news --lowercase --vocab-size 5000 --json\n"
             "  seqgan prepare save/real_data.txt --out data/oracle --ids --vocab-size 5000\n\n"
             "DIR gets vocab.json, train.pt, valid.pt, test.pt and manifest.json, all at once or not at all.\n"
             "The test split is drawn first; the validation split (model selection: best.pt, early stopping)\n"
             "comes from the remaining lines, so the test split does not depend on it.\n"
             "Text rows are token ids, <eos>, then <pad>; ids 0-3 are <pad> <bos> <eos> <unk>.")  # fmt: skip
    p.add_argument("input", metavar="INPUT", help="UTF-8 text file, one sequence per line (blank lines are skipped "
                   "and counted)")  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (its parent must exist)")
    p.add_argument("--level", choices=["word", "punct", "char"], help="tokens: word = split on whitespace (default); "
                   "punct = words and punctuation marks apart; "
                   "char = every character, spaces included (Chinese/Japanese need no spaces)")  # fmt: skip
    p.add_argument("--lowercase", action="store_true", help="lowercase the text before tokenising")
    p.add_argument("--max-len", type=int, metavar="L", help="drop (and count) lines longer than L tokens; "
                   "sequence length T = L + 1 (default: longest line + 1, for <eos>)")  # fmt: skip
    p.add_argument("--vocab-size", type=int, metavar="V", help="keep the V - 4 most frequent tokens (V counts the 4 "
                   "special tokens), the rest become <unk>; with --ids: ids must lie in 0..V-1 (required)")  # fmt: skip
    p.add_argument("--min-freq", type=int, metavar="F", help="keep tokens seen at least F times, the rest become "
                   "<unk> (not with --vocab-size; default: keep every token)")  # fmt: skip
    p.add_argument("--test-frac", type=float, default=0.1, metavar="X", help="fraction of lines held out as the "
                   "test set, in [0, 1) (default 0.1; 0 = no test set)")  # fmt: skip
    p.add_argument("--test-file", metavar="F", help="use the lines of F as the test set (e.g. a benchmark's "
                   "references) instead of --test-frac; the vocabulary then comes from INPUT alone")  # fmt: skip
    p.add_argument("--valid-frac", type=float, default=0.1, metavar="X", help="fraction of the lines left after "
                   "the test split held out for validation (model selection), in [0, 1) (default 0.1; 0 = none)")
    p.add_argument("--valid-file", metavar="F", help="use the lines of F as the validation set instead of "
                   "--valid-frac")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test shuffle (default 0)")
    p.add_argument("--ids", action="store_true", help="INPUT holds space-separated integer ids, all lines of one "
                   "length (the authors' real_data.txt format); ids are kept as is, no special tokens")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace DIR if it exists (only a directory written by "
                   "`seqgan prepare`, or an empty one)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=cmd_prepare)
