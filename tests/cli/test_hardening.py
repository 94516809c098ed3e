"""What a hostile tester tried (issue 16), class by class: every case ends in success or one `error:` line with exit
code 2, and nothing already written is lost or corrupted."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from helpers import ok, user_error

from seqgan import cli
from seqgan.tools.turing import neutralise_cell, restore_cell


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def run_copy(tiny_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    return run


# ------------------------------------------------------------------ 1. security: CSV injection
@pytest.mark.parametrize(
    "cell",
    ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=x", "''+y", "plain", "", "'plain", "a=b"],
)
def test_csv_cells_are_neutralised_and_read_back_exactly(cell: str) -> None:
    written = neutralise_cell(cell)
    assert written[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert restore_cell(written) == cell


def test_turing_sheet_and_key_hold_no_formula_and_score_reads_them_back(tmp_path: Path, capsys) -> None:
    real, gen = tmp_path / "real.txt", tmp_path / "gen.txt"
    real.write_text("=cmd|'/c calc'!A1\n+a b\n-c d\n@e f\n", encoding="utf-8")
    gen.write_text("ordinary one\nordinary two\nordinary three\nordinary four\n", encoding="utf-8")
    ok(
        capsys,
        [
            "turing-test",
            "build",
            "--system",
            f"@evil={real}",
            "--system",
            f"gen={gen}",
            "--per-system",
            "4",
            "--out",
            str(tmp_path / "t"),
        ],
    )
    for name in ("sheet.csv", "key.csv"):
        rows = list(csv.reader(io.StringIO((tmp_path / "t" / name).read_text(encoding="utf-8-sig"))))
        assert all(cell[:1] not in ("=", "+", "-", "@") for row in rows for cell in row), name
    sheet = (tmp_path / "t" / "sheet.csv").read_bytes().decode("utf-8-sig").replace(",\r\n", ",1\r\n")
    (tmp_path / "judge.csv").write_text(sheet, encoding="utf-8")
    result = json.loads(
        ok(
            capsys,
            ["turing-test", "score", "--key", str(tmp_path / "t" / "key.csv"), str(tmp_path / "judge.csv"), "--json"],
        )
        .strip()
        .splitlines()[-1]
    )
    assert set(result["systems"]) == {"@evil", "gen"}  # the label as given, not as neutralised


# ------------------------------------------------------------------ 2. data loss
def test_prepare_force_never_deletes_foreign_files_or_the_input(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\nb c d\nc d e\nd e f\n")
    ok(capsys, ["prepare", str(corpus), "--out", str(data)])
    (data / "notes.txt").write_text("mine")
    before = _snapshot(data)
    assert "which seqgan prepare did not write" in user_error(
        capsys, ["prepare", str(corpus), "--out", str(data), "--force"]
    )
    assert _snapshot(data) == before
    (data / "notes.txt").unlink()
    inside = data / "corpus.txt"
    shutil.copy(corpus, inside)
    assert "lies inside --out" in user_error(capsys, ["prepare", str(inside), "--out", str(data), "--force"])
    assert inside.read_bytes() == corpus.read_bytes()


@pytest.mark.parametrize("target", ["checkpoints/last.pt", "config.json", "data.pt", "metrics.jsonl"])
def test_outputs_never_overwrite_a_run_s_own_files(run_copy: Path, target: str, capsys) -> None:
    before = _snapshot(run_copy)
    for argv in (
        ["sample", str(run_copy), "--num-samples", "2", "--out", str(run_copy / target), "--force"],
        ["plot", str(run_copy), "--out", str(run_copy / target), "--force"],
        ["oracle", "new", "--out", str(run_copy / target), "--force", "--vocab-size", "10"],
    ):
        assert "files of the run" in user_error(capsys, argv)
    assert _snapshot(run_copy) == before
    ok(capsys, ["sample", str(run_copy), "--num-samples", "2"])  # the run still works


def test_existing_outputs_need_force(run_copy: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "mine.txt"
    out.write_text("keep")
    for argv in (
        ["sample", str(run_copy), "--num-samples", "2", "--out", str(out)],
        ["oracle", "new", "--out", str(out), "--vocab-size", "10"],
        ["oracle", "sample", "--params", str(run_copy / "oracle.npz"), "--out", str(out)],
        ["plot", str(run_copy), "--out", str(out)],
    ):
        assert "already exists: pass --force" in user_error(capsys, argv)
        assert out.read_text() == "keep"
    ok(capsys, ["sample", str(run_copy), "--num-samples", "2", "--out", str(out), "--force"])
    assert out.read_text() != "keep"


# ------------------------------------------------------------------ 3. tracebacks: values and tampered files
BAD_SETTINGS = [
    "pretrain.g_lr=nan",
    "adversarial.grad_clip=nan",
    "generator.init_std=inf",
    "run.seed=9223372036854775808",
    "eval.bleu_orders=0",
    "eval.bleu_orders=1000000000",
    "generator.hidden_dim=1000000",
    "data.num_train=1000000000000",
    "adversarial.rollout_num=100000000",
    "eval.best_metric=eval/nll_test",
]


@pytest.mark.parametrize("setting", BAD_SETTINGS)
def test_bad_settings_are_refused_before_the_run_exists(tmp_path: Path, setting: str, capsys) -> None:
    out = tmp_path / "run"
    user_error(capsys, ["train", "--preset", "tiny", "--set", setting, "--out-dir", str(out), "--no-progress"])
    assert not out.exists()


def test_absurd_sizes_and_seeds_on_the_command_line(tmp_path: Path, tiny_run: Path, capsys) -> None:
    assert "GiB" in user_error(capsys, ["oracle", "new", "--vocab-size", "1000000000", "--out", str(tmp_path / "o")])
    for argv in (
        ["sample", str(tiny_run), "--seed", str(2**64)],
        ["sample", str(tiny_run), "--seed", "-1"],
        ["sample", str(tiny_run), "--num-samples", "1000000000"],
        ["eval", str(tiny_run), "--num-samples", "1000000000"],
        [
            "oracle",
            "sample",
            "--params",
            str(tiny_run / "oracle.npz"),
            "--seq-len",
            "1000000000",
            "--out",
            str(tmp_path / "s.txt"),
        ],
        ["bleu", "--hyps", str(tiny_run / "command.txt"), "--refs", str(tiny_run / "command.txt"), "--n", "1000000000"],
    ):
        user_error(capsys, argv)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["nan", "1e-300", "inf", "0"])
def test_temperatures_that_would_give_wrong_output_are_refused(tiny_run: Path, value: str, capsys) -> None:
    assert "temperature" in user_error(capsys, ["sample", str(tiny_run), "--temperature", value])
    assert "temperature" in user_error(capsys, ["eval", str(tiny_run), "--temperature", value, "--json"])


def test_non_utf8_file_names_are_refused_before_any_work(tmp_path: Path, capsys) -> None:
    bad = os.fsdecode(bytes(tmp_path) + b"/r\xffun")
    err = user_error(capsys, ["train", "--preset", "tiny", "--out-dir", bad, "--no-progress"])
    assert "not valid UTF-8" in err and "\\xff" in err
    assert list(tmp_path.iterdir()) == []


def _rewrite(path: Path, obj: object) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    path.write_bytes(buf.getvalue())


def test_tampered_run_files_are_one_line(run_copy: Path, capsys) -> None:
    (run_copy / "data.pt").write_bytes(b"garbage")
    assert "data.pt is missing or damaged" in user_error(capsys, ["eval", str(run_copy)])
    assert "data.pt is missing or damaged" in user_error(capsys, ["train", "--resume", str(run_copy)])
    bad = {"train": torch.full((4, 8), 49), "valid": torch.full((2, 8), 49), "test": torch.full((4, 8), 50)}
    _rewrite(run_copy / "data.pt", bad)  # id 50 >= V
    assert "ids of the run's length and vocabulary" in user_error(capsys, ["eval", str(run_copy)])
    (run_copy / "config.json").write_bytes(b"\xff\xfe not utf-8")
    assert "config.json is damaged" in user_error(capsys, ["eval", str(run_copy)])


def test_checkpoint_damaged_inside_falls_back_to_prev(run_copy: Path, capsys, caplog) -> None:
    from seqgan.train.checkpoint import load_file, save_checkpoint

    ckpt = load_file(run_copy / "checkpoints" / "last.pt")
    ckpt["generator"] = {k: v[:1] for k, v in ckpt["generator"].items()}  # other shapes, a valid checksum
    before_prev = (run_copy / "checkpoints" / "last.pt").read_bytes()
    save_checkpoint(run_copy / "checkpoints", ckpt)  # last.pt -> prev.pt, the damaged one becomes last.pt
    assert (run_copy / "checkpoints" / "prev.pt").read_bytes() == before_prev
    with caplog.at_level("WARNING", logger="seqgan"):
        assert cli.main(["train", "--resume", str(run_copy), "--no-progress"]) == 0
    assert "using the previous checkpoint" in caplog.text and "does not fit" in caplog.text
    outer = torch.load(run_copy / "checkpoints" / "last.pt", weights_only=True)
    del outer["sha256"]
    _rewrite(run_copy / "checkpoints" / "last.pt", outer)
    _rewrite(run_copy / "checkpoints" / "prev.pt", {"format_version": 2})
    assert "lacks the payload or the checksum" in user_error(capsys, ["sample", str(run_copy)])


def test_prepared_ids_outside_the_vocabulary_and_duplicate_tokens(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\nb c d\nc d e\nd e f\n")
    ok(capsys, ["prepare", str(corpus), "--out", str(tmp_path / "data"), "--test-frac", "0", "--valid-frac", "0"])
    train = torch.load(tmp_path / "data" / "train.pt", weights_only=True)
    train["tokens"][0, 0] = 10_000
    _rewrite(tmp_path / "data" / "train.pt", train)
    assert "train.pt is damaged" in user_error(
        capsys,
        [
            "train",
            "--preset",
            "tiny",
            "--data",
            str(tmp_path / "data"),
            "--out-dir",
            str(tmp_path / "r"),
            "--no-progress",
        ],
    )
    vocab = json.loads((tmp_path / "data" / "vocab.json").read_text())
    vocab["tokens"][5] = vocab["tokens"][4]
    (tmp_path / "data" / "vocab.json").write_text(json.dumps(vocab))
    assert "appears twice" in user_error(
        capsys,
        [
            "train",
            "--preset",
            "tiny",
            "--data",
            str(tmp_path / "data"),
            "--out-dir",
            str(tmp_path / "r"),
            "--no-progress",
        ],
    )
    assert not (tmp_path / "r").exists()


def test_plot_leaves_malformed_log_lines_out(run_copy: Path, tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    with open(run_copy / "metrics.jsonl", "a") as f:
        f.write('{"phase": "mle", "epoch": "abc", "eval/nll_oracle": 1.0}\n{"phase": 3, "epoch": 1}\n[1, 2]\n')
    ok(capsys, ["plot", str(run_copy), "--out", str(tmp_path / "c.png")])


def test_midi_note_of_days_is_skipped_as_one_file(tmp_path: Path, capsys) -> None:
    mido = pytest.importorskip("mido")
    folder = tmp_path / "midi"
    folder.mkdir()
    for name, ticks in (("huge.mid", 2**28), ("ok.mid", 480 * 40)):
        mid = mido.MidiFile(ticks_per_beat=1 if name == "huge.mid" else 480)
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("set_tempo", tempo=2**24 - 1 if name == "huge.mid" else 500_000))
        track.append(mido.Message("note_on", note=60, velocity=80, time=0))
        track.append(mido.Message("note_off", note=60, velocity=0, time=ticks))
        mid.tracks.append(track)
        mid.save(folder / name)
    ok(
        capsys,
        [
            "prepare-midi",
            str(folder),
            "--out",
            str(tmp_path / "d"),
            "--seq-len",
            "8",
            "--test-frac",
            "0",
            "--valid-frac",
            "0",
            "--json",
        ],
    )


# ------------------------------------------------------------------ 4. hangs: FIFOs and devices
def test_fifos_and_devices_are_refused_not_waited_on(tmp_path: Path, tiny_run: Path, capsys) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for argv in (
        ["prepare", str(fifo), "--out", str(tmp_path / "d")],
        ["sample", str(tiny_run), "--checkpoint", str(fifo)],
        ["bleu", "--hyps", str(fifo), "--refs", str(fifo)],
        ["oracle", "score", "--params", str(tiny_run / "oracle.npz"), "--input", str(fifo)],
        ["turing-test", "score", "--key", str(fifo), str(fifo)],
    ):
        err = user_error(capsys, argv)
        assert "not a regular file" in err and "does not exist" not in err, argv
    assert "not a regular file" in user_error(capsys, ["prepare", "/dev/null", "--out", str(tmp_path / "d")])


def test_sample_streams_and_gives_the_same_lines_however_it_is_cut(tiny_run: Path, tmp_path: Path) -> None:
    from seqgan.train.portable import load_run

    run = load_run(tiny_run)
    whole = run.sample_ids(3000, seed=4)
    pieces = torch.cat(list(run.iter_sample_ids(3000, seed=4, chunk=1024)))
    assert torch.equal(whole, pieces)
    assert (
        cli.main(["sample", str(tiny_run), "--num-samples", "3000", "--seed", "4", "--out", str(tmp_path / "s.txt")])
        == 0
    )
    assert (tmp_path / "s.txt").read_text().splitlines() == run.sample(3000, seed=4)


# ------------------------------------------------------------------ 5. wrong output, misleading messages
def test_test_frac_zero_trains(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"w{i % 7} w{i % 5} w{i % 3}\n" for i in range(40)))
    ok(capsys, ["prepare", str(corpus), "--out", str(tmp_path / "d"), "--test-frac", "0"])
    ok(
        capsys,
        [
            "train",
            "--preset",
            "tiny",
            "--data",
            str(tmp_path / "d"),
            "--out-dir",
            str(tmp_path / "r"),
            "--no-progress",
            "--set",
            "pretrain.g_epochs=1",
            "--set",
            "adversarial.epochs=1",
        ],
    )
    assert "no test split" in user_error(capsys, ["eval", str(tmp_path / "r")])
    ok(capsys, ["eval", str(tmp_path / "r"), "--split", "valid"])


def test_a_tiny_corpus_gets_a_clear_warning(tmp_path: Path, capsys, caplog) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b\nc d\n")
    ok(capsys, ["prepare", str(corpus), "--out", str(tmp_path / "d"), "--test-frac", "0", "--valid-frac", "0"])
    with caplog.at_level("WARNING", logger="seqgan"):
        assert (
            cli.main(
                [
                    "train",
                    "--preset",
                    "tiny",
                    "--data",
                    str(tmp_path / "d"),
                    "--out-dir",
                    str(tmp_path / "r"),
                    "--no-progress",
                    "--set",
                    "pretrain.g_epochs=1",
                    "--set",
                    "adversarial.epochs=0",
                ]
            )
            == 0
        )
    assert "only 2 training sequences, fewer than one batch" in caplog.text


def test_nul_after_eight_kilobytes_and_high_test_frac_messages(tmp_path: Path, capsys) -> None:
    late_nul = tmp_path / "late.txt"
    late_nul.write_bytes(b"a b c\n" * 3000 + b"x\x00y\n")
    assert "line 3001 holds a NUL byte" in user_error(capsys, ["prepare", str(late_nul), "--out", str(tmp_path / "d")])
    many = tmp_path / "many.txt"
    many.write_text("".join(f"w{i}\n" for i in range(300)))
    err = user_error(capsys, ["prepare", str(many), "--out", str(tmp_path / "d"), "--test-frac", "0.999"])
    assert "lower --test-frac" in err and "give more lines" not in err


def test_control_characters_in_a_sheet_header_are_escaped(tmp_path: Path, capsys) -> None:
    key = tmp_path / "key.csv"
    key.write_text("id,sys\x1b[31mtem\n1,a\n", encoding="utf-8")
    err = user_error(capsys, ["turing-test", "score", "--key", str(key), str(key)])
    assert "\x1b" not in err and "\\x1b" in err


def test_a_text_file_too_large_for_memory_is_refused_before_reading(tmp_path: Path, capsys, monkeypatch) -> None:
    import seqgan.data.lines

    refs = tmp_path / "refs.txt"
    refs.write_text("a b c\n" * 1000)  # 6 KB, and the machine pretends to have 100 KB free
    monkeypatch.setattr(seqgan.data.lines, "available_memory", lambda: 100_000)
    assert "give a smaller file" in user_error(capsys, ["bleu", "--hyps", str(refs), "--refs", str(refs)])
    assert "give a smaller file" in user_error(capsys, ["prepare", str(refs), "--out", str(tmp_path / "d")])


def test_labelled_prepare_errors_are_one_line(tmp_path: Path, capsys) -> None:
    corpus, test = tmp_path / "c.tsv", tmp_path / "t.tsv"
    corpus.write_text("".join(f"{'ab'[i % 2]}\tw{i % 3} w{i % 5}\n" for i in range(20)))
    test.write_text("a\tw1 w2\nc\tw0\n")
    prep = ["prepare", str(corpus), "--out", str(tmp_path / "d"), "--labels", "tab"]
    err = user_error(capsys, [*prep, "--test-file", str(test)])
    assert f"{test} line 2 has the label 'c', which {corpus} never uses (its labels: a, b)" in err
    test.write_text("a\tw1 w2\n\tw0\n")
    assert f"{test} line 2 has an empty label before its tab" in user_error(capsys, [*prep, "--test-file", str(test)])
    test.write_text("w1 w2\n")
    assert f"{test} line 1 has no tab" in user_error(capsys, [*prep, "--valid-file", str(test)])
    assert "label 'a' of" in user_error(capsys, [*prep, "--test-frac", "0.9"])
    assert not (tmp_path / "d").exists()
    report = json.loads(ok(capsys, [*prep, "--json"]).strip().splitlines()[-1])
    assert report["labels"] == {"a": {"train": 8, "valid": 1, "test": 1}, "b": {"train": 8, "valid": 1, "test": 1}}
