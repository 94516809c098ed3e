"""Helpers shared by the tests of every layer (importable as ``helpers``: conftest.py puts tests/ on the path)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from seqgan import cli, presets
from seqgan.config import SeqGANConfig, apply_overrides
from seqgan.train.logbook import read_metrics


def tiny_config(*sets: str) -> SeqGANConfig:
    """The ``tiny`` preset without progress bars, with ``key=value`` overrides."""
    return apply_overrides(presets.get("tiny"), ["run.progress=false", *sets])


def events(run: Path) -> list[dict]:
    """A run's metrics.jsonl without the wall-clock fields, which legitimately differ between runs."""
    return [{k: v for k, v in e.items() if not k.startswith("time/")} for e in read_metrics(run / "metrics.jsonl")]


def ok(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``seqgan argv``; it must exit 0. Returns its stdout."""
    rc = cli.main(argv)
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return captured.out


def user_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``seqgan argv``; it must fail as a user error: exit 2, one `error: ...` line, no traceback."""
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith("error:") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def kill_when(proc: subprocess.Popen, metrics: Path, lines: int, timeout: float = 60.0) -> bool:
    """SIGKILL ``proc`` as soon as metrics.jsonl has ``lines`` lines; False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if metrics.exists() and metrics.read_bytes().count(b"\n") >= lines:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.kill()
    raise AssertionError("the run neither finished nor reached the kill point")
