"""Tests for seqgan.tools.plotting and `seqgan plot`: PNG output, the global epoch axis, user errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from seqgan import cli
from seqgan.errors import UserError
from seqgan.tools.plotting import d_round_series, global_epoch_series, plot_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _copy_run(src: Path, dst: Path) -> Path:
    """A private copy (metrics and config only), so a test can change it freely."""
    dst.mkdir()
    shutil.copy(src / "metrics.jsonl", dst / "metrics.jsonl")
    shutil.copy(src / "config.json", dst / "config.json")
    return dst


def _assert_png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg

    assert path.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 0 and img.shape[1] > 0


def _assert_user_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ------------------------------------------------------------------ plot_run
def test_plot_run_default_path(tiny_run: Path, tmp_path: Path) -> None:
    run = _copy_run(tiny_run, tmp_path / "run")
    out = plot_run(run)
    assert out == run / "curves.png"
    _assert_png(out)
    assert not [p for p in run.iterdir() if p.name.startswith(".curves.png")]  # no temp file left


def test_plot_cli_json(tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f.png"
    assert cli.main(["plot", str(tiny_run), "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert Path(result["out"]) == out
    _assert_png(out)
    assert not (tiny_run / "curves.png").exists()


def test_plot_does_not_import_pyplot_at_import_time() -> None:
    import subprocess
    import sys

    code = "import sys, seqgan.tools.plotting; sys.exit('matplotlib.pyplot' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_torn_last_line_still_plots(tiny_run: Path, tmp_path: Path) -> None:
    run = _copy_run(tiny_run, tmp_path / "run")
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"phase": "adversarial", "epoch": 4, "g/rew')  # killed mid-write
    _assert_png(plot_run(run, tmp_path / "torn.png"))


def test_partial_run_plots_with_empty_panels(tmp_path: Path) -> None:
    run = tmp_path / "partial"
    run.mkdir()
    (run / "metrics.jsonl").write_text(json.dumps({"phase": "mle", "epoch": 0, "eval/nll_oracle": 9.0}) + "\n")
    _assert_png(plot_run(run))


# ----------------------------------------------------------- epoch axis
EVENTS = [
    {"phase": "mle", "epoch": 0, "eval/nll_oracle": 5.0},
    {"phase": "mle", "epoch": 1, "g/mle_loss": 3.0},
    {"phase": "mle", "epoch": 2, "g/mle_loss": 2.5},
    {"phase": "mle", "epoch": 2, "eval/nll_oracle": 4.0},
    {"phase": "mle", "epoch": 3, "g/mle_loss": 2.2},
    {"phase": "mle", "epoch": 3, "eval/nll_oracle": 3.5},
    {"phase": "d_pretrain", "epoch": 1, "d/loss": 0.7, "eval/nll_oracle": 99.0},  # not on the G axis
    {"phase": "d_pretrain", "epoch": 2, "d/loss": 0.6},
    {"phase": "adversarial", "epoch": 1, "g/reward_mean": 0.4, "d/loss": 0.5},
    {"phase": "adversarial", "epoch": 2, "g/reward_mean": 0.5, "d/loss": 0.4},
    {"phase": "adversarial", "epoch": 2, "eval/nll_oracle": 3.4},
    {"phase": "adversarial", "epoch": 4, "eval/nll_oracle": 3.3},
]


def test_global_epoch_series_hand_computed() -> None:
    x, y, boundary = global_epoch_series(EVENTS, "eval/nll_oracle")
    assert x == [0.0, 2.0, 3.0, 5.0, 7.0]  # adversarial epochs 2, 4 -> 3 + 2, 3 + 4
    assert y == [5.0, 4.0, 3.5, 3.4, 3.3]
    assert boundary == 3.0


def test_global_epoch_series_before_adversarial_has_no_boundary() -> None:
    x, y, boundary = global_epoch_series(EVENTS[:6], "eval/nll_oracle")
    assert (x, y, boundary) == ([0.0, 2.0, 3.0], [5.0, 4.0, 3.5], None)
    assert global_epoch_series(EVENTS, "no/such_key") == ([], [], 3.0)


def test_global_epoch_series_without_mle_epochs() -> None:
    events = [
        {"phase": "mle", "epoch": 0, "eval/nll_oracle": 5.0},
        {"phase": "adversarial", "epoch": 1, "eval/nll_oracle": 4.0},
    ]
    assert global_epoch_series(events, "eval/nll_oracle") == ([0.0, 1.0], [5.0, 4.0], 0.0)


def test_d_round_series_hand_computed() -> None:
    x, y, boundary = d_round_series(EVENTS, "d/loss")
    assert (x, y, boundary) == ([1.0, 2.0, 3.0, 4.0], [0.7, 0.6, 0.5, 0.4], 2.0)


def test_global_epoch_series_on_real_run(tiny_run: Path) -> None:
    from seqgan.train.logbook import read_metrics

    x, y, boundary = global_epoch_series(read_metrics(tiny_run / "metrics.jsonl"), "eval/nll_valid")
    # tiny: 4 MLE epochs, eval every 2 and at the end of each phase; 3 adversarial epochs.
    assert x == [0.0, 2.0, 4.0, 6.0, 7.0] and boundary == 4.0 and len(y) == 5


# ----------------------------------------------------------------- errors
def test_missing_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _assert_user_error(capsys, ["plot", str(tmp_path / "nope")])
    assert "does not exist" in err


def test_no_metrics_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _assert_user_error(capsys, ["plot", str(tmp_path)])
    assert "metrics.jsonl" in err
    assert not (tmp_path / "curves.png").exists()


def test_empty_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "metrics.jsonl").write_text("")
    err = _assert_user_error(capsys, ["plot", str(tmp_path)])
    assert "no events" in err
    assert not (tmp_path / "curves.png").exists()


def test_only_torn_line_is_no_events(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text('{"phase": "ml')
    with pytest.raises(UserError, match="no events"):
        plot_run(tmp_path)


def test_binary_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "metrics.jsonl").write_bytes(b"\xff\xfe\x00\x81garbage\n")
    _assert_user_error(capsys, ["plot", str(tmp_path)])


def test_output_folder_missing(tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _assert_user_error(capsys, ["plot", str(tiny_run), "--out", str(tmp_path / "no" / "f.png")])
    assert "does not exist" in err
    _assert_user_error(capsys, ["plot", str(tiny_run), "--out", str(tmp_path)])  # a directory
