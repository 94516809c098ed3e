"""Where a run computes and what it ran on: the device choice and the environment snapshot of env.json."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from seqgan.errors import UserError
from seqgan.version import __version__


def resolve_device(name: str) -> torch.device:
    """ "cpu", "cuda" or "auto" (cuda when available) -> torch.device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but PyTorch sees no CUDA GPU: use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device {name!r}: use cpu, cuda or auto")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware: a CUDA GPU with bf16 support, or a CPU with AVX512-BF16 or AMX
    (elsewhere bf16 is emulated and slower than fp32). What the bf16 switches left at None (auto) become."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return False
    return bool(cpu_bf16_units())


def cpu_bf16_units() -> list[str]:
    """The CPU's bf16 units that torch sees: "AMX", "AVX512-BF16" (either makes bf16 native)."""
    probes = (("_is_amx_tile_supported", "AMX"), ("_is_avx512_bf16_supported", "AVX512-BF16"))
    return [label for name, label in probes if bool(getattr(torch.cpu, name, lambda: False)())]


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model and its bf16 units, e.g. "AMD EPYC (AVX512-BF16)": bench figures depend on them (bf16 made D 3x
    faster on one 2-core machine of this project and 1.9x on another, docs/LOG.md 2026-12-07)."""
    name = platform.processor() or platform.machine()
    try:
        with open(cpuinfo) as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name} ({', '.join(cpu_bf16_units()) or 'no bf16 units'})"


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_KEEP = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 512 << 20, _M_TOP_PAD: 32 << 20}
_allocator = "system default"
MALLOC_CHOICES = ("", "keep", "system")  # SEQGAN_MALLOC: unset or keep (the default), system


def keep_freed_memory() -> str:
    """Let glibc's malloc keep freed memory for reuse instead of handing it back to the OS; returns what the allocator
    now does (also recorded in env.json).

    A G step allocates and frees the same large buffers (logits of 256 x 5,000, window matrices, D's weight casts)
    thousands of times. With glibc's defaults whether a freed buffer goes back to the OS depends on the order of the
    first large frees, so one process reuses its memory and another takes some 300,000 page faults per G step (about
    0.2 s of 2 s on a 2-core VM; docs/LOG.md). Here blocks below 32 MiB always come from the heap (glibc's largest
    allowed threshold), and the heap is trimmed only when 512 MiB lie free at its top, so the resident memory stays
    near the peak the run reached anyway. The CLI calls this at start; ``SEQGAN_MALLOC=system`` leaves glibc's
    defaults (``keep``, or unset: the above; any other value is a UserError). A no-op (and "system default") off
    glibc.
    """
    global _allocator
    choice = os.environ.get("SEQGAN_MALLOC", "").strip().lower()
    if choice not in MALLOC_CHOICES:
        raise UserError(
            f"SEQGAN_MALLOC={os.environ['SEQGAN_MALLOC'][:40]!r} is unknown: set it to keep (the default: freed "
            "memory is kept for reuse) or system (glibc's defaults), or unset it"
        )
    if choice == "system" or not sys.platform.startswith("linux"):
        return _allocator
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return _allocator
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if all(mallopt(param, value) == 1 for param, value in _KEEP.items()):
        _allocator = "glibc, freed memory kept (mmap threshold 32 MiB, trim threshold 512 MiB)"
    return _allocator


def allocator() -> str:
    """What :func:`keep_freed_memory` made of this process's allocator ("system default" until it is called)."""
    return _allocator


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def env_snapshot(device: torch.device, kernels: str = "auto", table_mb: int | None = None) -> dict[str, Any]:
    """Versions and hardware, written to env.json so a run describes itself; ``kernels`` and ``table_mb``: the run's
    adversarial.kernels and kernel_table_mb, for the line saying which roll-out path runs."""
    import numpy

    from seqgan.kernels import status

    info: dict[str, Any] = {
        "seqgan": __version__,
        "git_sha": git_sha(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "allocator": allocator(),
        "device": str(device),
        "rollout_path": status(kernels, table_mb) if device.type == "cpu" else "eager PyTorch (not a CPU)",
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def available_memory() -> int | None:
    """Bytes of memory this process can still use: MemAvailable of /proc/meminfo (Linux), else the physical memory;
    None where neither is known."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
