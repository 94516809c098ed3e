"""Reopen a finished (or interrupted) run: config, oracle, generator and discriminator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from seqgan.config import SeqGANConfig, read_run_config
from seqgan.data.vocab import Vocab
from seqgan.errors import UserError
from seqgan.models import Discriminator, Generator, build_oracle
from seqgan.models.oracle_file import load_oracle_params
from seqgan.train.checkpoint import latest_checkpoint, load_file


@dataclass
class Run:
    config: SeqGANConfig
    generator: Generator
    discriminator: Discriminator
    oracle: Generator | None
    vocab: Vocab | None
    test: torch.Tensor
    phase: str
    epoch: int


def load_run(run_dir: str | Path, checkpoint: str = "last") -> Run:
    """Models of ``run_dir`` on the CPU, in eval mode. ``checkpoint``: last, prev, best or a file path."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    if checkpoint == "last":
        ckpt = latest_checkpoint(run_dir / "checkpoints")
    elif checkpoint in ("prev", "best"):
        ckpt = load_file(run_dir / "checkpoints" / f"{checkpoint}.pt")
    else:
        ckpt = load_file(checkpoint)
    if ckpt is None:
        raise UserError(f"{run_dir} has no checkpoint yet: train longer, or resume it with `seqgan train --resume`")
    V, T = cfg.data.vocab_size, cfg.data.seq_len
    g = Generator(V, cfg.generator.emb_dim, cfg.generator.hidden_dim, start_token=cfg.data.start_token,
                  eos_token=cfg.data.eos_token, pad_token=cfg.data.pad_token)  # fmt: skip
    d = Discriminator(V, cfg.discriminator.filters(T), cfg.discriminator.emb_dim, cfg.discriminator.dropout_keep)
    try:
        g.load_state_dict(ckpt["generator"])
        d.load_state_dict(ckpt["discriminator"])
    except (KeyError, RuntimeError):
        raise UserError(f"the checkpoint does not match the config in {run_dir}: it comes from another run") from None
    oracle_file, vocab_file = run_dir / "oracle.npz", run_dir / "vocab.json"
    oracle = build_oracle(load_oracle_params(oracle_file)) if oracle_file.exists() else None
    vocab = Vocab.load(vocab_file) if vocab_file.exists() else None
    try:
        test = torch.load(run_dir / "data.pt", map_location="cpu", weights_only=True)["test"]
    except Exception:  # noqa: BLE001 - any damage is the same problem for the user
        raise UserError(f"{run_dir}/data.pt is missing or damaged: the run cannot be evaluated") from None
    return Run(cfg, g.eval(), d.eval(), oracle, vocab, test, ckpt["state"]["phase"], ckpt["state"]["epoch"])
