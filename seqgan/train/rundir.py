"""A run directory: the contract between ``seqgan train`` and everything that reads a run (sample, eval, plot,
turing-test, the benchmarks). This module alone knows its file names.

    RUN/
      config.json  command.txt  env.json   resolved config, the command, versions and hardware
      data.pt                              the exact train / valid / test sequences ({"train", "valid", "test"})
      oracle.npz | vocab.json              the oracle (synthetic task) or the vocabulary (prepared data)
      metrics.jsonl                        one JSON event per line (train/logbook.py)
      samples/PHASE-EPOCH.txt              a few sequences at every evaluation
      checkpoints/last.pt prev.pt best.pt pretrained.pt   (train/checkpoint.py)
      fork.json                            runs started with --init-from: where from
      .lock                                held while a process trains the run

A run is of one kind: ``oracle`` (no data.path), ``text`` or ``music`` (a pitch vocabulary).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import logging
import os
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import Tensor

from seqgan.config import SeqGANConfig, get_value
from seqgan.data.decode import render_rows
from seqgan.data.prepared import load_prepared
from seqgan.data.vocab import Vocab
from seqgan.env import available_memory, env_snapshot
from seqgan.errors import UserError
from seqgan.files import write_atomic, write_json
from seqgan.models.build import build_models, check_fits
from seqgan.models.oracle import build_oracle
from seqgan.models.oracle_file import load_oracle_params, random_oracle_params, save_oracle_params
from seqgan.train import distributed
from seqgan.train.checkpoint import latest_checkpoint, load_file
from seqgan.train.logbook import MetricsLog

CONFIG, COMMAND, ENV, DATA = "config.json", "command.txt", "env.json", "data.pt"
ORACLE, VOCAB = "oracle.npz", "vocab.json"
METRICS, FORK, LOCK, SAMPLES, CHECKPOINTS = "metrics.jsonl", "fork.json", ".lock", "samples", "checkpoints"
LAST, PREV, BEST, PRETRAINED = "last.pt", "prev.pt", "best.pt", "pretrained.pt"
# What a fork copies from its source: the data and what decodes it.
_SHARED = (DATA, ORACLE, VOCAB)


def derived_seed(*parts: int) -> int:
    """A seed from several integers (run seed, purpose, ...), stable across processes and versions."""
    seed = 0
    for p in parts:
        seed = (seed * 1_000_003 + p) % (2**63 - 1)
    return seed


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
    try:
        return SeqGANConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, AttributeError, TypeError):  # not UTF-8, not JSON, not a config
        raise UserError(f"{path} is damaged: it is not the JSON config that `seqgan train` writes") from None


def new_run_data(
    cfg: SeqGANConfig, device: torch.device
) -> tuple[dict[str, Tensor], dict[str, np.ndarray] | None, Vocab | None]:
    """The data of a new run, and ``cfg`` completed from it: prepared data fixes the vocabulary, the length, the
    special tokens and the split sizes; the oracle task samples train / test / valid from the oracle once (so that
    resume and later evaluation use exactly these). Returns (data, oracle parameters, vocabulary)."""
    if cfg.data.path is not None:
        prepared = load_prepared(cfg.data.path)
        d = cfg.data
        d.vocab_size, d.seq_len = prepared.vocab_size, prepared.seq_len
        d.start_token, d.eos_token = prepared.start_token, prepared.eos_token
        d.pad_token = prepared.pad_token if prepared.pad_token is not None else 0
        d.num_train, d.num_test, d.num_valid = len(prepared.train), len(prepared.test), len(prepared.valid)
        d.num_labels = len(prepared.labels or ())
        cfg.validate()
        if len(prepared.train) == 0:
            raise UserError(f"{cfg.data.path} has no training sequences: prepare a larger file")
        check_fits(cfg, available_memory())
        data = {"train": prepared.train, "valid": prepared.valid, "test": prepared.test}
        if d.num_labels:
            data.update(
                train_labels=prepared.train_labels, valid_labels=prepared.valid_labels, test_labels=prepared.test_labels
            )
        return data, None, prepared.vocab
    if cfg.data.oracle_params is not None:
        params = load_oracle_params(cfg.data.oracle_params)
        cfg.data.vocab_size = int(params["embedding"].shape[0])  # the oracle fixes the vocabulary ...
        cfg.data.num_labels = len(params.get("label_embedding", ()))  # ... and whether it is conditional
        cfg.validate()
        check_fits(cfg, available_memory())
    else:
        check_fits(cfg, available_memory())  # before the oracle is drawn: its size is the config's
        params = random_oracle_params(
            cfg.data.vocab_size,
            cfg.data.oracle_emb_dim,
            cfg.data.oracle_hidden_dim,
            seed=cfg.data.oracle_seed,
            num_labels=cfg.data.num_labels,
        )
    oracle = build_oracle(params, device)
    rng = torch.Generator(device).manual_seed(derived_seed(cfg.run.seed, 1))
    n_train, n_test, n_valid = cfg.data.num_train, cfg.data.num_test, cfg.data.num_valid
    K = cfg.data.num_labels
    # A conditional oracle: every label in turn (equal shares in every split), so the rows are the oracle's joint
    # distribution with a uniform label prior.
    labels = torch.arange(n_train + n_test + n_valid, device=device) % K if K else None
    given = {} if labels is None else {"labels": labels}
    rows = oracle.generate(n_train + n_test + n_valid, cfg.data.seq_len, rng, cfg.eval.batch_size, **given).cpu()
    # validation drawn last, so train and test are those of runs made before validation splits existed
    parts = {
        "train": slice(0, n_train),
        "valid": slice(n_train + n_test, None),
        "test": slice(n_train, n_train + n_test),
    }
    data = {name: rows[part].clone() for name, part in parts.items()}
    if labels is not None:
        data.update({f"{name}_labels": labels[part].cpu().clone() for name, part in parts.items()})
    return data, params, None


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
        if not isinstance(data, dict) or not {"train", "test"} <= data.keys():
            raise damaged
        # Runs made before validation splits existed have none: they keep evaluating on the test split.
        data.setdefault("valid", data["test"][:0])
        if "train_labels" in data:
            data.setdefault("valid_labels", data["test_labels"][:0])
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

    def resumable_checkpoint(self, cfg: SeqGANConfig, given: tuple[Any, Any] = (None, None)) -> dict[str, Any] | None:
        """The newest checkpoint whose models fit ``cfg`` (last.pt, else prev.pt with a warning): one damaged inside
        (tensors of other shapes, an edited config.json) is passed over like one that does not load. None when the
        run has none yet; a UserError when none fits."""
        with torch.random.fork_rng(devices=[]):  # a trial build: leave torch's random stream as it was
            models, errors = build_models(cfg, None, "cpu", *(copy.deepcopy(m) for m in given)), []
        for name in (LAST, PREV):
            path = self.checkpoints / name
            if not os.path.lexists(path):
                continue
            try:
                ckpt = load_file(path)
                models.generator.load_state_dict(ckpt["generator"])
                models.discriminator.load_state_dict(ckpt["discriminator"])
            except UserError as e:
                errors.append(str(e))
                continue
            except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as e:
                errors.append(f"checkpoint {path} does not fit the run's config.json ({type(e).__name__})")
                continue
            if errors:
                logging.getLogger("seqgan").warning("%s; using the previous checkpoint %s", errors[0], path)
            return ckpt
        if errors:
            raise UserError("; ".join(errors) + ": the run cannot continue; start a new one")
        return None

    def pretrained_checkpoint(self) -> dict[str, Any]:
        """The state at the end of pre-training, which forks start from: pretrained.pt, or the newest checkpoint
        of a run that stands at adversarial epoch 0 (made before pretrained.pt existed)."""
        if (self.checkpoints / PRETRAINED).exists():
            return load_file(self.checkpoints / PRETRAINED)
        ckpt = latest_checkpoint(self.checkpoints)
        at = (ckpt["state"]["phase"], ckpt["state"]["epoch"]) if ckpt else None
        if at != ("adversarial", 0):
            where = "it has no checkpoint" if at is None else f"it is at phase {at[0]}, epoch {at[1]}"
            raise UserError(
                f"--init-from {self.path} has not finished pre-training ({where}): resume it "
                "(`seqgan train --resume`) until it reaches the adversarial phase"
            )
        return ckpt

    def kind(self) -> str:
        """ "oracle", "text" or "music"."""
        vocab = self.vocab()
        return "oracle" if vocab is None else ("music" if vocab.pitch is not None else "text")


def fork_config(source: SeqGANConfig, cfg: SeqGANConfig, source_dir: Path) -> SeqGANConfig:
    """``cfg`` for a fork of a run trained with ``source``: the data and seed are the source's; the models and
    pre-training must be the same (a fork equals a run trained from scratch with ``cfg``)."""
    fixed = (
        [f"generator.{f.name}" for f in dataclasses.fields(cfg.generator)]
        + ["discriminator.emb_dim", "discriminator.filter_sizes", "discriminator.num_filters"]
        + [f"pretrain.{f.name}" for f in dataclasses.fields(cfg.pretrain)]
    )
    for key in fixed:
        mine, theirs = get_value(cfg, key), get_value(source, key)
        if mine != theirs:
            raise UserError(
                f"--init-from {source_dir}: {key} is {mine!r} here but {theirs!r} in the source run; a "
                "fork keeps the source's models and pre-training: drop that --set or pick another source "
                "run"
            )
    cfg.data = copy.deepcopy(source.data)
    cfg.run.seed = source.run.seed
    cfg.validate()
    return cfg


def open_for_training(
    run: RunDir,
    cfg: SeqGANConfig,
    command: str,
    resume: bool,
    init_from: str | Path | None,
    device: torch.device,
    given: tuple[Any, Any] = (None, None),
) -> dict[str, Any]:
    """Create, fork or reopen ``run`` for training (rank 0 of several processes): returns what every rank builds
    from (the config, the data, the oracle's parameters, the checkpoint to resume or fork from) and the metrics log
    (rank 0's only: it does not travel to the other ranks)."""
    checkpoint, fork_state = None, None
    env = env_snapshot(device)
    if distributed.world_size() > 1:
        env["distributed"] = {"world_size": distributed.world_size(), "backend": str(torch.distributed.get_backend())}
    if resume:
        log = run.open(cfg)
        checkpoint = run.resumable_checkpoint(cfg, given)
        if checkpoint is not None:
            distributed.check_world(checkpoint, run.path)
    elif init_from is not None:
        source = RunDir(init_from)
        cfg = fork_config(read_run_config(source.path), cfg, source.path)
        check_fits(cfg, available_memory())
        fork_state = source.pretrained_checkpoint()
        distributed.check_world(fork_state, source.path)
        log = run.fork_from(source, cfg, command, env, fork_state)
    else:
        data, oracle, vocab = new_run_data(cfg, device)
        if len(data["train"]) < cfg.pretrain.batch_size:
            logging.getLogger("seqgan").warning(
                "only %d training sequences, fewer than one batch (pretrain.batch_size %d): the generator can only "
                "memorise them and the metrics will say little; prepare more data for a real run",
                len(data["train"]),
                cfg.pretrain.batch_size,
            )
        log = run.create(cfg, command, env, data, oracle, vocab)
    # Read back what was written, so that a new run builds from exactly what a resumed one will read.
    return {
        "config": cfg,
        "data": run.data(cfg),
        "oracle": run.oracle_params(),
        "checkpoint": checkpoint,
        "fork": fork_state,
        "log": log,
    }
