"""The one place that builds the models of a config: G, D and the oracle."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from seqgan.config import SeqGANConfig
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.models.oracle import build_oracle


class Models(NamedTuple):
    generator: Generator
    discriminator: Discriminator
    oracle: Generator | None  # the synthetic task's oracle; None for prepared data


def build_models(cfg: SeqGANConfig, oracle_params: dict[str, np.ndarray] | None = None,
                 device: str | torch.device = "cpu") -> Models:  # fmt: skip
    """G, D (and the oracle from its parameters) as ``cfg`` describes them, on ``device``.

    G is built first, then D: with ``torch.manual_seed(seed)`` before the call, the initial weights are those of
    every earlier version of this project for the same seed."""
    data, g, d = cfg.data, cfg.generator, cfg.discriminator
    generator = Generator(data.vocab_size, g.emb_dim, g.hidden_dim, start_token=data.start_token, init_std=g.init_std,
                          eos_token=data.eos_token, pad_token=data.pad_token).to(device)  # fmt: skip
    discriminator = Discriminator(data.vocab_size, d.filters(data.seq_len), d.emb_dim, d.dropout_keep).to(device)
    oracle = build_oracle(oracle_params, device) if oracle_params is not None else None
    return Models(generator, discriminator, oracle)

