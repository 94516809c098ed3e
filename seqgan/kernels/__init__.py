"""Compiled CPU kernels (numba, the optional ``kernels`` extra) for the hot loops of a G step's roll-out rewards.

The eager PyTorch path stays the reference: every kernel is tested against it, and it runs wherever numba is not
installed, the device is not a CPU, or a kernel's table would not fit under its memory cap. :func:`status` says which
path runs and why, for ``env.json`` and the benchmarks.
"""

from __future__ import annotations

import importlib.util


def numba_version() -> str | None:
    """numba's version when it can be imported, else None."""
    if importlib.util.find_spec("numba") is None:
        return None
    import numba

    return str(numba.__version__)


def require(mode: str) -> None:
    """Refuse ``adversarial.kernels=numba`` where numba cannot be imported (one line, the fix named)."""
    if mode == "numba" and numba_version() is None:
        from seqgan.errors import UserError

        raise UserError("adversarial.kernels=numba needs numba: pip install 'seqgan[kernels]' (or set it to auto)")


def status(mode: str = "auto", table_mb: int | None = None) -> str:
    """One line: the roll-out path ``mode`` (adversarial.kernels) selects on a CPU ("numba 0.68.1: ..." or
    "eager PyTorch (<why>)"); ``table_mb``: the table's cap, named in the line."""
    if mode == "eager":
        return "eager PyTorch (adversarial.kernels=eager)"
    version = numba_version()
    if version is None:
        return "eager PyTorch (numba not installed: pip install 'seqgan[kernels]')"
    cap = "" if table_mb is None else f"; eager where D's table exceeds adversarial.kernel_table_mb {table_mb} MiB"
    return f"numba {version}: D's filter banks as table look-ups, prefix-shared (fp32 sums, fused running max){cap}"
