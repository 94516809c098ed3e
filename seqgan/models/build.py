"""The one place that builds the models of a config: G, D and the oracle."""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from seqgan.config import SeqGANConfig
from seqgan.errors import UserError
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.models.interface import SequenceGenerator
from seqgan.models.oracle import build_oracle
from seqgan.models.recurrent import RecurrentDiscriminator
from seqgan.models.transformer import TransformerGenerator


class Models(NamedTuple):
    generator: SequenceGenerator
    discriminator: Discriminator
    oracle: Generator | None  # the synthetic task's oracle; None for prepared data


def build_models(
    cfg: SeqGANConfig,
    oracle_params: dict[str, np.ndarray] | None = None,
    device: str | torch.device = "cpu",
    generator: nn.Module | None = None,
    discriminator: nn.Module | None = None,
) -> Models:
    """G, D (and the oracle from its parameters) as ``cfg`` describes them, on ``device``; a ``generator`` or
    ``discriminator`` given (your own models, see :mod:`seqgan.models.interface`) is used instead of building one.

    G is built first, then D: with ``torch.manual_seed(seed)`` before the call, the initial weights are those of
    every earlier version of this project for the same seed."""
    data, g, d = cfg.data, cfg.generator, cfg.discriminator
    if generator is not None:
        if not isinstance(generator, SequenceGenerator):
            missing = [
                m
                for m in (
                    "hidden",
                    "project",
                    "sample",
                    "advance",
                    "draw",
                    "prefix_state",
                    "repeat_state",
                    "cat_state",
                    "states_of",
                )
                if not hasattr(generator, m)
            ]
            raise UserError(
                f"the generator given does not implement seqgan.models.interface.SequenceGenerator "
                f"(no {missing[0] if missing else 'vocab_size / start_token / eos_token / pad_token'})"
            )
        generator = generator.to(device)
    elif g.kind == "transformer":
        generator = TransformerGenerator(
            data.vocab_size,
            g.emb_dim,
            g.layers,
            g.heads,
            g.ff_dim,
            g.dropout,
            data.seq_len,
            g.positions,
            data.start_token,
            data.eos_token,
            data.pad_token,
            g.init_std,
            data.num_labels,
        ).to(device)
    elif g.kind == "lstm":
        generator = Generator(
            data.vocab_size,
            g.emb_dim,
            g.hidden_dim,
            start_token=data.start_token,
            init_std=g.init_std,
            eos_token=data.eos_token,
            pad_token=data.pad_token,
            num_labels=data.num_labels,
        ).to(device)
    else:
        raise UserError(
            "generator.kind is custom: this run's generator was passed from Python; open it from Python "
            "with the same generator (SeqGANTrainer.resume(RUN, generator=...))"
        )
    if discriminator is None and d.kind == "lstm":  # one pass scores every prefix (dense rewards)
        discriminator = RecurrentDiscriminator(
            data.vocab_size + data.num_labels, d.emb_dim, d.hidden_dim, d.dropout_keep
        )
    elif discriminator is None:  # a conditional D reads each sequence's label as one more token first (id V + label)
        discriminator = Discriminator(
            data.vocab_size + data.num_labels, d.filters(data.seq_len), d.emb_dim, d.dropout_keep
        )
    discriminator = discriminator.to(device)
    oracle = build_oracle(oracle_params, device) if oracle_params is not None else None
    return Models(generator, discriminator, oracle)


def parameter_counts(cfg: SeqGANConfig) -> tuple[int, int]:
    """The number of parameters of G and of D, counted on the ``meta`` device (which allocates nothing). A deep
    Transformer's count is that of one and two blocks, extrapolated (every block is alike), so that checking a
    config of thousands of layers takes no longer than one of two."""
    layers = cfg.generator.layers if cfg.generator.kind == "transformer" else 1
    counts = []
    for depth in sorted({min(layers, 1), min(layers, 2)}):
        small = copy.deepcopy(cfg)
        small.generator.layers = depth
        with torch.device("meta"):
            g, d, _ = build_models(small, device="meta")
        counts.append((sum(p.numel() for p in g.parameters()), sum(p.numel() for p in d.parameters())))
    (g1, d_params), (g2, _) = counts[0], counts[-1]
    return g1 + (layers - 1) * (g2 - g1), d_params


def check_loadable(cfg: SeqGANConfig, available: int | None) -> None:
    """Refuse, before anything is allocated, a config (an exported model's, a run's) whose models alone do not fit
    in ``available`` bytes: an edited vocab_size or width would otherwise take the machine's memory."""
    if available is None or cfg.generator.kind == "custom":
        return
    need = 4 * 2 * sum(parameter_counts(cfg))  # float32 weights, and the file's copy while they load
    if need > 0.9 * available:
        raise UserError(
            f"the models of this config (vocabulary {cfg.data.vocab_size:,}) need about {need / 2**30:.1f} GiB of "
            f"memory but {available / 2**30:.1f} GiB are available: its config.json was edited, or it was "
            "trained on a larger machine (open it there)"
        )


def estimated_bytes(cfg: SeqGANConfig) -> dict[str, int]:
    """The largest memory a run of ``cfg`` needs at once, in bytes, by part: the models with their gradients and
    optimiser moments (parameters counted exactly, built on the ``meta`` device, which allocates nothing), the
    stored sequences, and the biggest transient tensors (an MLE batch's logits, one G step's roll-outs)."""
    if cfg.generator.kind == "custom":  # a model passed from Python: its size is its owner's business
        return {}
    g_params, d_params = parameter_counts(cfg)
    data, adv, ev = cfg.data, cfg.adversarial, cfg.eval
    V, T, H = data.vocab_size, data.seq_len, cfg.generator.hidden_dim
    rows = data.num_train + data.num_test + data.num_valid
    filters = sum(n for _, n in cfg.discriminator.filters(T))
    return {
        # G: weights, gradient, two Adam optimisers' moments, the delayed roll-out copy; D: weights, gradient, moments
        "models": 4 * (7 * g_params + 4 * d_params),
        "oracle": 0 if data.path is not None else 4 * (V * (data.oracle_emb_dim + data.oracle_hidden_dim + 1)),
        "data": 8 * rows * T,
        # logits, their log-softmax and gradients of one MLE or policy-gradient batch
        "mle_batch": 4 * 4 * max(cfg.pretrain.batch_size, adv.batch_size) * T * V,
        # one G step: every completion (T-1) x N x B x T ids, the LSTM states, a D-scoring chunk's activations
        "rollouts": (T - 1) * adv.rollout_num * adv.batch_size * (8 * T + 2 * 4 * H)
        + 4 * adv.d_score_batch * T * (cfg.discriminator.emb_dim + filters),
        "sampling": 4 * ev.batch_size * (T + H) + 4 * 256 * V,
    }


def check_fits(cfg: SeqGANConfig, available: int | None) -> None:
    """Refuse, before anything is written, a config whose run needs more memory than ``available`` bytes."""
    if available is None:
        return
    parts = estimated_bytes(cfg)
    need = sum(parts.values())
    if need > 0.9 * available:
        biggest = max(parts, key=parts.__getitem__)
        hints = {
            "models": "generator.hidden_dim / emb_dim, the vocabulary or the discriminator's filters",
            "oracle": "the oracle's vocabulary",
            "data": "data.num_train / num_test / num_valid",
            "mle_batch": "pretrain.batch_size / adversarial.batch_size or the vocabulary",
            "rollouts": "adversarial.rollout_num / batch_size or adversarial.d_score_batch",
            "sampling": "eval.batch_size",
        }
        raise UserError(
            f"this config needs about {need / 2**30:.1f} GiB of memory ({biggest}: "
            f"{parts[biggest] / 2**30:.1f} GiB) but {available / 2**30:.1f} GiB are available: lower "
            f"{hints[biggest]}"
        )
