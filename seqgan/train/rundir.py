"""A run directory: the contract between ``seqgan train`` and everything that reads a run (sample, eval, plot,
turing-test, the benchmarks). This module alone knows its file names.

    RUN/
      config.json  command.txt  env.json   resolved config, the command, versions and hardware
      data.pt                              the exact train / valid / test sequences ({"train", "valid", "test"})
      oracle.npz | vocab.json              the oracle (synthetic task) or the vocabulary (prepared data)
      metrics.jsonl                        one JSON event per line (train/logbook.py)
      samples/PHASE-EPOCH.txt              a few sequences at every evaluation
      checkpoints/last.pt prev.pt best.pt  (train/checkpoint.py); mle.pt, pretrained.pt: the ends of MLE and of
                                           pre-training, which forks start from
      fork.json                            runs started with --init-from: where from
      .lock                                held while a process trains the run

A run is of one kind: ``oracle`` (no data.path), ``text`` or ``music`` (a pitch vocabulary).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import Tensor

from seqgan.config import SeqGANConfig, load_config_file
from seqgan.data.decode import render_rows
from seqgan.data.vocab import Vocab, data_kind
from seqgan.errors import UserError
from seqgan.files import write_atomic, write_json
from seqgan.models.oracle_file import load_oracle_params, save_oracle_params
from seqgan.train.checkpoint import latest_checkpoint, load_file
from seqgan.train.logbook import MetricsLog

CONFIG, COMMAND, ENV, DATA = "config.json", "command.txt", "env.json", "data.pt"
ORACLE, VOCAB = "oracle.npz", "vocab.json"
METRICS, FORK, LOCK, SAMPLES, CHECKPOINTS = "metrics.jsonl", "fork.json", ".lock", "samples", "checkpoints"
LAST, PREV, BEST, PRETRAINED, MLE_END = "last.pt", "prev.pt", "best.pt", "pretrained.pt", "mle.pt"
# What a fork copies from its source: the data and what decodes it.
_SHARED = (DATA, ORACLE, VOCAB)


def is_run(path: Path) -> bool:
    """Whether ``path`` is a run directory (written by ``seqgan train``)."""
    return (path / CONFIG).is_file() and ((path / METRICS).exists() or (path / CHECKPOINTS).is_dir())


def run_file_of(path: str | Path) -> Path | None:
    """The run directory that ``path`` is one of the own files of (config, data, checkpoints, samples, the log,
    the LM cache, ...), or None: commands that write files never write there."""
    p = Path(os.path.abspath(path))
    own = {CONFIG, COMMAND, ENV, DATA, ORACLE, VOCAB, METRICS, FORK, LOCK}
    if p.name in own and is_run(p.parent):
        return p.parent
    if p.parent.name in (CHECKPOINTS, SAMPLES, "lm") and is_run(p.parent.parent):
        return p.parent.parent
    return None


def read_run_config(run_dir: str | Path) -> SeqGANConfig:
    """The resolved config a run directory was trained with (its config.json)."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise UserError(f"{run_dir} holds no run (no {CONFIG}): give a directory written by `seqgan train`")
    return load_config_file(path, "restore it, or start a new run")


class RunDir:
    """The files of one run. Writers: :meth:`create`, :meth:`fork_from`, :meth:`open` (all lock the run for
    this process until :meth:`close`); readers need no lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock_file: IO[str] | None = None

    def __str__(self) -> str:
        return str(self.path)

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    # -------------------------------------------------------------- writers
    def create(
        self,
        cfg: SeqGANConfig,
        command: str,
        env: dict[str, Any],
        data: dict[str, Tensor],
        oracle_params: dict[str, np.ndarray] | None,
        vocab: Vocab | None,
    ) -> MetricsLog:
        """A new run: refuses a directory that holds one; returns its (empty) metrics log."""
        self._make()
        if vocab is not None:
            vocab.save(self.path / VOCAB)
        if oracle_params is not None:
            save_oracle_params(oracle_params, self.path / ORACLE)
        buf = io.BytesIO()
        torch.save(data, buf)
        write_atomic(self.path / DATA, buf.getvalue())
        self._describe(cfg, command, env)
        log = MetricsLog(self.metrics_file)
        log.truncate(0)
        return log

    def fork_from(
        self, source: RunDir, cfg: SeqGANConfig, command: str, env: dict[str, Any], ckpt: dict[str, Any]
    ) -> MetricsLog:
        """A new run that starts from ``source``'s checkpoint ``ckpt``: its data, pre-training samples and the
        events up to that checkpoint are copied, so the curves start at MLE epoch 0."""
        self._make()
        for name in _SHARED:
            if (source.path / name).exists():
                write_atomic(self.path / name, (source.path / name).read_bytes())
        for sample_file in sorted((source.path / SAMPLES).glob("mle-*.txt")):  # the pre-training evaluations
            write_atomic(self.path / SAMPLES / sample_file.name, sample_file.read_bytes())
        write_atomic(self.metrics_file, source.metrics_file.read_bytes()[: ckpt["state"]["metrics_bytes"]])
        self._describe(cfg, command, env)
        write_json(
            self.path / FORK,
            {"source": str(source.path.resolve()), "phase": ckpt["state"]["phase"], "epoch": ckpt["state"]["epoch"]},
        )
        return MetricsLog(self.metrics_file)

    def open(self, cfg: SeqGANConfig) -> MetricsLog:
        """An existing run, to continue it: locked, its own files checked."""
        self.lock()
        for name in (DATA, VOCAB if cfg.data.path else ORACLE):
            if not (self.path / name).is_file():
                raise UserError(f"{self.path} is missing {name}: it was not written by `seqgan train`; start a new run")
        return MetricsLog(self.metrics_file)

    def _make(self) -> None:
        if (self.path / CONFIG).exists() or self.checkpoints.exists():
            raise UserError(
                f"{self.path} already holds a run: continue it with --resume {self.path} or pick a new --out-dir"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(
                f"cannot create run directory {self.path} ({e.strerror}): pick a writable --out-dir"
            ) from None
        self.lock()
        (self.path / SAMPLES).mkdir(exist_ok=True)

    def _describe(self, cfg: SeqGANConfig, command: str, env: dict[str, Any]) -> None:
        write_json(self.path / CONFIG, cfg.to_dict())
        write_atomic(self.path / COMMAND, (command + "\n").encode())
        write_json(self.path / ENV, env)

    def lock(self) -> None:
        """Hold RUN/.lock for this object's lifetime, so that two processes never write one run. Where the
        platform has no ``fcntl`` (Windows) the run is not locked."""
        try:
            import fcntl
        except ImportError:
            return
        self._lock_file = open(self.path / LOCK, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            self._lock_file = None
            raise UserError(
                f"{self.path} is in use by another seqgan process: wait for it to finish, or stop it "
                "(Ctrl-C saves a checkpoint) and resume"
            ) from None

    def close(self) -> None:
        """Release the lock (also released when the process ends)."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def write_samples(self, phase: str, epoch: int, rows: Tensor, labels: list[str] | None = None) -> None:
        """The sequences of one evaluation, as text (or ids), for people to read; conditional: LABEL<TAB>text."""
        lines = render_rows(rows, self.vocab())
        if labels is not None:
            lines = [f"{label}\t{line}" for label, line in zip(labels, lines, strict=True)]
        text = "".join(line + "\n" for line in lines)
        write_atomic(self.path / SAMPLES / f"{phase}-{epoch:04d}.txt", text.encode())

    def keep_checkpoint(self, name: str) -> None:
        """Copy the newest checkpoint to ``name`` (best.pt, pretrained.pt)."""
        write_atomic(self.checkpoints / name, (self.checkpoints / LAST).read_bytes())

    # -------------------------------------------------------------- readers
    def data(self, cfg: SeqGANConfig | None = None) -> dict[str, Tensor]:
        """The run's sequences {"train", "valid", "test"}: (N, T) ids each; checked against ``cfg`` (the length and
        the vocabulary) when given, so a replaced or edited data.pt is one line, not a crash mid-training."""
        damaged = UserError(f"{self.path}/{DATA} is missing or damaged: the run cannot be used; start a new run")
        try:
            data = torch.load(self.path / DATA, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - any damage is the same problem for the user
            raise damaged from None
        if not isinstance(data, dict) or not {"train", "valid", "test"} <= data.keys():
            raise damaged
        for name in ("train", "valid", "test"):
            rows = data[name]
            ok = isinstance(rows, Tensor) and rows.dtype == torch.long and rows.dim() == 2
            if ok and cfg is not None and rows.numel():
                V, T = cfg.data.vocab_size, cfg.data.seq_len
                ok = rows.shape[1] == T and 0 <= int(rows.min()) and int(rows.max()) < V
            if not ok:
                raise UserError(
                    f"{self.path}/{DATA} is damaged: its {name} split is not a matrix of ids of the run's "
                    "length and vocabulary; start a new run"
                )
            labels, K = data.get(f"{name}_labels"), cfg.data.num_labels if cfg is not None else None
            if labels is None:
                ok = not K
            else:
                ok = bool(K is None or K) and isinstance(labels, Tensor) and labels.dtype == torch.long
                ok = ok and labels.shape == rows.shape[:1] and (not labels.numel() or int(labels.min()) >= 0)
                ok = ok and (K is None or not labels.numel() or int(labels.max()) < K)
            if not ok:
                raise UserError(
                    f"{self.path}/{DATA} is damaged: the labels of its {name} split do not match the run "
                    "(one label id per sequence, below data.num_labels); start a new run"
                )
        return data

    def oracle_params(self) -> dict[str, np.ndarray] | None:
        return load_oracle_params(self.path / ORACLE) if (self.path / ORACLE).exists() else None

    def vocab(self) -> Vocab | None:
        return Vocab.load(self.path / VOCAB) if (self.path / VOCAB).exists() else None

    def checkpoint(self, which: str = "last") -> dict[str, Any] | None:
        """``last`` (falling back to prev.pt if the newest is damaged), ``prev``, ``best``, ``pretrained``, or a
        checkpoint file's path; None when the run has no checkpoint yet."""
        if which == "last":
            return latest_checkpoint(self.checkpoints)
        if which in ("prev", "best", "pretrained"):
            return load_file(self.checkpoints / f"{which}.pt")
        return load_file(which)

    def kind(self) -> str:
        """ "oracle", "text" or "music"."""
        return data_kind(self.vocab())
