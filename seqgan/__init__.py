"""SeqGAN (Yu, Zhang, Wang, Yu, AAAI 2017) in PyTorch: faithful, fast, tested, resumable.

The public API, imported on first use (so ``import seqgan`` is quick and needs nothing optional)::

    import seqgan

    cfg = seqgan.presets.get("tiny")            # a SeqGANConfig; every key documented in seqgan/config.py
    seqgan.SeqGANTrainer(cfg, "runs/mine").fit()  # SeqGANTrainer.resume("runs/mine").fit() continues
    run = seqgan.load_run("runs/mine")          # config, models, vocabulary and data of a trained run
    print(run.sample(5, temperature=0.8))        # five sequences as text (ids for the oracle task)

Layers, each importing only those before it: ``config``/``presets`` (and ``errors``, ``files``, ``env``) ->
``models`` -> ``data`` -> ``eval`` -> ``train`` -> ``tools`` -> ``cli``.
"""

from __future__ import annotations

import importlib
from typing import Any

from seqgan.version import __version__

_EXPORTS = {
    "SeqGANConfig": "seqgan.config",
    "presets": "seqgan.presets",
    "SeqGANTrainer": "seqgan.train.trainer",
    "load_run": "seqgan.train.portable",
    "Run": "seqgan.train.portable",
    "build_models": "seqgan.models.build",
    "Generator": "seqgan.models.generator",
    "Discriminator": "seqgan.models.discriminator",
    "prepare": "seqgan.data.text",
    "load_prepared": "seqgan.data.prepared",
    "Vocab": "seqgan.data.vocab",
    "UserError": "seqgan.errors",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seqgan' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    return module if name == "presets" else getattr(module, name)


def __dir__() -> list[str]:
    return sorted(__all__)
