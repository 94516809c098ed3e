"""Helpers shared by the command-line tests: run `seqgan` in-process and check how it ended."""

from __future__ import annotations

import pytest

from seqgan import cli


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
