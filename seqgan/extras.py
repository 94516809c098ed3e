"""Optional dependencies: each one belongs to an extra of the package (``pip install 'seqgan[NAME]'``).

The core (prepare, train, sample, eval, bleu, oracle) needs only torch, numpy and tqdm; a command that needs an
extra that is not installed says which one in one line (exit code 2)."""

from __future__ import annotations

import importlib
from types import ModuleType

from seqgan.errors import UserError

EXTRAS = {
    "matplotlib": "plot",
    "mido": "music",
    "scipy": "human-eval",
    "pysbd": "sentences",
    "tokenizers": "subword",
    "tensorboard": "tensorboard",
}


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` for ``what`` (a command or feature), or refuse with the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS[module.split(".")[0]]
        raise UserError(
            f"{what} needs {module.split('.')[0]}, which is not installed: pip install "
            f"'seqgan[{extra}]' (or 'seqgan[all]')"
        ) from None
