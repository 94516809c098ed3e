"""``seqgan prepare`` and ``seqgan prepare-midi``: argument parsing only; the work is
:func:`seqgan.data.text.prepare` and :func:`seqgan.data.midi.prepare_midi`."""

from __future__ import annotations

import argparse
import sys

from seqgan.cli.common import emit, seed_type, subcommand
from seqgan.errors import UserError


def cmd_prepare(args: argparse.Namespace) -> None:
    from seqgan.data.text import prepare

    report = prepare(
        args.input,
        args.out,
        level=args.level or "word",
        lowercase=args.lowercase,
        max_len=args.max_len,
        vocab_size=args.vocab_size,
        min_freq=args.min_freq,
        test_frac=args.test_frac,
        seed=args.seed,
        ids=args.ids,
        force=args.force,
        test_file=args.test_file,
        valid_frac=args.valid_frac,
        valid_file=args.valid_file,
        labels=args.labels,
        unit=args.unit,
        language=args.language,
        tokenizer=args.tokenizer,
    )
    if args.json:
        emit(report, True)
        return
    emit(_flat(report), False)


def _flat(report: dict) -> dict:
    """The report as ``key: value`` lines: a dict on one line (``blank=0 too_long=1``); rows per label as
    ``jigs=12/2/2 (train/valid/test)``."""

    def one(key: str, value: object) -> object:
        if key in ("labels", "label_tunes"):
            rows = " ".join(f"{k}={v['train']}/{v['valid']}/{v['test']}" for k, v in value.items())
            return f"{rows} (train/valid/test)"
        return " ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value

    return {key: one(key, value) for key, value in report.items() if key != "skipped"}


def _track(value: str) -> int | None:
    """--track: "melody" (every track, highest note) -> None, or a track number."""
    if value == "melody":
        return None
    if not (value.isascii() and value.isdigit()):
        raise UserError(f"--track {value!r} must be melody or a track number >= 0 (0 = the file's first track)")
    return int(value)


def cmd_prepare_midi(args: argparse.Namespace) -> None:
    from seqgan.extras import require

    require("mido", "seqgan prepare-midi")
    from seqgan.data.midi import prepare_midi

    def warn(message: str) -> None:
        sys.stderr.write(f"warning: {message}\n")

    report = prepare_midi(
        args.inputs,
        args.out,
        step=args.step,
        seq_len=args.seq_len,
        track=_track(args.track),
        rest=args.rest,
        test_frac=args.test_frac,
        seed=args.seed,
        force=args.force,
        warn=warn,
        valid_frac=args.valid_frac,
        labels=args.labels,
    )
    if args.json:
        emit(report, True)
        return
    emit(_flat(report), False)  # without "skipped": the warning lines already named the skipped files


def register(sub: argparse._SubParsersAction) -> None:

    p = subcommand(
        sub,
        "prepare",
        "turn a text file (one sequence per line) into a vocabulary and train/test tensors",
        "seqgan prepare poems.txt --out data/poems --level char --max-len 40\n"
        "  seqgan prepare corpus.txt --out data/news --lowercase --vocab-size 5000 --json\n"
        "  seqgan prepare save/real_data.txt --out data/oracle --ids --vocab-size 5000\n"
        "  seqgan prepare reviews.tsv --out data/reviews --labels tab   # lines: LABEL<TAB>TEXT\n"
        "  seqgan prepare speeches.txt --out data/speech --unit sentence --level bpe --vocab-size 8000\n\n"
        "DIR gets vocab.json, train.pt, valid.pt, test.pt and manifest.json, all at once or not at all.\n"
        "The test split is drawn first; the validation split (model selection: best.pt, early stopping)\n"
        "comes from the remaining lines, so the test split does not depend on it.\n"
        "Text rows are token ids, <eos>, then <pad>; ids 0-3 are <pad> <bos> <eos> <unk>.\n"
        "With --labels tab each line is LABEL<TAB>TEXT (split at the first tab): vocab.json gets the label\n"
        "names, in sorted order (id k = k-th name), each split file one label id per row, and each label's\n"
        "lines are split on their own, so every split keeps each label's share.\n"
        "Prose: --unit sentence splits every line (a paragraph) into sentences (pysbd, rule-based, no\n"
        "download) and draws the splits by line, so no held-out sentence shares a paragraph with a training\n"
        "one. --level bpe / unigram trains a subword tokenizer (Hugging Face tokenizers) on the training\n"
        "split alone and stores it in vocab.json; samples decode to plain text, and BLEU counts the words\n"
        "and marks of that text (the punct tokens), not the pieces.",
    )
    p.add_argument(
        "input",
        metavar="INPUT",
        help="UTF-8 text file, one sequence per line (a line ends at \\n, \\r\\n or a lone \\r, the last counted in "
        "the report as lone_cr_line_ends; blank lines are skipped and counted)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (its parent must exist)")
    p.add_argument(
        "--level",
        choices=["word", "punct", "char", "bpe", "unigram"],
        help="tokens: word = split on whitespace (default); "
        "punct = words and punctuation marks apart; "
        "char = every character, spaces included (Chinese/Japanese need no spaces); "
        "bpe / unigram = subword pieces of a tokenizer of --vocab-size V tokens trained on the training split "
        "(needs seqgan[subword])",
    )
    p.add_argument(
        "--tokenizer",
        metavar="FILE",
        help="use your own Hugging Face tokenizer.json (BPE, Unigram, WordPiece, byte-level) instead of --level; "
        "its pieces seen in training make the vocabulary, capped like words by --vocab-size / --min-freq",
    )
    p.add_argument(
        "--unit",
        choices=["line", "sentence"],
        default="line",
        help="line = one sequence per line (default); sentence = split every line (a paragraph) into "
        "sentences, each one sequence; the splits are drawn by line (needs seqgan[sentences])",
    )
    p.add_argument(
        "--language",
        default="en",
        metavar="CODE",
        help="language of --unit sentence (default en): am ar bg da de el en es fa fr hi hy it ja kk mr my "
        "nl pl ru sk ur zh",
    )
    p.add_argument("--lowercase", action="store_true", help="lowercase the text before tokenising")
    p.add_argument(
        "--max-len",
        type=int,
        metavar="L",
        help="drop (and count) lines (sentences) longer than L tokens; "
        "sequence length T = L + 1 (default: longest line + 1, for <eos>)",
    )
    p.add_argument(
        "--vocab-size",
        type=int,
        metavar="V",
        help="keep the V - 4 most frequent tokens (V counts the 4 "
        "special tokens), the rest become <unk>; with --ids: ids must lie in 0..V-1 (required)",
    )
    p.add_argument(
        "--min-freq",
        type=int,
        metavar="F",
        help="keep tokens seen at least F times, the rest become "
        "<unk> (not with --vocab-size; default: keep every token)",
    )
    p.add_argument(
        "--test-frac",
        type=float,
        default=0.1,
        metavar="X",
        help="fraction of lines held out as the test set, in [0, 1) (default 0.1; 0 = no test set)",
    )
    p.add_argument(
        "--test-file",
        metavar="F",
        help="use the lines of F as the test set (e.g. a benchmark's "
        "references) instead of --test-frac; the vocabulary then comes from INPUT alone",
    )
    p.add_argument(
        "--valid-frac",
        type=float,
        default=0.1,
        metavar="X",
        help="fraction of the lines left after "
        "the test split held out for validation (model selection), in [0, 1) (default 0.1; 0 = none)",
    )
    p.add_argument("--valid-file", metavar="F", help="use the lines of F as the validation set instead of --valid-frac")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of the train/valid/test shuffle (default 0)")
    p.add_argument(
        "--ids",
        action="store_true",
        help="INPUT holds space-separated integer ids, all lines of one "
        "length (the authors' real_data.txt format); ids are kept as is, no special tokens",
    )
    p.add_argument(
        "--labels",
        choices=["tab"],
        help="labelled lines for conditional generation: tab = each line "
        "is LABEL<TAB>TEXT (--test-file / --valid-file too); splits keep every label's share",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace DIR if it exists (only a directory written by `seqgan prepare`, or an empty one)",
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=cmd_prepare)

    p = subcommand(
        sub,
        "prepare-midi",
        "turn MIDI melodies into pitch sequences for `seqgan train --data` (the paper's Nottingham set-up)",
        "seqgan prepare-midi nottingham/ --out data/nottingham --json\n"
        "  seqgan prepare-midi tunes/ extra.mid --out data/tunes --step 0.25 --seq-len 64 --rest token\n"
        "  seqgan prepare-midi music/ --out data/styles --labels dirs   # music/jigs/*.mid, music/reels/*.mid\n\n"
        "Melody: at every sample time t = 0, step, 2 step, ... (seconds, following every tempo change) the\n"
        "highest note sounding at t, over all tracks (--track melody) or over track N; drums (channel 10)\n"
        "are left out. A note sounds at t if it starts at or before t and ends after t. Tokens: id k =\n"
        "MIDI pitch 21 + k (the 88 piano keys; notes outside move by octaves into them); with --rest token\n"
        "id 88 is a rest. Rests before the first note are dropped; sampling ends with the last note.\n"
        "Windows: each tune is cut into non-overlapping windows of --seq-len tokens from its first note,\n"
        "the remainder dropped; a tune shorter than one window is skipped (too short). The train, test\n"
        "and validation splits are by tune, so no test window comes from a training tune.\n"
        "A file that cannot be read or gives no tune is skipped with one warning line and counted.\n"
        "With --labels dirs each folder given holds one sub-folder per label (music/jigs/...): a tune's\n"
        "label is that sub-folder's name, its windows inherit it, and each label's tunes are split on\n"
        "their own, so every split keeps each label's share.\n"
        "DIR gets vocab.json, train.pt, valid.pt, test.pt and manifest.json, all at once or not at\n"
        "all.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="DIR_OR_FILE",
        help="folders (searched recursively for .mid and .midi files) and/or MIDI files",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (its parent must exist)")
    p.add_argument(
        "--step",
        type=float,
        default=0.4,
        metavar="S",
        help="seconds between samples, one token each (default 0.4, the paper)",
    )
    p.add_argument("--seq-len", type=int, default=32, metavar="T", help="tokens per sequence (default 32, the paper)")
    p.add_argument(
        "--track",
        default="melody",
        metavar="melody|N",
        help="melody (default): the highest sounding "
        "note over all tracks; N: read only track N (0-based, as stored in the file)",
    )
    p.add_argument(
        "--rest",
        choices=["hold", "token"],
        default="hold",
        help="hold (default; the paper's 88 "
        "tokens): a rest keeps the pitch before it; token: rests are their own token, written back as "
        "silence",
    )
    p.add_argument(
        "--test-frac",
        type=float,
        default=0.1,
        metavar="X",
        help="fraction of the usable tunes held out "
        "as the test set, in [0, 1) (default 0.1; at least one tune; 0 = no test set)",
    )
    p.add_argument(
        "--valid-frac",
        type=float,
        default=0.1,
        metavar="X",
        help="fraction of the tunes left after the "
        "test split held out for validation (model selection), in [0, 1) (default 0.1; at least one tune; "
        "0 = none)",
    )
    p.add_argument("--seed", type=seed_type, default=0, help="seed of the train/valid/test draw of tunes (default 0)")
    p.add_argument(
        "--labels",
        choices=["dirs"],
        help="labelled tunes for conditional generation: dirs = each "
        "tune's label is its sub-folder of the folder given (DIR/LABEL/...mid)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace DIR if it exists (only a prepared data directory, or an empty one)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the report as one JSON object (files_read, files_skipped by reason, windows, pitch_range, ...)",
    )
    p.set_defaults(func=cmd_prepare_midi)
