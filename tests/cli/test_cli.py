"""Tests for the `seqgan` command line: help, presets, the oracle round trip, sampling and
user errors (exit code 2, one line `error: ...` on stderr, no traceback, no output written)."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ok as _ok
from helpers import user_error as _user_error

from seqgan import __version__, cli
from seqgan.models.oracle_file import random_oracle_params

ROOT = Path(__file__).resolve().parents[2]
V, T = 30, 10


def _python_m(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "seqgan", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def oracle_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("oracle")
    o, s = d / "o.npz", d / "s.txt"
    assert (
        cli.main(
            [
                "oracle",
                "new",
                "--seed",
                "1",
                "--out",
                str(o),
                "--vocab-size",
                str(V),
                "--emb-dim",
                "8",
                "--hidden-dim",
                "8",
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "oracle",
                "sample",
                "--params",
                str(o),
                "--num-samples",
                "200",
                "--seq-len",
                str(T),
                "--seed",
                "3",
                "--out",
                str(s),
            ]
        )
        == 0
    )
    return o, s


# ------------------------------------------------------------------- help
COMMANDS = [
    ["train"],
    ["presets"],
    ["oracle"],
    ["oracle", "new"],
    ["oracle", "sample"],
    ["oracle", "score"],
    ["sample"],
    ["plot"],
    ["bench"],
    ["prepare"],
    ["bleu"],
    ["self-bleu"],
    ["eval"],
    ["prepare-midi"],
    ["turing-test"],
    ["turing-test", "build"],
    ["turing-test", "score"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_usage_and_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([*command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: seqgan " + " ".join(command))
    assert "\nexample:\n  seqgan " + command[0] in out


def test_help_in_subprocess() -> None:
    proc = _python_m("oracle", "score", "--help")
    assert proc.returncode == 0 and "example:" in proc.stdout and "--params" in proc.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"seqgan {__version__}"


# ---------------------------------------------------------------- presets
def test_presets_subprocess() -> None:
    proc = _python_m("presets")
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line.split(None, 1)[1] for line in proc.stdout.splitlines() if line.strip()}
    assert {"paper", "demo", "tiny"} <= set(lines)
    assert all(len(lines[name]) > 20 for name in ("paper", "demo", "tiny"))


def test_presets_keys(capsys: pytest.CaptureFixture[str]) -> None:
    out = {line.split("  # ")[0]: line.partition("  # ")[2] for line in _ok(capsys, ["presets", "--keys"]).splitlines()}
    assert out["adversarial.rollout_num = 16"].startswith("authors' code: N = 16 Monte Carlo roll-outs")
    assert "data.vocab_size = 5000" in out and all(out.values())  # every key says where its default comes from
    tiny = [line.split("  # ")[0] for line in _ok(capsys, ["presets", "--keys", "--preset", "tiny"]).splitlines()]
    assert "data.vocab_size = 50" in tiny


# ----------------------------------------------------------------- oracle
def _read_ids(path: Path) -> list[list[int]]:
    return [[int(t) for t in line.split()] for line in path.read_text().splitlines()]


def test_oracle_sample_file(oracle_files: tuple[Path, Path]) -> None:
    rows = _read_ids(oracle_files[1])
    assert len(rows) == 200 and all(len(r) == T for r in rows)
    assert all(0 <= i < V for r in rows for i in r)


def test_oracle_sample_is_seeded(
    oracle_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    o, s = oracle_files
    base = ["oracle", "sample", "--params", str(o), "--num-samples", "200", "--seq-len", str(T)]
    _ok(capsys, [*base, "--seed", "3", "--out", str(tmp_path / "same.txt")])
    _ok(capsys, [*base, "--seed", "4", "--out", str(tmp_path / "other.txt")])
    assert (tmp_path / "same.txt").read_bytes() == s.read_bytes()
    assert (tmp_path / "other.txt").read_bytes() != s.read_bytes()


def test_oracle_new_is_seeded(
    oracle_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seqgan.models.oracle_file import load_oracle_params

    out = _ok(
        capsys,
        [
            "oracle",
            "new",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "o.npz"),
            "--vocab-size",
            str(V),
            "--emb-dim",
            "8",
            "--hidden-dim",
            "8",
            "--json",
        ],
    )
    assert json.loads(out.splitlines()[-1])["vocab_size"] == V
    a, b = load_oracle_params(oracle_files[0]), load_oracle_params(tmp_path / "o.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_oracle_score_matches_library(oracle_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from seqgan.eval.metrics import mean_nll
    from seqgan.models import build_oracle
    from seqgan.models.oracle_file import load_oracle_params

    o, s = oracle_files
    result = json.loads(
        _ok(capsys, ["oracle", "score", "--params", str(o), "--input", str(s), "--json"]).splitlines()[-1]
    )
    nll = result["nll_oracle"]
    assert isinstance(nll, float) and math.isfinite(nll) and nll > 0
    assert result["num_sequences"] == 200 and result["seq_len"] == T
    expected = mean_nll(build_oracle(load_oracle_params(o)), torch.tensor(_read_ids(s)))
    assert abs(nll - expected) < 1e-9


# ------------------------------------------------------------ train errors
def test_oracle_new_negative_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.npz"
    assert "seed" in _user_error(capsys, ["oracle", "new", "--seed", "-1", "--out", str(out)])
    assert not out.exists()


def test_train_negative_oracle_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "data.oracle_seed" in _train_error(capsys, tmp_path, "--set", "data.oracle_seed=-1")


def _train_error(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> str:
    out_dir = tmp_path / "run"
    err = _user_error(capsys, ["train", "--preset", "tiny", "--out-dir", str(out_dir), "--no-progress", *args])
    # Nothing may be written into the run folder.
    assert not out_dir.exists()
    return err


def test_unknown_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _user_error(capsys, ["train", "--preset", "huge", "--out-dir", str(tmp_path / "run")])
    assert "huge" in err and all(name in err for name in ("paper", "demo", "tiny"))
    assert not (tmp_path / "run").exists()


def test_unknown_set_key_suggests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _train_error(capsys, tmp_path, "--set", "adversarial.rollout_nu=3")
    assert "adversarial.rollout_num" in err
    assert not (tmp_path / "run").exists()


def test_bad_set_value_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _train_error(capsys, tmp_path, "--set", "adversarial.rollout_num=many")
    assert "adversarial.rollout_num" in err and "int" in err
    assert "key=value" in _train_error(capsys, tmp_path, "--set", "adversarial.rollout_num")
    assert not (tmp_path / "run").exists()


def test_negative_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _train_error(capsys, tmp_path, "--set", "adversarial.rollout_num=-1")
    assert "adversarial.rollout_num" in err and "-1" in err
    assert not (tmp_path / "run").exists()


def test_missing_oracle_params(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _train_error(capsys, tmp_path, "--oracle-params", str(tmp_path / "missing.npz"))
    assert "missing.npz" in err
    err = _user_error(capsys, ["oracle", "score", "--params", str(tmp_path / "missing.npz"), "--input", "x"])
    assert "missing.npz" in err


def test_oracle_of_wrong_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = random_oracle_params(V, 8, 8, seed=0)
    params["W_out"] = np.zeros((8, V + 1), dtype=np.float32)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **params)
    assert "W_out" in _train_error(capsys, tmp_path, "--oracle-params", str(bad))
    out = tmp_path / "s.txt"
    err = _user_error(capsys, ["oracle", "sample", "--params", str(bad), "--out", str(out)])
    assert "W_out" in err and not out.exists()


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "target_params.pkl"
    evil.write_bytes(pickle.dumps([_Evil(marker)], protocol=0))
    err = _train_error(capsys, tmp_path, "--oracle-params", str(evil))
    assert "refused" in err
    _user_error(capsys, ["oracle", "score", "--params", str(evil), "--input", str(evil)])
    assert not marker.exists()


# ------------------------------------------------------------ score errors
@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"1 2 3\n4 5 30\n", "outside"),
        (b"1 2 3\n4 5\n", "one length"),
        (b"1 2 3\n4 x 6\n", "integer"),
        (b"1 2 3\n-1 2 3\n", "outside"),
        (b"", "no sequences"),
        (b"\n  \n", "no sequences"),
        (b"\xff\xfe\x00\x81\x80binary\n", "UTF-8"),
    ],
    ids=["id-above-vocab", "ragged", "non-integer", "negative-id", "empty", "blank", "binary"],
)
def test_score_bad_input(
    content: bytes, needle: str, oracle_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "in.txt"
    bad.write_bytes(content)
    err = _user_error(capsys, ["oracle", "score", "--params", str(oracle_files[0]), "--input", str(bad), "--json"])
    assert needle in err
    assert bad.read_bytes() == content


def test_score_missing_input(
    oracle_files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _user_error(capsys, ["oracle", "score", "--params", str(oracle_files[0]), "--input", str(tmp_path / "no.txt")])


# --------------------------------------------------------- run-dir errors
def test_resume_without_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _user_error(capsys, ["train", "--resume", str(tmp_path)])
    assert "no run" in err
    assert not any(tmp_path.iterdir())
    _user_error(capsys, ["train", "--resume", str(tmp_path / "absent")])
    assert not (tmp_path / "absent").exists()


def test_train_into_existing_run_touches_nothing(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(tiny_run)
    err = _user_error(capsys, ["train", "--preset", "tiny", "--out-dir", str(tiny_run), "--no-progress"])
    assert "already holds a run" in err and "--resume" in err
    assert _snapshot(tiny_run) == before


def test_resume_with_preset_refused(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(tiny_run)
    _user_error(capsys, ["train", "--resume", str(tiny_run), "--preset", "tiny"])
    assert _snapshot(tiny_run) == before


def test_sample_without_checkpoint(tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f.txt"
    assert "no run" in _user_error(capsys, ["sample", str(tmp_path), "--out", str(out)])
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_bytes((tiny_run / "config.json").read_bytes())
    assert "no checkpoint" in _user_error(capsys, ["sample", str(run), "--out", str(out)])
    assert not out.exists()


def test_sample_temperature_zero(tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f.txt"
    err = _user_error(capsys, ["sample", str(tiny_run), "--temperature", "0", "--out", str(out)])
    assert "temperature" in err and not out.exists()
    _user_error(capsys, ["sample", str(tiny_run), "--num-samples", "0", "--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--preset", "tiny", "--bogus"],
        ["--bogus"],
        ["frobnicate"],
        [],
        ["oracle"],
        ["sample", "x", "--num-samples", "many"],
        ["oracle", "new"],
    ],
    ids=["train-flag", "top-flag", "command", "nothing", "oracle-no-action", "bad-int", "missing-required"],
)
def test_bad_command_line(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _user_error(capsys, argv)
    assert "--help" in err


def test_train_needs_preset_or_resume(capsys: pytest.CaptureFixture[str]) -> None:
    err = _user_error(capsys, ["train", "--out-dir", "never-created"])
    assert "--preset" in err and "--resume" in err
    assert not Path("never-created").exists()


def test_user_error_in_subprocess(tmp_path: Path) -> None:
    proc = _python_m("train", "--preset", "huge", "--out-dir", str(tmp_path / "run"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error:") and proc.stderr.count("\n") == 1


# ------------------------------------------------------------------ sample
def test_sample_is_seeded(tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq_len = json.loads((tiny_run / "config.json").read_text())["data"]["seq_len"]
    vocab = json.loads((tiny_run / "config.json").read_text())["data"]["vocab_size"]
    files = {}
    for name, extra in [("a", []), ("b", []), ("c", ["--seed", "2"]), ("t", ["--temperature", "0.5"])]:
        files[name] = tmp_path / f"{name}.txt"
        argv = ["sample", str(tiny_run), "--num-samples", "7", "--seed", "1", "--out", str(files[name])]
        _ok(capsys, [*argv, *extra])  # a later --seed overrides the first
        rows = _read_ids(files[name])
        assert len(rows) == 7 and all(len(r) == seq_len for r in rows)
        assert all(0 <= i < vocab for r in rows for i in r)
    assert files["a"].read_bytes() == files["b"].read_bytes()
    assert files["a"].read_bytes() != files["c"].read_bytes()


def test_sample_to_stdout(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = _ok(capsys, ["sample", str(tiny_run), "--num-samples", "3", "--seed", "1"])
    assert len(out.splitlines()) == 3


def test_full_disk_is_one_line_and_keeps_existing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails with ENOSPC (the tests run as root, so a read-only folder would not stop
    them) is reported in one line with exit 2, and the file that was there is unchanged."""
    import errno
    import os

    import seqgan.files

    out = tmp_path / "samples.txt"
    out.write_text("old\n")
    cli.main(
        [
            "oracle",
            "new",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "o.npz"),
            "--vocab-size",
            "20",
            "--emb-dim",
            "4",
            "--hidden-dim",
            "4",
        ]
    )
    capsys.readouterr()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out))

    monkeypatch.setattr(seqgan.files.os, "fsync", full)
    code = cli.main(
        [
            "oracle",
            "sample",
            "--params",
            str(tmp_path / "o.npz"),
            "--num-samples",
            "5",
            "--seq-len",
            "3",
            "--out",
            str(out),
            "--force",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_unknown_preset_suggests_the_nearest(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "--preset", "dmeo"]) == 2
    assert "did you mean demo?" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags", [["--top-p", "0"], ["--top-p", "1.5"], ["--top-k", "0"], ["--num-samples", "0"], ["--temperature", "-1"]]
)
def test_sample_invalid_values(
    flags: list[str], tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s.txt"
    assert "error:" in _user_error(capsys, ["sample", str(tiny_run), *flags, "--out", str(out)])
    assert not out.exists()


def test_sample_with_every_checkpoint_damaged(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(tiny_run, run)
    for name in ("last.pt", "prev.pt"):
        path = run / "checkpoints" / name
        path.write_bytes(path.read_bytes()[:100])
    err = _user_error(capsys, ["sample", str(run)])
    assert "damaged" in err and "last.pt" in err


def test_bench_quick_reports_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    """`seqgan bench --quick` (small sizes) prints one JSON object with every figure, all positive."""
    assert cli.main(["bench", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    keys = {
        "rollout_batched_s",
        "rollout_naive_s",
        "d_scoring_alone_s",
        "d_scoring_prefix_shared_s",
        "rollout_speedup",
        "rollout_over_d_scoring",
        "d_infer_seqs_per_s",
        "d_train_seqs_per_s",
        "mle_tokens_per_s",
        "sampling_tokens_per_s",
        "bleu2to5_s",
        "self_bleu2to5_s",
        "peak_rss_mb",
        "d_scoring_prefix_shared_bf16_s",
        "d_bf16_speedup",
        "q_std",
        "rollout_batched_fp32_s",
        "rollout_batched_bf16_s",
        "rollout_speedup_bf16",
        "text_rollout_s",
        "text_rollout_all_rows_s",
        "text_rollout_fp32_s",
        "text_mean_length",
    }
    assert keys <= result.keys() and all(result[k] > 0 for k in keys)
    # bf16 moves the rewards a little, never by as much as their spread
    assert 0 <= result["d_bf16_mean_abs_q_diff"] <= result["d_bf16_max_abs_q_diff"] < result["q_std"]
    if result["rollout_path"].startswith("numba"):  # the compiled path: its figures, the eager rewards to fp32 rounding
        kernel = ("rollout_kernel_s", "d_scoring_kernel_s", "kernel_table_s", "highway_output_s")
        assert all(result[k] > 0 for k in kernel) and result["kernel_max_abs_diff"] < 1e-5
        assert result["kernel_table_mb_v20000"] == pytest.approx(4 * 20_000 * 12_500 / 2**20, rel=1e-4)
        assert result["kernel_first_use_cold_s"] > result["kernel_first_use_cached_s"] > 0
        assert result["rollout_speedup"] == pytest.approx(
            result["rollout_naive_s"] / result["rollout_kernel_s"], rel=1e-3
        )
