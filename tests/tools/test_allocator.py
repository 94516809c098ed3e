"""The allocator setting of the seqgan command (seqgan.env.keep_freed_memory)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqgan.env import cpu_name, env_snapshot

# Allocates buffers of 6-20 MiB that live together (as a step's do), frees them, again and again, and prints the
# page faults of the last 20 rounds.
_PROBE = """
import json, resource, sys
from seqgan.env import allocator, keep_freed_memory
if sys.argv[1] == "keep":
    keep_freed_memory()
import torch
def rounds(n):
    for _ in range(n):
        held = [torch.empty(mib << 18).fill_(1.0) for mib in (20, 20, 20, 6)]  # float32: 2^18 per MiB, all touched
        del held
rounds(5)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(20)
print(json.dumps({"faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, "allocator": allocator()}))
"""


def _probe(mode: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)")
def test_freed_memory_is_reused_without_page_faults() -> None:
    """After keep_freed_memory, buffers below 32 MiB that are freed and allocated again come from the heap: the
    steady state maps (almost) no fresh pages. With glibc's defaults the 66 MiB freed at the heap's top each round
    go back to the OS (trim threshold 2 x the dynamic mmap threshold), and the 20 rounds take about 200,000 page
    faults (glibc 2.36); a setting that keeps the default mmap threshold of 128 KiB takes as many."""
    kept = _probe("keep")
    if not kept["allocator"].startswith("glibc"):
        pytest.skip("not glibc: keep_freed_memory leaves the allocator alone")
    assert kept["faults"] < 2_000, kept


def test_opt_out_and_library_default() -> None:
    """A library import leaves the allocator alone, and SEQGAN_MALLOC=system keeps glibc's defaults in the CLI."""
    assert _probe("import")["allocator"] == "system default"
    env = dict(os.environ, SEQGAN_MALLOC="system")
    assert _probe("keep", env)["allocator"] == "system default"


def test_cli_records_the_allocator_in_env_json(tmp_path) -> None:  # noqa: ANN001
    """A run made by the seqgan command says in env.json what its allocator did."""
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "seqgan",
        "train",
        "--preset",
        "tiny",
        "--no-progress",
        "--out-dir",
        str(run),
        "--set",
        "pretrain.g_epochs=0",
        "--set",
        "pretrain.d_steps=0",
        "--set",
        "adversarial.epochs=0",
    ]
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    env = json.loads((run / "env.json").read_text())
    expected = "glibc" if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc" else "system default"
    assert env["allocator"].startswith(expected), env["allocator"]


def test_cpu_name_reads_the_model_and_names_the_bf16_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bench figures depend on the CPU's bf16 units, so runs and benches record the model and the units."""
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU 9000 @ 3.0GHz\nflags\t\t: fpu\n")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert cpu_name(str(info)) == "Test CPU 9000 @ 3.0GHz (AVX512-BF16)"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    assert cpu_name(str(info)) == "Test CPU 9000 @ 3.0GHz (no bf16 units)"
    # no /proc/cpuinfo (macOS, Windows): the platform's own name
    assert cpu_name(str(tmp_path / "missing")).endswith("(no bf16 units)")
    assert "cpu" in env_snapshot(torch.device("cpu"))
