"""Hardening, round 3 (issue 28): what the commands write and how they fail. No folder the project wrote loses a
file to another command, no output is silently wrong or corrupt, sizes are bounded before anything is built, and
every failure (a launcher's environment, a full or read-only disk) is one line that says what is really wrong."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ok, user_error

from seqgan import cli

REPO = Path(__file__).resolve().parents[2]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, tiny_run: Path) -> dict[str, Path]:
    """An exported model of the shared run and a prepared data directory (copied by tests that change them)."""
    d = tmp_path_factory.mktemp("outputs")
    assert cli.main(["export", str(tiny_run), "--out", str(d / "model")]) == 0
    (d / "c.txt").write_text("a b c\nb c d\nc d e\nd e f\n" * 4)
    assert cli.main(["prepare", str(d / "c.txt"), "--out", str(d / "data")]) == 0
    return {"model": d / "model", "data": d / "data", "run": tiny_run}


# ------------------------------------------------------------------ 3. data loss
def test_export_force_never_deletes_files_it_did_not_write(folders, tmp_path: Path, capsys) -> None:
    model = tmp_path / "model"
    shutil.copytree(folders["model"], model)
    (model / "notes.txt").write_text("mine")
    before = _snapshot(model)
    err = user_error(capsys, ["export", str(folders["run"]), "--out", str(model), "--force"])
    assert "'notes.txt', which seqgan export did not write" in err
    assert _snapshot(model) == before
    (model / "notes.txt").unlink()
    ok(capsys, ["export", str(folders["run"]), "--out", str(model), "--force"])  # its own files: replaced


@pytest.mark.parametrize(
    ("where", "target", "kind"),
    [
        ("model", "generator.safetensors", "exported model"),
        ("model", "config.json", "exported model"),
        ("model", "model.json", "exported model"),
        ("model", "oracle.npz", "exported model"),
        ("data", "train.pt", "prepared data"),
        ("data", "vocab.json", "prepared data"),
        ("data", "manifest.json", "prepared data"),
    ],
)
def test_outputs_never_overwrite_a_project_folder_s_own_files(
    folders, tmp_path: Path, where: str, target: str, kind: str, capsys
) -> None:
    folder = tmp_path / where
    shutil.copytree(folders[where], folder)
    before = _snapshot(folder)
    for argv in (
        ["sample", str(folders["run"]), "--num-samples", "2", "--out", str(folder / target), "--force"],
        ["plot", str(folders["run"]), "--out", str(folder / target), "--force"],
        ["oracle", "new", "--out", str(folder / target), "--force", "--vocab-size", "10"],
        ["oracle", "sample", "--params", str(folders["run"] / "oracle.npz"), "--out", str(folder / target), "--force"],
    ):
        assert f"files of the {kind}" in user_error(capsys, argv)
    assert _snapshot(folder) == before
    ok(capsys, ["sample", str(folders["run"]), "--num-samples", "2", "--out", str(folder / "mine.txt")])


# ------------------------------------------------------------------ 4. sizes bounded before anything is built
def test_a_transformer_of_100000_layers_is_refused_at_once(tmp_path: Path, capsys) -> None:
    start = time.perf_counter()
    argv = ["train", "--preset", "tiny", "--out-dir", str(tmp_path / "r"), "--no-progress"]
    err = user_error(capsys, argv + ["--set", "generator.kind=transformer", "--set", "generator.layers=100000"])
    assert "generator.layers must be at most 1,000" in err
    assert time.perf_counter() - start < 5 and not (tmp_path / "r").exists()


def test_a_discriminator_of_5000_windows_is_refused_at_once(tmp_path: Path, capsys) -> None:
    argv = ["train", "--preset", "tiny", "--out-dir", str(tmp_path / "r"), "--no-progress"]
    many = ",".join(["1"] * 5000)
    err = user_error(
        capsys, argv + ["--set", f"discriminator.filter_sizes={many}", "--set", f"discriminator.num_filters={many}"]
    )
    assert "holds 5,000 entries: give at most 1,000" in err and not (tmp_path / "r").exists()


def test_the_memory_check_of_a_deep_transformer_counts_without_building_it() -> None:
    from helpers import tiny_config

    from seqgan.models.build import build_models, parameter_counts

    def built(layers: int) -> tuple[int, int]:
        models = build_models(tiny_config("generator.kind=transformer", f"generator.layers={layers}"))
        return tuple(sum(p.numel() for p in m.parameters()) for m in (models.generator, models.discriminator))

    for layers in (1, 2, 3, 7):
        assert parameter_counts(tiny_config("generator.kind=transformer", f"generator.layers={layers}")) == built(
            layers
        )
    (one, d), (two, _) = built(1), built(2)
    start = time.perf_counter()
    assert parameter_counts(tiny_config("generator.kind=transformer", "generator.layers=1000")) == (
        one + 999 * (two - one),
        d,
    )
    assert time.perf_counter() - start < 1.0


def test_prepare_refuses_a_line_longer_than_a_run_trains_on(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n" * 200 + " ".join(["w"] * 20_000) + "\n")
    err = user_error(capsys, ["prepare", str(corpus), "--out", str(tmp_path / "d")])
    assert "20,000 tokens" in err and "--max-len 3 " in err  # the p99 length
    assert not (tmp_path / "d").exists()
    ok(capsys, ["prepare", str(corpus), "--out", str(tmp_path / "d"), "--max-len", "3"])
    err = user_error(capsys, ["prepare", str(corpus), "--out", str(tmp_path / "e"), "--max-len", "20000"])
    assert "--max-len 20000 makes sequences of 20,001 tokens" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seqgan(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    full.update(PYTHONPATH=str(REPO), **env)
    return subprocess.run(
        [sys.executable, "-m", "seqgan", *args], env=full, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' in the environment is not an integer"),
        ({"RANK": "0", "WORLD_SIZE": "2"}, "WORLD_SIZE=2 is set but MASTER_ADDR is not"),
        ({"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "1"}, "not an integer in 0..1"),
        ({"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "x"}, "MASTER_PORT='x'"),
    ],
)
def test_launcher_variables_without_torchrun_are_one_line(tmp_path: Path, env, says, monkeypatch, capsys) -> None:
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert says in user_error(capsys, ["train", "--preset", "tiny", "--out-dir", str(tmp_path / "r"), "--no-progress"])
    assert not (tmp_path / "r").exists()


def test_a_rank_alone_says_it_waits_and_gives_up_after_the_join_timeout(tmp_path: Path) -> None:
    env = {
        "RANK": "0",
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(_free_port()),
        "SEQGAN_JOIN_TIMEOUT": "2",
    }
    start = time.perf_counter()
    done = _seqgan(["train", "--preset", "tiny", "--out-dir", str(tmp_path / "r"), "--no-progress"], env, timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "waiting up to 2 s at 127.0.0.1" in lines[0] and "for the other 1 process(es)" in lines[0]
    assert lines[-1].startswith("error: [rank 0] the other processes of WORLD_SIZE=2 did not join")
    assert time.perf_counter() - start < 30


def test_a_rank_variable_alone_is_a_single_process(tiny_run: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RANK", "1")  # no WORLD_SIZE: one process, whose errors are shown
    assert "already holds a run" in user_error(capsys, ["train", "--preset", "tiny", "--out-dir", str(tiny_run)])


# ------------------------------------------------------------------ 5. output that corrupts or misleads
@pytest.mark.parametrize("label", ["bad\x1b[31mred", "with\x0bvtab", "bell\x07", "nul\x85next"])
def test_labels_with_control_characters_are_refused(tmp_path: Path, label: str, capsys) -> None:
    corpus = tmp_path / "l.tsv"
    corpus.write_text(f"ok\ta b c\n{label}\tc d e\n", encoding="utf-8")
    err = user_error(capsys, ["prepare", str(corpus), "--out", str(tmp_path / "d"), "--labels", "tab"])
    assert "line 2 has the label" in err and "control character" in err
    assert "\x1b" not in err and "\x07" not in err  # shown escaped
    assert not (tmp_path / "d").exists()


def test_a_label_folder_with_a_newline_is_refused(tmp_path: Path, capsys) -> None:
    pytest.importorskip("mido")
    bad = tmp_path / "music" / "jig\nreel"
    bad.mkdir(parents=True)
    (bad / "a.mid").write_bytes(b"MThd")
    err = user_error(
        capsys, ["prepare-midi", str(tmp_path / "music"), "--out", str(tmp_path / "d"), "--labels", "dirs"]
    )
    assert "control character" in err and "jig\\nreel" in err


@pytest.mark.parametrize(
    ("suffix", "magic"), [(".pdf", b"%PDF"), (".svg", b"<?xml"), (".png", b"\x89PNG"), ("", b"\x89PNG")]
)
def test_plot_writes_the_format_its_extension_names(folders, tmp_path: Path, suffix: str, magic: bytes, capsys) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / f"curves{suffix}"
    ok(capsys, ["plot", str(folders["run"]), "--out", str(out)])
    assert out.read_bytes().startswith(magic)


def test_plot_refuses_an_extension_it_cannot_write(folders, tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib")
    err = user_error(capsys, ["plot", str(folders["run"]), "--out", str(tmp_path / "curves.docx")])
    assert "cannot write .docx files" in err and ".pdf" in err
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writer_leaves_no_temporary_file(folders, tmp_path: Path) -> None:
    out = tmp_path / "real.txt"
    args = ["oracle", "sample", "--params", str(folders["run"] / "oracle.npz"), "--num-samples", "2000000"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "seqgan", *args, "--seq-len", "40", "--out", str(out)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".real.txt.tmp-*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130 and "interrupted" in proc.stderr.read()
    assert list(tmp_path.iterdir()) == []
    # SIGKILL cannot be caught: the next write to the same file removes what the dead process left
    left = tmp_path / ".real.txt.tmp-999999999"
    left.write_text("partial")
    assert cli.main([*args[:4], "--num-samples", "3", "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real.txt"]


def test_set_takes_the_values_presets_keys_prints(tmp_path: Path, capsys) -> None:
    lines = ok(capsys, ["presets", "--keys", "--preset", "tiny"]).splitlines()
    printed = dict(line.split("  # ")[0].split(" = ", 1) for line in lines)  # the value, without its note
    sets = [
        f"{key}={printed[key]}"
        for key in ("discriminator.filter_sizes", "discriminator.num_filters", "generator.kind", "data.path")
    ]
    argv = [
        "train",
        "--preset",
        "tiny",
        "--out-dir",
        str(tmp_path / "r"),
        "--no-progress",
        "--set",
        "adversarial.epochs=0",
    ]
    ok(capsys, argv + sum((["--set", s] for s in sets), []))
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["discriminator"]["filter_sizes"] == [
        int(w) for w in printed["discriminator.filter_sizes"].strip("()").split(",")
    ]
    assert config["generator"]["kind"] == "lstm" and config["data"]["path"] is None


@pytest.mark.parametrize(
    ("make", "says"),
    [
        ("symlink", "symbolic link to a missing target"),
        ("readonly", "permission denied"),
        ("file", "a part of the path is a file where a folder is needed"),
    ],
)
def test_os_errors_say_what_is_really_wrong(tmp_path: Path, make: str, says: str) -> None:
    from seqgan.cli import os_error_message

    if make == "symlink":
        (tmp_path / "link").symlink_to(tmp_path / "gone")
        err = FileNotFoundError(errno.ENOENT, "No such file or directory", str(tmp_path / "link"))
    elif make == "readonly":
        err = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x"))
    else:
        err = NotADirectoryError(errno.ENOTDIR, "Not a directory", str(tmp_path / "file" / "x"))
    message = os_error_message(err)
    assert says in message and "free disk space" not in message
    full = os_error_message(OSError(errno.ENOSPC, "No space left on device", "x"))
    assert "the disk is full" in full and "--resume" in full


def test_a_read_only_folder_is_named_as_such(folders, tmp_path: Path, capsys) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        err = user_error(capsys, ["sample", str(folders["run"]), "--out", str(folder / "s.txt")])
    finally:
        folder.chmod(0o700)
    assert "permission denied" in err and "free disk space" not in err


def test_label_all_with_another_label_says_so(capsys, tmp_path: Path) -> None:
    from seqgan.config import apply_overrides
    from seqgan.presets import get
    from seqgan.train.trainer import SeqGANTrainer

    cfg = apply_overrides(
        get("tiny"), ["run.progress=false", "data.num_labels=2", "pretrain.g_epochs=1", "adversarial.epochs=0"]
    )
    SeqGANTrainer(cfg, tmp_path / "r").fit()
    err = user_error(capsys, ["sample", str(tmp_path / "r"), "--label", "all", "--label", "1"])
    assert "--label all asks for every label" in err and "is not one of" not in err
    ok(capsys, ["eval", str(tmp_path / "r"), "--num-samples", "2", "--json"])  # two samples, two labels: one each
    cfg3 = apply_overrides(
        get("tiny"), ["run.progress=false", "data.num_labels=3", "pretrain.g_epochs=1", "adversarial.epochs=0"]
    )
    SeqGANTrainer(cfg3, tmp_path / "r3").fit()
    assert "--num-samples 2 is fewer than this run's 3 labels" in user_error(
        capsys, ["eval", str(tmp_path / "r3"), "--num-samples", "2"]
    )


@pytest.mark.parametrize("value", ["fast", "glibc", "1"])
def test_an_unknown_seqgan_malloc_is_refused(value: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SEQGAN_MALLOC", value)
    assert f"SEQGAN_MALLOC={value!r} is unknown" in user_error(capsys, ["presets"])
    for known in ("system", "keep", "KEEP", ""):
        monkeypatch.setenv("SEQGAN_MALLOC", known)
        ok(capsys, ["presets"])


# ------------------------------------------------------------------ 2. lone CR line ends
def test_lone_cr_line_ends_are_line_ends_and_counted(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "mac.txt"
    corpus.write_bytes(b"a b c\rd e f\rg h\r\ni j\n")
    report = json.loads(
        ok(
            capsys,
            ["prepare", str(corpus), "--out", str(tmp_path / "d"), "--test-frac", "0", "--valid-frac", "0", "--json"],
        )
    )
    assert report["lines_read"] == report["lines_kept"] == 4 and report["lone_cr_line_ends"] == 2
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    assert "lone \\r" in sub.choices["prepare"].format_help()
