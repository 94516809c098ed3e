"""``seqgan prepare-midi``: argument parsing only; the work is :func:`seqgan.midi.prepare_midi`.

Wired into the main parser with ``add_parsers(sub)`` (``sub`` = the ``add_subparsers`` action of ``seqgan``).
"""

from __future__ import annotations

import argparse
import sys

from seqgan.errors import UserError


def _track(value: str) -> int | None:
    """--track: "melody" (every track, highest note) -> None, or a track number."""
    if value == "melody":
        return None
    if not (value.isascii() and value.isdigit()):
        raise UserError(f"--track {value!r} must be melody or a track number >= 0 (0 = the file's first track)")
    return int(value)


def cmd_prepare_midi(args: argparse.Namespace) -> None:
    from seqgan.cli import _emit
    from seqgan.data.midi import prepare_midi

    def warn(message: str) -> None:
        sys.stderr.write(f"warning: {message}\n")

    report = prepare_midi(args.inputs, args.out, step=args.step, seq_len=args.seq_len, track=_track(args.track),
                          rest=args.rest, test_frac=args.test_frac, seed=args.seed, force=args.force,
                          warn=warn, valid_frac=args.valid_frac)  # fmt: skip
    if args.json:
        _emit(report, True)
        return
    # The warning lines already named the skipped files.
    flat = {key: (" ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else value)
            for key, value in report.items() if key != "skipped"}  # fmt: skip
    _emit(flat, False)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from seqgan.cli import _sub

    p = _sub(sub, "prepare-midi", "turn MIDI melodies into pitch sequences for `seqgan train --data` (the paper's "
             "Nottingham set-up)",
             "seqgan prepare-midi nottingham/ --out data/nottingham --json\n"
             "  seqgan prepare-midi tunes/ extra.mid --out data/tunes --step 0.25 --seq-len 64 --rest token\n\n"
             "Melody: at every sample time t = 0, step, 2 step, ... (seconds, following every tempo change) the\n"
             "highest note sounding at t, over all tracks (--track melody) or over track N; drums (channel 10)\n"
             "are left out. A note sounds at t if it starts at or before t and ends after t. Tokens: id k =\n"
             "MIDI pitch 21 + k (the 88 piano keys; notes outside move by octaves into them); with --rest token\n"
             "id 88 is a rest. Rests before the first note are dropped; sampling ends with the last note.\n"
             "Windows: each tune is cut into non-overlapping windows of --seq-len tokens from its first note,\n"
             "the remainder dropped; a tune shorter than one window is skipped (too short). The train, test\n"
             "and validation splits are by tune, so no test window comes from a training tune.\n"
             "A file that cannot be read or gives no tune is skipped with one warning line and counted.\n"
             "DIR gets vocab.json, train.pt, valid.pt, test.pt and manifest.json, all at once or not at\n"
             "all.")  # fmt: skip
    p.add_argument("inputs", nargs="+", metavar="DIR_OR_FILE", help="folders (searched recursively for .mid and "
                   ".midi files) and/or MIDI files")  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (its parent must exist)")
    p.add_argument("--step", type=float, default=0.4, metavar="S", help="seconds between samples, one token each "
                   "(default 0.4, the paper)")  # fmt: skip
    p.add_argument("--seq-len", type=int, default=32, metavar="T", help="tokens per sequence (default 32, the paper)")
    p.add_argument("--track", default="melody", metavar="melody|N", help="melody (default): the highest sounding "
                   "note over all tracks; N: read only track N (0-based, as stored in the file)")  # fmt: skip
    p.add_argument("--rest", choices=["hold", "token"], default="hold", help="hold (default; the paper's 88 "
                   "tokens): a rest keeps the pitch before it; token: rests are their own token, written back as "
                   "silence")  # fmt: skip
    p.add_argument("--test-frac", type=float, default=0.1, metavar="X", help="fraction of the usable tunes held out "
                   "as the test set, in [0, 1) (default 0.1; at least one tune; 0 = no test set)")  # fmt: skip
    p.add_argument("--valid-frac", type=float, default=0.1, metavar="X", help="fraction of the tunes left after the "
                   "test split held out for validation (model selection), in [0, 1) (default 0.1; at least one tune; "
                   "0 = none)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the train/valid/test draw of tunes (default 0)")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists (only a prepared data "
                   "directory, or an empty one)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the report as one JSON object (files_read, "
                   "files_skipped by reason, windows, pitch_range, ...)")  # fmt: skip
    p.set_defaults(func=cmd_prepare_midi)
