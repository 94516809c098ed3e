"""Language-model scores of generated text (Semeniuta et al. 2018), with LSTM LMs this project trains itself.

- **LM score** (quality): the per-token NLL of generated samples under an LM trained on the real training split
  (early-stopped on the real validation split). Lower: the samples are more typical of real text.
- **Reverse LM score** (diversity, coverage): the per-token NLL of the real test split under an LM trained on
  generated samples only (early-stopped on a held-out tenth of them, so no real data shapes it). Lower: the
  samples cover more of the real distribution; it rises when the generator drops modes.

Both LMs have the same architecture and settings (:class:`LMSettings`), recorded beside every score, and the same
seed for every system, so scores of different systems compare. No downloaded weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from seqgan.errors import UserError
from seqgan.eval.metrics import mean_nll
from seqgan.files import write_atomic
from seqgan.models.generator import Generator
from seqgan.models.sampling import sequence_mask, trim_padding


@dataclass(frozen=True)
class LMSettings:
    """The scoring LM: an LSTM language model (the generator's architecture), larger than the paper's G."""

    emb_dim: int = 64  # ours: big enough to beat the 32/32 generators it judges, small enough for a CPU
    hidden_dim: int = 128  # ours
    max_epochs: int = 15  # ours: a cap; early stopping on held-out NLL ends training first
    patience: int = 2  # ours: epochs without a better held-out NLL before stopping
    batch_size: int = 64  # ours
    lr: float = 1e-3  # ours: Adam
    grad_clip: float = 5.0  # as the generator's MLE (authors' code)
    seed: int = 0  # the same initialisation and batch order for every system

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@torch.no_grad()
def _held_out_nll(lm: Generator, tokens: Tensor) -> float:
    return mean_nll(lm, tokens, batch_size=512)


def train_lm(
    train: Tensor,
    held_out: Tensor,
    vocab_size: int,
    start_token: int,
    eos_token: int | None,
    pad_token: int = 0,
    settings: LMSettings = LMSettings(),
) -> tuple[Generator, dict[str, Any]]:
    """An LSTM LM fitted to ``train`` (N, T) by maximum likelihood, stopped early on ``held_out`` (M, T) and put
    back to its best epoch. Returns the LM (eval mode, CPU) and a record of its training."""
    gen = torch.Generator().manual_seed(settings.seed)
    with torch.random.fork_rng(devices=[]):  # initialise from the LM's own seed, leaving torch's stream alone
        torch.manual_seed(settings.seed)
        lm = Generator(
            vocab_size,
            settings.emb_dim,
            settings.hidden_dim,
            start_token=start_token,
            eos_token=eos_token,
            pad_token=pad_token,
        )
        torch.nn.init.zeros_(lm.out.bias)
    opt = torch.optim.Adam([p for p in lm.parameters() if p.requires_grad], lr=settings.lr)
    best, best_state, bad, history = math.inf, None, 0, []
    for _ in range(settings.max_epochs):
        lm.train()
        for idx in torch.randperm(len(train), generator=gen).split(settings.batch_size):
            rows = trim_padding(train[idx], eos_token)
            logits = lm(rows)
            mask = sequence_mask(rows, eos_token).reshape(-1).to(logits.dtype)
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size), rows.reshape(-1), reduction="none")
            loss = (ce * mask).sum() / mask.sum().clamp(min=1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lm.parameters(), settings.grad_clip)
            opt.step()
        value = _held_out_nll(lm, held_out)
        history.append(round(value, 5))
        if value < best:
            best, bad = value, 0
            best_state = {k: v.detach().clone() for k, v in lm.state_dict().items()}
        else:
            bad += 1
            if bad >= settings.patience:
                break
    lm.load_state_dict(best_state)
    record = {
        "settings": settings.to_dict(),
        "train_rows": len(train),
        "held_out_rows": len(held_out),
        "held_out_nll_by_epoch": history,
        "best_epoch": history.index(min(history)) + 1,
    }
    return lm.eval(), record


def data_key(*tensors: Tensor, settings: LMSettings = LMSettings()) -> str:
    """A short hash of the data and settings an LM is trained from (the name of its cache file)."""
    h = hashlib.sha256(json.dumps(settings.to_dict(), sort_keys=True).encode())
    for t in tensors:
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def forward_lm(
    train: Tensor,
    valid: Tensor,
    vocab_size: int,
    start_token: int,
    eos_token: int | None,
    pad_token: int = 0,
    cache_dir: Path | None = None,
    settings: LMSettings = LMSettings(),
) -> tuple[Generator, dict[str, Any]]:
    """The LM of real text: trained on ``train``, early-stopped on ``valid``; kept in ``cache_dir`` (one file per
    data and settings), so that every system and every call scores under the same LM."""
    if cache_dir is not None and cache_dir.exists() and not cache_dir.is_dir():
        raise UserError(f"the LM cache {cache_dir} is a file, not a folder: give a folder to --lm-cache")
    path = None if cache_dir is None else cache_dir / f"lm-{data_key(train, valid, settings=settings)}.pt"
    if path is not None and path.is_file():
        lm = Generator(
            vocab_size,
            settings.emb_dim,
            settings.hidden_dim,
            start_token=start_token,
            eos_token=eos_token,
            pad_token=pad_token,
        )
        try:
            with warnings.catch_warnings():  # torch's notes on a foreign pickle: the file is replaced anyway
                warnings.simplefilter("ignore")
                saved = torch.load(path, map_location="cpu", weights_only=True)
            lm.load_state_dict(saved["state"])
            record = saved["record"]
            ok = isinstance(record, dict) and {"settings", "best_epoch"} <= record.keys()
            ok = ok and all(bool(torch.isfinite(v).all()) for v in lm.state_dict().values() if v.is_floating_point())
        except Exception:  # noqa: BLE001 - any damage: the cache is rebuilt (its advice to unpickle it never shown)
            ok = False
        if ok:
            return lm.eval(), record
        logging.getLogger("seqgan").warning("the LM cache %s is damaged: training the LM again to replace it", path)
    lm, record = train_lm(train, valid, vocab_size, start_token, eos_token, pad_token, settings)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save({"state": lm.state_dict(), "record": record}, buf)
        write_atomic(path, buf.getvalue())
    return lm, record


def lm_scores(
    samples: Tensor, forward: Generator, test: Tensor, reverse: bool = True, settings: LMSettings = LMSettings()
) -> dict[str, Any]:
    """``eval/lm_score`` of ``samples`` (S, T) under the real-text LM ``forward`` and, with ``reverse``,
    ``eval/reverse_lm_score``: the NLL of the real ``test`` split (N, T) under an LM trained on the samples (nine
    tenths; early-stopped on the last tenth)."""
    out: dict[str, Any] = {"eval/lm_score": mean_nll(forward, samples, batch_size=512)}
    if reverse:
        cut = max(1, len(samples) // 10)
        lm, record = train_lm(
            samples[cut:],
            samples[:cut],
            forward.vocab_size,
            forward.start_token,
            forward.eos_token,
            forward.pad_token,
            settings,
        )
        out["eval/reverse_lm_score"] = mean_nll(lm, test, batch_size=512)
        out["reverse_lm"] = {"best_epoch": record["best_epoch"], "train_rows": record["train_rows"]}
    return out
