"""Fuzzing the inputs people write by hand: corpora for `prepare`, MIDI files for `prepare-midi`, judges' sheets for
`turing-test score`, and `--set` values. Every case may only succeed or fail as a user error: exit code 2 and one
`error:` line, never a traceback. The default suite runs a few dozen cases each; `pytest -m slow` runs many more."""

from __future__ import annotations

import contextlib
import io
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqgan import cli
from seqgan.config import all_keys

QUICK = settings(
    max_examples=25, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
LONG = settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def _only_success_or_one_line(argv: list[str]) -> int:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    text = err.getvalue()
    assert "Traceback" not in text, text
    if code != 0:
        assert code == 2 and text.startswith("error:") and text.count("\n") == 1, (code, text)
    return code


# ------------------------------------------------------------------ prepare
lines = st.lists(
    st.one_of(st.text(max_size=30), st.sampled_from(["<eos>", "<pad>", "<unk>", "\r", "\ufeff", " "])), max_size=12
)
raw_bytes = st.one_of(st.binary(max_size=200), lines.map(lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")))
flags = st.lists(
    st.sampled_from(
        [
            ["--level", "char"],
            ["--level", "punct"],
            ["--lowercase"],
            ["--max-len", "3"],
            ["--vocab-size", "6"],
            ["--min-freq", "2"],
            ["--test-frac", "0"],
            ["--valid-frac", "0.5"],
            ["--test-frac", "0.9"],
            ["--ids", "--vocab-size", "10"],
        ]
    ),
    max_size=3,
)


def _prepare(raw: bytes, extra: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "in.txt"
        src.write_bytes(raw)
        _only_success_or_one_line(["prepare", str(src), "--out", str(Path(d) / "out"), *sum(extra, [])])


@QUICK
@given(raw_bytes, flags)
def test_fuzz_prepare(raw: bytes, extra: list[list[str]]) -> None:
    _prepare(raw, extra)


@pytest.mark.slow
@LONG
@given(raw_bytes, flags)
def test_fuzz_prepare_long(raw: bytes, extra: list[list[str]]) -> None:
    _prepare(raw, extra)


# ------------------------------------------------------------------ prepare-midi
def _midi_like(seed: int, damage: int) -> bytes:
    """A valid one-track MIDI file of random notes and tempos, then ``damage`` random bytes overwritten."""
    mido = pytest.importorskip("mido")
    r = random.Random(seed)
    mid = mido.MidiFile(ticks_per_beat=r.choice([1, 96, 480]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=r.randint(1, 2**24 - 1)))
    for _ in range(r.randint(0, 30)):
        note = r.randint(0, 127)
        track.append(
            mido.Message(
                "note_on", note=note, velocity=r.randint(0, 127), time=r.randint(0, 2000), channel=r.choice([0, 0, 9])
            )
        )
        track.append(mido.Message("note_off", note=note, velocity=0, time=r.randint(0, 5000)))
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    data = bytearray(buf.getvalue())
    for _ in range(damage):
        data[r.randrange(len(data))] = r.randrange(256)
    return bytes(data)


def _prepare_midi(seeds: list[int], damage: int, extra: list[str]) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "midi"
        folder.mkdir()
        for i, s in enumerate(seeds):
            (folder / f"t{i}.mid").write_bytes(_midi_like(s, damage))
        _only_success_or_one_line(
            ["prepare-midi", str(folder), "--out", str(Path(d) / "out"), "--seq-len", "4", *extra]
        )


midi_flags = st.sampled_from([[], ["--rest", "token"], ["--step", "0.05"], ["--track", "1"], ["--test-frac", "0"]])


@QUICK
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=4), st.integers(0, 6), midi_flags)
def test_fuzz_prepare_midi(seeds: list[int], damage: int, extra: list[str]) -> None:
    _prepare_midi(seeds, damage, extra)


@pytest.mark.slow
@LONG
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=6), st.integers(0, 20), midi_flags)
def test_fuzz_prepare_midi_long(seeds: list[int], damage: int, extra: list[str]) -> None:
    _prepare_midi(seeds, damage, extra)


# ------------------------------------------------------------------ turing-test score
cells = st.one_of(st.text(max_size=12), st.sampled_from(["1", "0", "yes", "real", " ", "=1+1", "judgement", "id"]))
rows = st.lists(st.lists(cells, max_size=4), max_size=8)
separators = st.sampled_from([",", ";", "\t"])


@pytest.fixture(scope="module")
def sheet_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("turing")
    for name in ("a", "b"):
        (d / f"{name}.txt").write_text("".join(f"{name} sample {i}\n" for i in range(4)), encoding="utf-8")
    assert (
        cli.main(
            [
                "turing-test",
                "build",
                "--system",
                f"a={d / 'a.txt'}",
                "--system",
                f"b={d / 'b.txt'}",
                "--per-system",
                "2",
                "--out",
                str(d / "t"),
            ]
        )
        == 0
    )
    return d / "t"


def _score(key: Path, table: list[list[str]], sep: str, take_ids: bool) -> None:
    ids = [line.split(",")[0] for line in (key / "key.csv").read_text(encoding="utf-8-sig").splitlines()[1:]]
    if take_ids:  # rows that name real ids, so that some sheets get past the id check
        table = [[ids[i % len(ids)], *row[1:]] for i, row in enumerate(table)]
    with tempfile.TemporaryDirectory() as d:
        sheet = Path(d) / "judge.csv"
        sheet.write_text("\n".join(sep.join(row) for row in [["id", "text", "judgement"], *table]), encoding="utf-8")
        _only_success_or_one_line(["turing-test", "score", "--key", str(key / "key.csv"), str(sheet), "--json"])


@QUICK
@given(rows, separators, st.booleans())
def test_fuzz_turing_score(sheet_key: Path, table: list[list[str]], sep: str, take_ids: bool) -> None:
    _score(sheet_key, table, sep, take_ids)


@pytest.mark.slow
@LONG
@given(rows, separators, st.booleans())
def test_fuzz_turing_score_long(sheet_key: Path, table: list[list[str]], sep: str, take_ids: bool) -> None:
    _score(sheet_key, table, sep, take_ids)


# ------------------------------------------------------------------ --set values
# Schedule lengths and sizes are left out: a huge value there is a long run (or refused by the memory check, tested
# in tests/cli/test_hardening.py), not a malformed input.
LONG_RUNNING = (
    "epochs",
    "steps",
    "num_",
    "seq_len",
    "batch",
    "rollout_num",
    "patience",
    "every",
    "dim",
    "vocab_size",
    "filters",
    "filter_sizes",
)
KEYS = [k for k in all_keys() if not any(part in k for part in LONG_RUNNING)]
values = st.one_of(
    st.sampled_from(
        [
            "nan",
            "inf",
            "-1",
            "0",
            "1e309",
            "none",
            "",
            "true",
            "2,3",
            "1 2 x",
            "9" * 30,
            "eval/nll_test",
            "adam",
            "sgd",
            "delayed",
            "0.5",
        ]
    ),
    st.text(max_size=8),
)


def _set(settings_: list[tuple[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        argv = [
            "train",
            "--preset",
            "tiny",
            "--out-dir",
            str(Path(d) / "run"),
            "--no-progress",
            "--set",
            "pretrain.g_epochs=1",
            "--set",
            "pretrain.d_steps=1",
            "--set",
            "adversarial.epochs=1",
        ]
        for key, value in settings_:
            argv += ["--set", f"{key}={value}"]
        _only_success_or_one_line(argv)


@QUICK
@given(st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=2))
def test_fuzz_set_values(settings_: list[tuple[str, str]]) -> None:
    _set(settings_)


@pytest.mark.slow
@LONG
@given(st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=3))
def test_fuzz_set_values_long(settings_: list[tuple[str, str]]) -> None:
    _set(settings_)
