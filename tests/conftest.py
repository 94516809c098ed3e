"""Fixtures shared by every layer's tests; helper functions live in helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqgan import cli


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of the ``tiny`` preset (oracle task), trained through the CLI once per session. Tests only
    read it; a test that changes a run copies it first."""
    run = tmp_path_factory.mktemp("shared") / "tiny"
    assert cli.main(["train", "--preset", "tiny", "--out-dir", str(run), "--no-progress"]) == 0
    return run
