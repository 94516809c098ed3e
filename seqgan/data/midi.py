"""Music: MIDI files <-> pitch sequences, for ``seqgan prepare-midi`` and ``seqgan sample --midi-out``.

The paper's Nottingham experiment: the solo melody read every ``step`` seconds (0.4 s), each token one of the 88
piano keys (MIDI 21..108: id k = pitch 21 + k), sequences of 32 tokens. MIDI is parsed and written with mido.

- Melody: at every sample time t_k = k * step (k = 0, 1, ...; seconds from the start of the file, following every
  tempo change) the melody is the highest note sounding at t_k over all tracks (or over one track, ``track=N``);
  percussion (MIDI channel 10) is left out. A note sounds at t if it starts at or before t and ends after t
  (compared to a microsecond, the resolution of MIDI tempos). Sampling stops at the end of the last note.
- Rests (no note sounding): ``rest="hold"`` keeps the pitch before (the paper's 88 tokens, no rest token);
  ``rest="token"`` makes them their own token (id 88), written back as silence. Rests before the first note are
  dropped either way: a tune starts at its first note.
- A pitch outside 21..108 is moved by octaves into that range (counted as ``pitches_folded``).
- Windows: each tune is cut into non-overlapping windows of ``seq_len`` tokens from its first note; the remainder
  (fewer than ``seq_len`` tokens) is dropped and counted. A tune shorter than one window is skipped as too short.
- Split by tune, never by window: ``test_frac`` of the usable tunes (at least one) go to the test set, drawn with
  ``random.Random(seed)``, so no test window shares a tune with a training window.
- Labels (``labels="dirs"``): a tune's label is the sub-folder of a given folder that holds it (DIR/LABEL/...);
  its windows inherit it, and each label's tunes are split apart (stratified; :mod:`seqgan.data.labels`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mido
import torch
from torch import Tensor

from seqgan.data.labels import check_labels_option, label_counts, midi_labels, stratified_split
from seqgan.data.prepared import DATA_FORMAT, VERSION, check_out, held_out_count, shuffled_split, write_prepared
from seqgan.data.vocab import LOWEST_PITCH, MAX_STEP, NUM_KEYS, PitchInfo, Vocab, note_name, pitch_tokens
from seqgan.errors import UserError
from seqgan.files import write_atomic

HIGHEST_PITCH = LOWEST_PITCH + NUM_KEYS - 1  # 108 = C8
DRUM_CHANNEL = 9  # MIDI channel 10 (0-based 9) is percussion: its note numbers are drums, not pitches
TICKS_PER_BEAT = 480  # written files: one token = one beat of 480 ticks
DEFAULT_TEMPO = 500_000  # microseconds per beat until the first set_tempo (the MIDI standard's 120 BPM)
EPS = 1e-6  # seconds: time comparisons are made to a microsecond
SKIP_REASONS = ("unreadable", "no_notes", "too_short", "too_long")
MAX_TUNE_SECONDS = 4 * 3600  # a melody sampled every 0.4 s over 4 hours is 36,000 tokens
_SUFFIXES = (".mid", ".midi")


@dataclass
class Notes:
    """The notes of one file, in seconds: start (M,) and end (M,) float64, pitch (M,) long (MIDI 0..127)."""

    start: Tensor
    end: Tensor
    pitch: Tensor


class Skip(Exception):
    """A file that gives no tune; ``reason`` is one of SKIP_REASONS, the message says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# ------------------------------------------------------------------ reading
def _tempo_map(tracks: Sequence[mido.MidiTrack], ticks_per_beat: int) -> tuple[Tensor, Tensor, Tensor]:
    """Tempo changes of ``tracks`` as (change ticks (C,), seconds at each change (C,), tempo from it on (C,)).

    A tempo change in any track applies to all tracks (type 0 and 1 files); several at one tick: the last wins."""
    changes = [(0, DEFAULT_TEMPO)]
    for track in tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                changes.append((tick, msg.tempo))
    changes.sort(key=lambda c: c[0])  # stable: equal ticks keep file order
    seconds = [0.0]
    for (t0, tempo), (t1, _) in zip(changes, changes[1:], strict=False):
        seconds.append(seconds[-1] + mido.tick2second(t1 - t0, ticks_per_beat, tempo))
    ticks, tempos = (torch.tensor([c[i] for c in changes], dtype=torch.float64) for i in (0, 1))
    return ticks, torch.tensor(seconds, dtype=torch.float64), tempos


def _track_notes(track: mido.MidiTrack) -> list[tuple[int, int, int]]:
    """(start tick, end tick, pitch) of every pitched note of one track. A note-off (or note-on with velocity 0)
    ends the earliest open note of its channel and pitch; a note still open at the end of the track ends there."""
    notes, open_notes, tick = [], {}, 0
    for msg in track:
        tick += msg.time
        if msg.type not in ("note_on", "note_off") or msg.channel == DRUM_CHANNEL:
            continue
        key = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes.setdefault(key, []).append(tick)
        elif open_notes.get(key):
            notes.append((open_notes[key].pop(0), tick, msg.note))
    notes += [(start, tick, note) for (_, note), starts in open_notes.items() for start in starts]
    return [n for n in notes if n[1] > n[0]]  # a zero-length note is never heard


def read_notes(raw: bytes, track: int | None = None) -> Notes:
    """Notes of a MIDI file's bytes (all tracks, or track ``track``, 0-based as in the file); raises :class:`Skip`.

    Type 2 files hold independent patterns: only one track is read (``track``, or the first with notes), with its
    own tempo changes."""
    try:
        mid = mido.MidiFile(file=io.BytesIO(raw))
        if mid.ticks_per_beat <= 0:
            raise ValueError(f"ticks per beat {mid.ticks_per_beat}")
    except Exception as e:  # noqa: BLE001 - mido raises many types for damaged files; all mean "unreadable"
        why = " ".join(str(e).split())[:80] or "not a MIDI file"  # one line, whatever mido says
        raise Skip("unreadable", f"{type(e).__name__}: {why}") from None
    if track is not None and not 0 <= track < len(mid.tracks):
        raise Skip("no_notes", f"no track {track} (the file has tracks 0..{len(mid.tracks) - 1})")
    chosen = range(len(mid.tracks)) if track is None else [track]
    per_track = {i: _track_notes(mid.tracks[i]) for i in chosen}
    if mid.type == 2:
        first = next((i for i in chosen if per_track[i]), None)
        per_track = {} if first is None else {first: per_track[first]}
    notes = [n for i in sorted(per_track) for n in per_track[i]]
    if not notes:
        where = "" if track is None else f" in track {track}"
        raise Skip("no_notes", f"no pitched note{where} (percussion on channel 10 is not a melody)")
    tempo_tracks = [mid.tracks[i] for i in per_track] if mid.type == 2 else mid.tracks
    change_ticks, change_seconds, tempos = _tempo_map(tempo_tracks, mid.ticks_per_beat)
    ticks = torch.tensor([(s, e) for s, e, _ in notes], dtype=torch.float64)  # (M, 2)
    # mido.tick2second from the last tempo change before each tick, vectorised.
    idx = torch.searchsorted(change_ticks, ticks, right=True) - 1
    seconds = change_seconds[idx] + (ticks - change_ticks[idx]) * tempos[idx] * 1e-6 / mid.ticks_per_beat
    return Notes(seconds[:, 0].contiguous(), seconds[:, 1].contiguous(), torch.tensor([n[2] for n in notes]))


def melody(notes: Notes, step: float) -> Tensor:
    """The highest pitch sounding at t_k = k * step for every t_k before the last note ends: (K,) long, -1 = rest.
    A tune longer than MAX_TUNE_SECONDS raises :class:`Skip` (a damaged or hostile file can hold one note of days)."""
    end = float(notes.end.max())
    if end > MAX_TUNE_SECONDS:
        raise Skip(
            "too_long",
            f"it lasts {end / 3600:.1f} hours; tunes longer than {MAX_TUNE_SECONDS // 3600} hours are skipped",
        )
    K = max(0, math.ceil((end - EPS) / step))
    times = torch.arange(K, dtype=torch.float64) * step + EPS
    out, rows = [], max(1, 2**22 // max(len(notes.pitch), 1))  # bounds the (rows, M) masks
    for t in times.split(rows):
        sounding = (notes.start[None, :] <= t[:, None]) & (notes.end[None, :] > t[:, None])  # (rows, M)
        out.append(torch.where(sounding, notes.pitch[None, :], -1).max(dim=1).values)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def melody_tokens(mel: Tensor, rest: str) -> tuple[Tensor, dict[str, int]]:
    """Melody pitches (K,) (-1 = rest) -> token ids (L,), L <= K, and counts (folded pitches, rest samples).

    Leading rests are dropped; pitches outside 21..108 move by octaves into it; rests are held (``"hold"``) or
    become id NUM_KEYS (``"token"``)."""
    is_note = mel >= 0
    if not is_note.any():
        return mel[:0], {"folded": 0, "rests": 0}
    p = mel[int(is_note.nonzero()[0]) :].clone()
    is_note = p >= 0
    low, high = is_note & (p < LOWEST_PITCH), p > HIGHEST_PITCH
    p[low] += 12 * ((LOWEST_PITCH - p[low] + 11) // 12)
    p[high] -= 12 * ((p[high] - HIGHEST_PITCH + 11) // 12)
    counts = {"folded": int((low | high).sum()), "rests": int((~is_note).sum())}
    ids = p - LOWEST_PITCH
    if rest == "hold":  # the last note index at or before each position (position 0 is a note)
        last = torch.cummax(torch.where(is_note, torch.arange(len(p)), 0), dim=0).values
        return ids[last], counts
    return torch.where(is_note, ids, NUM_KEYS), counts


def windows(ids: Tensor, seq_len: int) -> Tensor:
    """Non-overlapping windows from the start: (L,) -> (L // seq_len, seq_len); the remainder is dropped."""
    n = len(ids) // seq_len
    return ids[: n * seq_len].reshape(n, seq_len)


# ------------------------------------------------------------------ writing
def tokens_to_midi(ids: Sequence[int], pitch: PitchInfo, velocity: int = 80) -> mido.MidiFile:
    """One sequence of token ids -> a one-track MIDI file in which each token lasts ``pitch.step`` seconds.

    One token = one beat at a steady tempo of round(step * 1e6) microseconds per beat. A run of equal ids is one
    held note (sampling every step cannot tell a repeated note from a held one); the rest id is silence; the file
    ends T * step seconds after its start."""
    rest_id, size = pitch.rest_id, NUM_KEYS + (pitch.rest_id is not None)
    if any(not 0 <= i < size for i in ids):
        raise ValueError(f"tokens_to_midi: an id is outside 0..{size - 1}")
    events: list[tuple[int, mido.Message]] = []
    k = 0
    while k < len(ids):
        j = k
        while j < len(ids) and ids[j] == ids[k]:
            j += 1
        if ids[k] != rest_id:
            note = pitch.lowest + ids[k]
            events.append((k * TICKS_PER_BEAT, mido.Message("note_on", note=note, velocity=velocity)))
            events.append((j * TICKS_PER_BEAT, mido.Message("note_off", note=note, velocity=0)))
        k = j
    track = mido.MidiTrack(
        [
            mido.MetaMessage("track_name", name="seqgan"),
            mido.MetaMessage("set_tempo", tempo=round(pitch.step * 1e6)),
            mido.Message("program_change", program=0),
        ]
    )
    last = 0
    for tick, msg in events:  # absolute ticks -> MIDI delta times
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=len(ids) * TICKS_PER_BEAT - last))
    mid = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    mid.tracks.append(track)
    return mid


def midi_bytes(mid: mido.MidiFile) -> bytes:
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def check_midi_out(out_dir: str | Path, num: int = 0, force: bool = False) -> Path:
    """The --midi-out folder, checked before any sampling: it may exist (as a folder), its parent must, and the
    ``num`` files about to be written (sample-0000.mid ..., samples.txt) replace existing ones only with ``force``."""
    out = Path(out_dir)
    if os.path.lexists(out) and not out.is_dir():
        raise UserError(f"--midi-out {out} exists and is not a folder: choose another --midi-out")
    if not out.parent.is_dir():
        raise UserError(f"the folder of --midi-out {out} does not exist: create {out.parent} first")
    names = [f"sample-{i:04d}.mid" for i in range(num)] + (["samples.txt"] if num else [])
    if not force and (taken := next((n for n in names if os.path.lexists(out / n)), None)):
        raise UserError(
            f"--midi-out {out} already holds {taken}: pass --force to replace the samples, or choose another folder"
        )
    return out


def write_midi_samples(rows: Tensor, pitch: PitchInfo, out_dir: str | Path) -> list[Path]:
    """rows (S, T) token ids -> OUT/sample-0000.mid ... (each written atomically); returns the paths."""
    out = check_midi_out(out_dir)
    out.mkdir(exist_ok=True)
    paths = []
    for i, row in enumerate(rows.tolist()):
        paths.append(out / f"sample-{i:04d}.mid")
        write_atomic(paths[-1], midi_bytes(tokens_to_midi(row, pitch)))
    return paths


# ---------------------------------------------------------------- preparing
def find_midi_files(inputs: Sequence[str | Path]) -> list[Path]:
    """Every .mid/.midi file under the given folders (recursively, any case) plus the files given, sorted, once."""
    found: dict[Path, Path] = {}
    for item in map(Path, inputs):
        if item.is_dir():
            files = (p for p in item.rglob("*") if p.suffix.lower() in _SUFFIXES and p.is_file())
        elif item.is_file():
            files = iter([item])
        else:
            raise UserError(f"{item} does not exist: give a folder of .mid/.midi files, or the files themselves")
        for p in files:
            found.setdefault(p.resolve(), p)
    return sorted(found.values(), key=str)


def _check_options(
    step: float, seq_len: int, track: int | None, rest: str, test_frac: float, valid_frac: float = 0.0
) -> None:
    problems = [
        (not 0 < step <= MAX_STEP, f"--step {step} must be in (0, {MAX_STEP:g}] seconds, e.g. 0.4"),
        (seq_len < 1, f"--seq-len {seq_len} must be >= 1, e.g. 32 (the paper)"),
        (track is not None and track < 0, f"--track {track} must be melody or a track number >= 0"),
        (rest not in ("hold", "token"), f"--rest {rest!r} is unknown: use hold or token"),
        (not 0 <= test_frac < 1, f"--test-frac {test_frac} must be in [0, 1), e.g. 0.1 (0: no test set)"),
        (not 0 <= valid_frac < 1, f"--valid-frac {valid_frac} must be in [0, 1), e.g. 0.1 (0: no validation set)"),
    ]
    for bad, message in problems:
        if bad:
            raise UserError(message)


def prepare_midi(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    step: float = 0.4,
    seq_len: int = 32,
    track: int | None = None,
    rest: str = "hold",
    test_frac: float = 0.1,
    seed: int = 0,
    force: bool = False,
    warn: Callable[[str], None] | None = None,
    valid_frac: float = 0.1,
    labels: str | None = None,
) -> dict[str, Any]:
    """MIDI files (folders searched recursively) -> prepared directory like `seqgan prepare`; returns the report.

    Rows are windows of exactly ``seq_len`` token ids (no EOS, no padding, start token 0 as the authors' code), so
    `seqgan train --data OUT` samples fixed-length melodies. Each file that gives no tune is reported through
    ``warn`` (one line) and counted in ``files_skipped``; only when no file is usable is it a UserError.

    With ``labels="dirs"`` each given folder holds one sub-folder per label (DIR/jigs/..., DIR/reels/...): the
    vocabulary gets the label names (sorted: id k = k-th name), each split file one label id per window, and each
    label's tunes are split apart, so every split keeps each label's share."""
    warn = warn or logging.getLogger("seqgan").warning
    _check_options(step, seq_len, track, rest, test_frac, valid_frac)
    check_labels_option(labels, "dirs", "a label per sub-folder")
    files = find_midi_files(inputs)
    where = ", ".join(map(str, inputs))
    if not files:
        raise UserError(f"no .mid or .midi file under {where}: give a folder of MIDI files or the files themselves")
    file_labels = dict(zip(files, midi_labels(files, inputs), strict=True)) if labels is not None else {}
    out = Path(os.path.abspath(out_dir))
    check_out(out, force, inputs)
    digest = hashlib.sha256()
    tunes: list[tuple[Path, Tensor]] = []
    skipped: list[dict[str, str]] = []
    stats = {"samples": 0, "samples_dropped": 0, "rests": 0, "pitches_folded": 0}
    for path in files:
        try:
            try:
                raw = path.read_bytes()
            except OSError as e:
                raise Skip("unreadable", e.strerror or type(e).__name__) from None
            digest.update(hashlib.sha256(raw).digest())
            ids, counts = melody_tokens(melody(read_notes(raw, track), step), rest)
            if len(ids) < seq_len:
                raise Skip("too_short", f"{len(ids)} samples at --step {step:g} s, fewer than --seq-len {seq_len}")
        except Skip as skip:
            skipped.append({"file": str(path), "reason": skip.reason, "detail": str(skip)})
            continue
        tunes.append((path, windows(ids, seq_len)))
        stats["samples"] += len(ids)
        stats["samples_dropped"] += len(ids) % seq_len
        stats["rests"] += counts["rests"]
        stats["pitches_folded"] += counts["folded"]
    by_reason = {r: sum(s["reason"] == r for s in skipped) for r in SKIP_REASONS}
    if not tunes:  # one line, not one per file: the first file's reason stands for them
        why = (
            f"{by_reason['unreadable']} unreadable, {by_reason['no_notes']} without notes, "
            f"{by_reason['too_short']} shorter than --seq-len {seq_len} x --step {step:g} s, "
            f"{by_reason['too_long']} longer than {MAX_TUNE_SECONDS // 3600} hours; "
            f"{Path(skipped[0]['file']).name}: {skipped[0]['detail']}"
        )
        raise UserError(
            f"none of the {len(files)} MIDI file(s) under {where} is usable ({why}): give melody MIDI "
            "files or lower --seq-len"
        )
    label_names = None if labels is None else sorted({file_labels[path] for path, _ in tunes})
    label_index = {name: k for k, name in enumerate(label_names or [])}
    tune_labels = [label_index[file_labels[path]] for path, _ in tunes] if label_names is not None else []
    if label_names is None:
        train, valid, test = _split_tunes(len(tunes), test_frac, valid_frac, seed)
    else:
        train, valid, test = stratified_split(
            tune_labels,
            label_names,
            seed,
            lambda n, label_seed, name: _split_tunes(n, test_frac, valid_frac, label_seed, name),
        )
    for s in skipped:  # after every check, so that a run that fails prints its one error line only
        warn(f"skipped {s['file']}: {s['reason'].replace('_', ' ')} ({s['detail']})")
    split = {"train": train, "valid": valid, "test": test}
    rows = {
        name: torch.cat([tunes[i][1] for i in idx]) if idx else torch.zeros(0, seq_len, dtype=torch.long)
        for name, idx in split.items()
    }
    pitch = PitchInfo(float(step), rest)
    vocab = Vocab("pitch", pitch_tokens(rest), NUM_KEYS + (rest == "token"), {}, False, pitch, label_names)
    notes = torch.cat(list(rows.values())).flatten()
    notes = notes[notes < NUM_KEYS] + LOWEST_PITCH
    lo, hi = int(notes.min()), int(notes.max())
    report = {
        "files_found": len(files),
        "files_read": len(tunes),
        "files_skipped": by_reason,
        "skipped": skipped,
        "train_tunes": len(split["train"]),
        "valid_tunes": len(split["valid"]),
        "test_tunes": len(split["test"]),
        "windows": sum(len(r) for r in rows.values()),
        "train_windows": len(rows["train"]),
        "valid_windows": len(rows["valid"]),
        "test_windows": len(rows["test"]),
        **stats,
        "pitch_range": {"min": note_name(lo), "max": note_name(hi), "min_midi": lo, "max_midi": hi},
        "seq_len": seq_len,
        "step": step,
        "rest": rest,
        "vocab_size": vocab.vocab_size,
        "out": str(out),
    }
    options = {
        "step": step,
        "seq_len": seq_len,
        "track": "melody" if track is None else track,
        "rest": rest,
        "test_frac": test_frac,
        "valid_frac": valid_frac,
        "seed": seed,
    }
    split_labels = None
    if label_names is not None:  # each window inherits its tune's label
        split_labels = {
            name: [tune_labels[i] for i in idx for _ in range(len(tunes[i][1]))] for name, idx in split.items()
        }
        report["labels"] = label_counts(label_names, split_labels)
        report["label_tunes"] = label_counts(
            label_names, {name: [tune_labels[i] for i in idx] for name, idx in split.items()}
        )
        options["labels"] = labels
    manifest = {
        "format": DATA_FORMAT,
        "version": VERSION,
        "kind": "midi",
        "source": [str(Path(p).resolve()) for p in inputs],
        "source_sha256": digest.hexdigest(),
        "options": options,
        "seq_len": seq_len,
        "vocab_size": vocab.vocab_size,
        "start_token": 0,
        "eos_token": None,
        "pad_token": None,
        "report": report,
        "tunes": {name: [str(tunes[i][0]) for i in idx] for name, idx in split.items()},
    }
    write_prepared(out, vocab, {name: r.tolist() for name, r in rows.items()}, seq_len, 0, manifest, split_labels)
    return report


def _split_tunes(
    n: int, test_frac: float, valid_frac: float, seed: int | str, label: str | None = None
) -> tuple[list[int], list[int], list[int]]:
    """Tune indices of train, validation and test: one seeded shuffle; the test tunes are its last n_test, the
    validation tunes the n_valid before them. Labelled data: called once per label, on that label's tunes."""
    n_test = held_out_count(n, test_frac)
    n_valid = held_out_count(n - n_test, valid_frac)
    if n - n_test - n_valid < 1 and label is not None:
        raise UserError(
            f"the label {label!r} has only {n} usable tune(s): holding out {n_test} test and {n_valid} "
            "validation tune(s) leaves none to train on; lower --test-frac / --valid-frac (0 holds out "
            f"none), or add MIDI files to its folder {label}/"
        )
    if n - n_test - n_valid < 1:
        fix = (
            "lower --test-frac / --valid-frac (0 holds out none)"
            if n >= 3
            else "give more MIDI files, or --test-frac 0 --valid-frac 0"
        )
        raise UserError(
            f"only {n} usable tune(s): holding out {n_test} test and {n_valid} validation tune(s) leaves "
            f"none to train on; {fix}"
        )
    return shuffled_split(n, n_test, n_valid, seed)
