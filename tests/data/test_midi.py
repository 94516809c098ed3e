"""Music: MIDI files the tests write with mido -> `seqgan prepare-midi` -> train -> `sample --midi-out` -> MIDI.

Melody extraction (highest sounding note, several tracks, drums left out), sampling at exact times across tempo
changes, rests (hold / token), windows and the split by tune, skipped files (one warning line each), one-line
errors, the token -> MIDI -> token round trip, the pitch MSE against hand-computed values, and end to end."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import mido
import pytest
import torch
from helpers import user_error as _user_error

from seqgan import cli, presets
from seqgan.config import paper_filters
from seqgan.data.midi import Skip, melody, melody_tokens, midi_bytes, prepare_midi, read_notes, tokens_to_midi, windows
from seqgan.data.prepared import load_prepared
from seqgan.data.vocab import NUM_KEYS, PitchInfo, Vocab, note_name, pitch_tokens
from seqgan.errors import UserError
from seqgan.eval.metrics import evaluate_samples, hold_rests, pitch_mse
from seqgan.models import Generator
from seqgan.train.logbook import read_metrics

TPB = 480  # ticks per beat of the files the tests write; at the default tempo one beat is 0.5 s
Note = tuple[int, int, int]  # (start tick, end tick, MIDI pitch)


def _midi_bytes(
    tracks: list[list[Note]],
    tempos: list[tuple[int, int]] = (),
    channels: list[int] | None = None,
    conductor: bool = False,
    file_type: int = 1,
) -> bytes:
    """A MIDI file: one track per note list (channel channels[i]); tempo changes (tick, us/beat) go in their own
    first track when ``conductor``, else in the first note track."""
    mid = mido.MidiFile(type=file_type, ticks_per_beat=TPB)
    if conductor:
        tracks = [[], *tracks]
        channels = [0, *(channels or [0] * (len(tracks) - 1))]
    channels = channels or [0] * len(tracks)
    for i, notes in enumerate(tracks):
        events = [(s, 1, mido.Message("note_on", note=p, velocity=90, channel=channels[i])) for s, _, p in notes]
        events += [(e, 0, mido.Message("note_off", note=p, velocity=0, channel=channels[i])) for _, e, p in notes]
        if i == 0:
            events += [(t, -1, mido.MetaMessage("set_tempo", tempo=tempo)) for t, tempo in tempos]
        track, last = mido.MidiTrack(), 0
        for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):  # at one tick: tempo, note-offs, note-ons
            track.append(msg.copy(time=tick - last))
            last = tick
        mid.tracks.append(track)
    return midi_bytes(mid)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _beats(pitches: list[int], beat: int = TPB) -> list[Note]:
    """Consecutive notes of one beat each."""
    return [(k * beat, (k + 1) * beat, p) for k, p in enumerate(pitches)]


def _melody(data: bytes, step: float, track: int | None = None) -> list[int]:
    return melody(read_notes(data, track), step).tolist()


# --------------------------------------------------------------- vocabulary
def test_pitch_vocabulary_names_and_strict_json(tmp_path: Path) -> None:
    assert [note_name(p) for p in (21, 60, 61, 69, 108)] == ["A0", "C4", "C#4", "A4", "C8"]
    tokens = pitch_tokens("token")
    assert len(tokens) == NUM_KEYS + 1 and tokens[0] == "A0" and tokens[39] == "C4" and tokens[-1] == "rest"
    vocab = Vocab("pitch", tokens, len(tokens), {}, False, PitchInfo(0.4, "token"))
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == vocab
    assert vocab.encode("C4 E4 rest") == [39, 43, 88] and vocab.decode([39, 43, 88]) == "C4 E4 rest"
    with pytest.raises(UserError, match="not a note"):
        vocab.encode("C4 H4")
    good = json.loads((tmp_path / "v.json").read_text())
    for damage in (
        {"tokens": tokens[:-1]},
        {"vocab_size": 88},
        {"pitch": {"step": 0, "rest": "token", "lowest": 21}},
        {"pitch": {"step": 0.4, "rest": "hold", "lowest": 21}},
        {"pitch": None},
        {"pitch": {"step": 0.4, "rest": "token", "lowest": 60}},
        {"level": "word"},
    ):
        (tmp_path / "bad.json").write_text(json.dumps({**good, **damage}))
        with pytest.raises(UserError, match="damaged"):
            Vocab.load(tmp_path / "bad.json")


# ----------------------------------------------------------------- melody
def test_multi_track_melody_is_the_highest_note_and_track_picks_one() -> None:
    # Track 0 melody (72 74 rest 76), track 1 bass (48 held 4 beats, then 50), track 2 drums on channel 10 (note 80,
    # higher than everything: must be left out). One sample per beat (0.5 s at the default tempo).
    melody_track = [(0, TPB, 72), (TPB, 2 * TPB, 74), (3 * TPB, 4 * TPB, 76)]
    bass = [(0, 4 * TPB, 48), (4 * TPB, 5 * TPB, 50)]
    drums = [(0, 5 * TPB, 80)]
    data = _midi_bytes([melody_track, bass, drums], channels=[0, 1, 9])
    assert _melody(data, 0.5) == [72, 74, 48, 76, 50]
    assert _melody(data, 0.5, track=1) == [48, 48, 48, 48, 50]
    assert _melody(data, 0.5, track=0) == [72, 74, -1, 76]
    with pytest.raises(Skip, match="no pitched note in track 2"):
        read_notes(data, track=2)


def test_tempo_changes_sampled_at_exact_times() -> None:
    # Beats 0-1 at 0.5 s/beat (0-1 s), then 1 s/beat from tick 960 (beats 2, 3: 1-2 s, 2-3 s), then 0.25 s/beat
    # from tick 1920 (beats 4, 5: 3-3.25 s, 3.25-3.5 s). The tempo changes sit in a conductor track of their own.
    data = _midi_bytes(
        [_beats([60, 62, 64, 65, 67, 69])], tempos=[(2 * TPB, 1_000_000), (4 * TPB, 250_000)], conductor=True
    )
    notes = read_notes(data)
    assert notes.start.tolist() == pytest.approx([0, 0.5, 1, 2, 3, 3.25], abs=1e-12)
    assert notes.end.tolist() == pytest.approx([0.5, 1, 2, 3, 3.25, 3.5], abs=1e-12)
    # t = 0, 0.25, ..., 3.25: two samples per beat at first, four per slow beat, one per fast beat
    assert _melody(data, 0.25) == [60, 60, 62, 62] + [64] * 4 + [65] * 4 + [67, 69]
    # a tempo change in the middle of a note stretches only what follows it
    data = _midi_bytes([[(0, 2 * TPB, 70), (2 * TPB, 3 * TPB, 71)]], tempos=[(TPB, 250_000)])
    assert read_notes(data).end.tolist() == pytest.approx([0.75, 1.0])
    assert _melody(data, 0.125) == [70] * 6 + [71] * 2


def test_overlapping_notes_and_retriggered_pitch() -> None:
    # 60 held beats 0-4 (and struck again at beat 2, off at 3 and 4: the first off ends the earliest note),
    # 67 over beat 1, 64 over beats 1-3.
    notes = [(0, 3 * TPB, 60), (2 * TPB, 4 * TPB, 60), (TPB, 2 * TPB, 67), (TPB, 3 * TPB, 64)]
    assert _melody(_midi_bytes([notes]), 0.5) == [60, 67, 64, 60]
    # a note with no note-off lasts to the end of its track; a zero-length note is never heard
    mid = mido.MidiFile(ticks_per_beat=TPB)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", note=62, velocity=80, time=0),
                mido.Message("note_on", note=90, velocity=80, time=TPB),
                mido.Message("note_off", note=90, velocity=0, time=0),
                mido.MetaMessage("end_of_track", time=TPB),
            ]
        )
    )
    assert _melody(midi_bytes(mid), 0.5) == [62, 62]


def test_rests_hold_or_token_and_octave_folding() -> None:
    # leading silence of 0.8 s, 60 for 0.4 s, 0.8 s of rest, 62; step 0.4 s = 384 ticks at 0.5 s/beat
    s = 384
    data = _midi_bytes([[(2 * s, 3 * s, 60), (5 * s, 6 * s, 62)]])
    mel = torch.tensor(_melody(data, 0.4))
    assert mel.tolist() == [-1, -1, 60, -1, -1, 62]
    hold, counts = melody_tokens(mel, "hold")
    assert hold.tolist() == [39, 39, 39, 41] and counts == {"folded": 0, "rests": 2}
    assert melody_tokens(mel, "token")[0].tolist() == [39, 88, 88, 41]
    # MIDI 10 and 9 lie below A0 (21): up one octave; 120 above C8 (108): down one; 127 down two
    folded, counts = melody_tokens(torch.tensor([10, 9, 120, 127, 108, 21]), "hold")
    assert (folded + 21).tolist() == [22, 21, 108, 103, 108, 21] and counts["folded"] == 4


def test_windows_are_non_overlapping_and_drop_the_tail() -> None:
    ids = torch.arange(10)
    assert windows(ids, 4).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert windows(ids, 11).shape == (0, 11)


# ------------------------------------------------------------------ round trip
@pytest.mark.parametrize("rest", ["hold", "token"])
def test_tokens_to_midi_to_tokens_round_trip(rest: str) -> None:
    rng = random.Random(0)
    pitch = PitchInfo(0.4, rest)
    for _ in range(20):
        ids = [rng.randrange(NUM_KEYS) for _ in range(32)]
        if rest == "token":  # rests inside (the reader starts at the first note and ends with the last)
            ids = [ids[0], *[88 if rng.random() < 0.3 else i for i in ids[1:-1]], ids[-1]]
        ids[5:9] = [ids[5]] * 4  # a held note
        mid = tokens_to_midi(ids, pitch)
        assert mid.length == pytest.approx(32 * 0.4)
        back = melody_tokens(melody(read_notes(midi_bytes(mid)), 0.4), rest)[0]
        assert back.tolist() == ids


# ------------------------------------------------------------------ prepare
def _tune(seed: int, beats: int, step_ticks: int = 384) -> bytes:
    """A random-walk melody over a held bass (two tracks), one note per 0.4 s."""
    rng = random.Random(seed)
    pitch, mel = 67, []
    for _ in range(beats):
        pitch = min(88, max(55, pitch + rng.choice([-2, -1, 1, 2])))
        mel.append(pitch)
    bass = [(0, beats * step_ticks, 40)]
    return _midi_bytes([_beats(mel, step_ticks), bass], channels=[0, 1])


def _folder(tmp_path: Path, n: int = 10, beats: int = 70) -> Path:
    folder = tmp_path / "midi"
    for i in range(n):
        _write(folder / ("sub" if i % 2 else "") / f"tune{i:02d}.mid", _tune(i, beats))
    return folder


def test_prepare_midi_writes_a_prepared_directory_split_by_tune(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    report = prepare_midi([folder], tmp_path / "data", seq_len=16, test_frac=0.2, seed=3)
    d = load_prepared(tmp_path / "data")
    # 70 samples per tune -> 4 windows of 16 (6 samples dropped); 2 of 10 tunes for the test set, 1 of the
    # other 8 for validation (the default --valid-frac 0.1)
    assert (report["files_read"], report["train_tunes"], report["valid_tunes"], report["test_tunes"]) == (10, 7, 1, 2)
    assert (report["windows"], len(d.train), len(d.valid), len(d.test), report["samples_dropped"]) == (40, 28, 4, 8, 60)
    assert (d.seq_len, d.vocab.level, d.vocab_size, d.vocab.pitch) == (16, "pitch", 88, PitchInfo(0.4, "hold"))
    assert (d.start_token, d.eos_token, d.pad_token) == (0, None, None)
    assert torch.equal(d.train_lengths, torch.full((28,), 16))
    tunes = d.manifest["tunes"]
    assert not set(tunes["train"]) & set(tunes["test"]) and len(tunes["test"]) == 2
    assert not set(tunes["valid"]) & (set(tunes["train"]) | set(tunes["test"])) and len(tunes["valid"]) == 1
    expected = torch.cat(
        [windows(melody_tokens(torch.tensor(_melody(Path(f).read_bytes(), 0.4)), "hold")[0], 16) for f in tunes["test"]]
    )
    assert torch.equal(d.test, expected)  # the test windows are exactly those of the test tunes
    lo, hi = int(torch.cat([d.train, d.test]).min()) + 21, int(torch.cat([d.train, d.test]).max()) + 21
    assert report["pitch_range"] == {"min": note_name(lo), "max": note_name(hi), "min_midi": lo, "max_midi": hi}
    again = prepare_midi([folder], tmp_path / "again", seq_len=16, test_frac=0.2, seed=3)
    assert again["test_windows"] == 8 and torch.equal(load_prepared(tmp_path / "again").test, d.test)
    other = prepare_midi([folder], tmp_path / "other", seq_len=16, test_frac=0.2, seed=4)
    assert json.loads((tmp_path / "other" / "manifest.json").read_text())["tunes"] != d.manifest["tunes"]
    assert other["windows"] == 40


def test_bad_files_are_skipped_with_one_warning_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path, n=3)
    _write(folder / "corrupt.mid", b"MThd\x00\x00\x00\x06\x00\x01\x00\x05\x01\xe0MTrk\x00\x00\x10\x00\x90\x3c")
    _write(folder / "random.MIDI", bytes(random.Random(1).randrange(256) for _ in range(300)))
    _write(folder / "empty.mid", b"")
    _write(folder / "silent.mid", _midi_bytes([[]]))  # a valid file without a note
    _write(folder / "drums.mid", _midi_bytes([[(0, 40 * TPB, 38)]], channels=[9]))
    _write(folder / "short.mid", _midi_bytes([_beats([60, 62, 64])]))
    _write(folder / "notes.txt", b"not a MIDI name: ignored")
    argv = ["prepare-midi", str(folder), "--out", str(tmp_path / "data"), "--seq-len", "16", "--json"]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    report = json.loads(out.splitlines()[-1])
    assert report["files_found"] == 9 and report["files_read"] == 3
    assert report["files_skipped"] == {"unreadable": 3, "no_notes": 2, "too_short": 1, "too_long": 0}
    warnings = err.splitlines()
    assert len(warnings) == 6 and all(w.startswith("warning: skipped ") for w in warnings)
    assert sum("unreadable" in w for w in warnings) == 3 and any("short.mid: too short" in w for w in warnings)
    names = {"corrupt.mid", "random.MIDI", "empty.mid", "silent.mid", "drums.mid", "short.mid"}
    assert {Path(s["file"]).name for s in report["skipped"]} == names


def test_no_usable_file_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "bad"
    _write(folder / "a.mid", b"")
    _write(folder / "b.mid", _midi_bytes([_beats([60, 62])]))
    out = tmp_path / "data"
    err = _user_error(capsys, ["prepare-midi", str(folder), "--out", str(out)])
    assert "none of the 2 MIDI file(s)" in err and "1 unreadable" in err and "1 shorter" in err
    assert not out.exists()
    (tmp_path / "nothing").mkdir()
    err = _user_error(capsys, ["prepare-midi", str(tmp_path / "nothing"), "--out", str(out)])
    assert "no .mid or .midi file" in err
    assert "does not exist" in _user_error(capsys, ["prepare-midi", str(tmp_path / "nope"), "--out", str(out)])


@pytest.mark.parametrize(
    ("flags", "pattern"),
    [
        (["--step", "0"], "--step 0.0 must be in"),
        (["--step", "nan"], "--step nan"),
        (["--seq-len", "0"], "--seq-len"),
        (["--track", "lead"], "--track 'lead'"),
        (["--test-frac", "1"], "--test-frac"),
        (["--rest", "x"], "invalid choice"),
    ],
)
def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], pattern: str) -> None:
    folder = _folder(tmp_path, n=2)
    assert pattern in _user_error(capsys, ["prepare-midi", str(folder), "--out", str(tmp_path / "d"), *flags])
    assert not (tmp_path / "d").exists()


def test_existing_out_and_one_tune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder(tmp_path, n=2)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("keep")
    err = _user_error(capsys, ["prepare-midi", str(folder), "--out", str(tmp_path / "mine"), "--force"])
    assert "which seqgan prepare did not write" in err and (tmp_path / "mine" / "keep.txt").read_text() == "keep"
    one = tmp_path / "one"
    _write(one / "a.mid", _tune(0, 40))
    err = _user_error(capsys, ["prepare-midi", str(one), "--out", str(tmp_path / "d")])
    assert "holding out 1 test and 1 validation tune(s) leaves none to train on" in err
    args = ["prepare-midi", str(one), "--out", str(tmp_path / "d"), "--test-frac", "0", "--valid-frac", "0"]
    assert cli.main(args) == 0
    assert len(load_prepared(tmp_path / "d").test) == 0


def test_failed_force_leaves_the_old_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path, n=3)
    prepare_midi([folder], tmp_path / "data", seq_len=16)
    before = {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        prepare_midi([folder], tmp_path / "data", seq_len=8, force=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "midi"]


def test_help_names_the_melody_rule(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["prepare-midi", "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.startswith("usage: seqgan prepare-midi") and "\nexample:\n  seqgan " in out
    assert "highest note sounding" in out and "non-overlapping windows" in out and "splits are by tune" in out
    with pytest.raises(SystemExit):
        cli.main(["eval", "--help"])
    assert "nearest test window" in capsys.readouterr().out


# --------------------------------------------------------------------- MSE
def test_pitch_mse_hand_computed() -> None:
    samples = torch.tensor([[0, 1, 2], [5, 5, 5]])
    refs = torch.tensor([[0, 0, 0], [4, 6, 5]])
    # sample 1: (0+1+4)/3 = 5/3 to ref 1 (50/3 to ref 2); sample 2: 75/3 to ref 1, (1+1+0)/3 = 2/3 to ref 2
    assert pitch_mse(samples, refs) == pytest.approx((5 / 3 + 2 / 3) / 2, abs=1e-12)
    assert pitch_mse(samples, refs, batch_size=1) == pitch_mse(samples, refs)
    # rests (id 88) count as the note last heard; leading rests as the first note; a row of rests as id 0
    assert hold_rests(torch.tensor([[88, 3, 88, 7], [88, 88, 88, 88]]), 88).tolist() == [[3, 3, 3, 7], [0, 0, 0, 0]]
    assert pitch_mse(torch.tensor([[88, 3, 88]]), torch.tensor([[3, 4, 5]]), rest_id=88) == pytest.approx(5 / 3)


def test_pitch_mse_equals_a_plain_loop() -> None:
    g = torch.Generator().manual_seed(0)
    samples, refs = torch.randint(0, 88, (37, 32), generator=g), torch.randint(0, 88, (11, 32), generator=g)
    loop = sum(min(float(((s - r).double() ** 2).mean()) for r in refs) for s in samples) / len(samples)
    assert pitch_mse(samples, refs, batch_size=8) == pytest.approx(loop, rel=1e-12)


def test_evaluate_samples_adds_mse_only_for_music() -> None:
    g = Generator(88, 4, 4, start_token=0, eos_token=None, pad_token=0)
    samples, test = torch.tensor([[0, 1, 2], [5, 5, 5]]), torch.tensor([[0, 0, 0], [4, 6, 5]])
    music = evaluate_samples(g, samples, test, None, (2,), True, pitch=PitchInfo(0.4, "hold"))
    assert music["eval/mse"] == pytest.approx(7 / 6) and "eval/bleu2" in music
    assert "eval/mse" not in evaluate_samples(g, samples, test, None, (2,), True)


def test_music_presets_use_the_paper_filters_for_t32() -> None:
    filters = presets.get("music").discriminator.filters(32)
    assert filters == paper_filters(32) and [w for w, _ in filters] == [*range(1, 11), 16, 24, 32]
    assert [w for w, _ in presets.get("music-cpu").discriminator.filters(32)] == [*range(1, 11), 16, 24, 32]


# -------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def music_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("music")
    folder = _folder(tmp, n=6, beats=70)
    assert cli.main(["prepare-midi", str(folder), "--out", str(tmp / "data"), "--test-frac", "0.3"]) == 0
    run = tmp / "run"
    sets = ["pretrain.g_epochs=2", "pretrain.d_steps=1", "adversarial.epochs=1", "eval.num_samples=32", "eval.every=1"]
    assert (
        cli.main(
            [
                "train",
                "--preset",
                "tiny",
                "--data",
                str(tmp / "data"),
                "--out-dir",
                str(run),
                "--no-progress",
                *sum((["--set", s] for s in sets), []),
            ]
        )
        == 0
    )
    return run


def test_train_on_midi_logs_bleu_and_mse(music_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evals = [e for e in read_metrics(music_run / "metrics.jsonl") if "eval/mse" in e]
    assert len(evals) >= 3 and all(e["eval/mse"] >= 0 and 0 <= e["eval/bleu4"] <= 1 for e in evals)
    assert Vocab.load(music_run / "vocab.json").pitch == PitchInfo(0.4, "hold")
    assert json.loads((music_run / "config.json").read_text())["data"]["seq_len"] == 32
    saved = (music_run / "samples" / "mle-0000.txt").read_text().splitlines()
    assert saved and all(len(line.split()) == 32 and set(line.split()) <= set(pitch_tokens("hold")) for line in saved)
    assert cli.main(["eval", str(music_run), "--num-samples", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["eval/mse"] >= 0 and "eval/bleu4" in result


def test_sample_midi_out_writes_playable_files(
    music_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "midi"
    argv = ["sample", str(music_run), "--num-samples", "4", "--seed", "2", "--midi-out", str(out)]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (out / "samples.txt").read_text().splitlines() == lines and len(lines) == 4
    files = sorted(out.glob("sample-*.mid"))
    assert [f.name for f in files] == [f"sample-{i:04d}.mid" for i in range(4)]
    vocab = Vocab.load(music_run / "vocab.json")
    for f, line in zip(files, lines, strict=True):
        mid = mido.MidiFile(f)
        assert mid.length == pytest.approx(32 * 0.4)
        tempos = [m.tempo for m in mid if m.type == "set_tempo"]
        assert tempos == [400_000]  # steady: one token = one beat = 0.4 s
        notes = [m.note for m in mid if m.type == "note_on"]
        assert notes and all(21 <= n <= 108 for n in notes)
        # what the file plays, read back every 0.4 s, is the sampled line
        back = melody_tokens(melody(read_notes(f.read_bytes()), 0.4), "hold")[0]
        assert vocab.decode(back) == line
    # a prefix of note names
    assert cli.main(["sample", str(music_run), "--num-samples", "3", "--prefix", "C4 E4"]) == 0
    assert all(line.startswith("C4 E4 ") for line in capsys.readouterr().out.splitlines())


def test_midi_out_refused_for_a_non_music_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "oracle"
    assert (
        cli.main(
            [
                "train",
                "--preset",
                "tiny",
                "--out-dir",
                str(run),
                "--no-progress",
                "--set",
                "pretrain.g_epochs=1",
                "--set",
                "pretrain.d_steps=0",
                "--set",
                "adversarial.epochs=0",
                "--set",
                "eval.num_samples=8",
            ]
        )
        == 0
    )
    capsys.readouterr()
    err = _user_error(capsys, ["sample", str(run), "--midi-out", str(tmp_path / "m")])
    assert "needs a music run" in err and not (tmp_path / "m").exists()


def test_midi_out_must_be_a_folder(music_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert "not a folder" in _user_error(capsys, ["sample", str(music_run), "--midi-out", str(tmp_path / "file")])
    assert "does not exist" in _user_error(capsys, ["sample", str(music_run), "--midi-out", str(tmp_path / "a" / "b")])


def test_written_file_is_standard_midi() -> None:
    """The writer's bytes parse back with mido and hold one track, the tempo, then note pairs."""
    data = midi_bytes(tokens_to_midi([39, 39, 41, 88, 43], PitchInfo(0.5, "token")))
    mid = mido.MidiFile(file=io.BytesIO(data))
    assert mid.type == 0 and len(mid.tracks) == 1 and mid.length == pytest.approx(2.5)
    on = [(m.note, m.time) for m in mid.tracks[0] if m.type == "note_on"]
    assert [n for n, _ in on] == [60, 62, 64]  # the held 39 39 is one note


@pytest.mark.slow
def test_benchmark_script_on_a_demo_folder(tmp_path: Path) -> None:
    """benchmarks/music/run.py end to end (tiny preset): prepare, the verdict's runs and frontiers, MIDI samples,
    results.md with the paper's rows beside ours."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "music" / "run.py"
    demo, out = tmp_path / "demo", tmp_path / "out"
    subprocess.run([sys.executable, str(script), "--make-demo-folder", str(demo), "--demo-tunes", "12"], check=True)
    assert len(list(demo.glob("*.mid"))) == 12 and (demo / "SYNTHETIC.txt").exists()
    args = ["--midi", str(demo), "--out", str(out), "--preset", "tiny", "--num-samples", "64", "--no-lm"]
    subprocess.run([sys.executable, str(script), *args, "--set", "adversarial.epochs=2"], check=True, timeout=600)
    results = (out / "results.md").read_text()
    assert "Does the discriminator help? Melodies" in results and "SYNTHETIC melodies" in results
    assert "| MLE (paper) | 0.9210 | 22.38 |" in results and "| SeqGAN (paper) | 0.9406 | 20.62 |" in results
    v = json.loads((out / "verdict.json").read_text())
    assert v["kind"] == "music" and [f["name"] for f in v["frontiers"]] == ["BLEU-4 / Self-BLEU-4", "MSE / Self-BLEU-4"]
    bleu = [p["1"]["eval/bleu4"] for p in v["points"]["seqgan"].values()]
    assert f"| SeqGAN (ours) | {sum(bleu) / len(bleu):.4f} |" in results
    assert (out / "frontier-mse-self-bleu-4.png").stat().st_size > 0
    for name in ("mle_es", "seqgan"):
        assert len(list((out / "midi" / name).glob("sample-*.mid"))) == 8
