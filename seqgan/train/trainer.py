"""SeqGAN training (Algorithm 1 of the paper), one explicit loop per phase.

Phases, in order: ``mle`` (pre-train G by maximum likelihood), ``d_pretrain`` (pre-train D on
real vs generated), ``adversarial`` (policy-gradient G steps with roll-out rewards, then D
rounds), ``done``. A checkpoint after every epoch (or D round) stores the phase, the counter
and every random state, so ``fit()`` on a resumed trainer continues the same trajectory.

Randomness: all sampling and shuffling draws from ``self.rng`` (one ``torch.Generator``);
dropout draws from torch's global generator; evaluation uses its own generator seeded from
(seed, phase, epoch), so evaluating more or less often never changes training.

Several processes (``torchrun``, :mod:`seqgan.distributed`): every global batch is split across the
ranks and each rank's loss is its share of the global loss, so the summed gradients equal the
single-process gradient of the global batch; the clip and the step then agree on every rank. Each rank
samples with its own generator (seeded from the run seed and its rank); shuffles, identical on all ranks,
draw from ``self.shared_rng`` (in one process the same object as ``self.rng``). Rank 0 alone touches the
run directory (config, metrics, samples, checkpoints, the lock) and evaluates; checkpoints hold every
rank's random states. Details in docs/implementation-details.md.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fcntl
import io
import logging
import math
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F
from tqdm import tqdm

from seqgan.config import SeqGANConfig, best_metric_higher_is_better, get_value, read_run_config
from seqgan.data.decode import strip_special
from seqgan.data.prepared import load_prepared
from seqgan.data.vocab import Vocab
from seqgan.env import env_snapshot, resolve_device
from seqgan.errors import Interrupted, TrainingError, UserError
from seqgan.eval.bleu import BleuReference
from seqgan.eval.metrics import distinct_n, evaluate_samples
from seqgan.files import write_atomic, write_json
from seqgan.models import Discriminator, Generator, build_oracle
from seqgan.models.generator import sequence_mask, trim_padding
from seqgan.models.oracle_file import load_oracle_params, random_oracle_params, save_oracle_params
from seqgan.train import distributed
from seqgan.train.checkpoint import latest_checkpoint, load_file, save_checkpoint
from seqgan.train.logbook import MetricsLog
from seqgan.train.losses import discriminator_loss, mle_loss, policy_gradient_loss
from seqgan.train.rollout import bleu_rollout_rewards, rollout_rewards, shuffle_rewards, update_delayed_policy

PHASES = ("mle", "d_pretrain", "adversarial", "done")


def _derived_seed(*parts: int) -> int:
    seed = 0
    for p in parts:
        seed = (seed * 1_000_003 + p) % (2**63 - 1)
    return seed


def check_split(config: SeqGANConfig, world: int) -> None:
    """Refuse batch sizes that ``world`` processes cannot share equally (one line naming the key and the fix)."""
    if world <= 1:
        return
    for key in ("pretrain.batch_size", "adversarial.batch_size", "discriminator.batch_size"):
        size = get_value(config, key)
        if size % world:
            fit = max(world, size - size % world)
            raise UserError(f"{key} is {size}, which {world} processes cannot split equally: use a multiple of "
                            f"{world} (--set {key}={fit}) or a process count that divides it")  # fmt: skip


class SeqGANTrainer:
    """Builds everything a run needs from a config and trains it in ``fit()``.

    Usage: ``SeqGANTrainer(cfg, "runs/x").fit()``; ``SeqGANTrainer.resume("runs/x").fit()``.
    """

    def __init__(self, config: SeqGANConfig, out_dir: str | Path, command: str | None = None,
                 resume: bool = False, init_from: str | Path | None = None) -> None:  # fmt: skip
        """``init_from``: a run directory whose pre-training this run starts from (see :meth:`fork`)."""
        distributed.init_from_env()  # under torchrun: join the process group (a no-op in one process)
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.is_main = self.rank == 0
        with distributed.same_on_all_ranks():  # every rank holds the same config
            config.validate()
            check_split(config, self.world)
            device = resolve_device(config.run.device)
        self.cfg = config
        self.out = Path(out_dir)
        self.device = distributed.local_device(device)
        self.phase, self.epoch = "mle", 0
        self.best: float | None = None
        self._best_pending = False
        self.mle_best: dict[str, Any] | None = None  # MLE early stopping: best validation NLL, its epoch and G
        self.diversity_ref: dict[str, float] | None = None  # entropy / distinct-2 at the first adversarial epoch
        self._warned_collapse = False
        self._stop_signal: int | None = None
        self._lock_file = None
        self._bleu_reference: BleuReference | None = None
        self.log: MetricsLog | None = None  # rank 0 only
        command = command or shlex.join(sys.argv)
        # Rank 0 creates or opens the run and hands the config, data and checkpoint to the other ranks.
        setup = distributed.run_on_main(lambda: self._setup_run(command, resume, init_from))
        self.cfg = setup["config"]
        self._build(setup["data"], setup["oracle"])
        if setup["fork"] is not None:
            self._load_state(setup["fork"], fork=True)
            self.best = None  # best.pt is chosen among this run's own evaluations
            self.save()  # a fork killed at once resumes from here, not from scratch
        if resume:
            if setup["checkpoint"] is not None:
                self._load_state(setup["checkpoint"])
            elif self.log is not None:  # killed before the first checkpoint: start over
                self.log.truncate(0)

    @classmethod
    def fork(cls, source: str | Path, config: SeqGANConfig, out_dir: str | Path,
             command: str | None = None) -> SeqGANTrainer:  # fmt: skip
        """A new run that starts where ``source`` finished pre-training (its checkpoints/pretrained.pt).

        The fork takes the source's data (and oracle), seed and models; ``config`` decides everything
        after pre-training (mode, reward, roll-outs, D schedule, evaluation). Its generator, discriminator
        shape and pre-training settings must equal the source's, so that a fork equals a run trained
        from scratch with ``config`` (tested). Baselines and ablations share one pre-training this way.
        """
        return cls(config, out_dir, command, init_from=source)

    @classmethod
    def resume(cls, out_dir: str | Path, device: str | None = None) -> SeqGANTrainer:
        distributed.init_from_env()
        cfg = distributed.run_on_main(lambda: read_run_config(out_dir))  # only rank 0 needs the folder
        if device is not None:
            cfg.run.device = device
        return cls(cfg, out_dir, resume=True)

    # ----------------------------------------------------------------- setup
    def _setup_run(self, command: str, resume: bool, init_from: str | Path | None) -> dict[str, Any]:
        """Create, fork or reopen the run directory (rank 0); returns what every rank builds from."""
        checkpoint, fork_state = None, None
        if resume:
            self._open_existing_run()
            checkpoint = latest_checkpoint(self.out / "checkpoints")
        elif init_from is not None:
            fork_state = self._fork_run(Path(init_from), command)
        else:
            self._create_run(command)
        if checkpoint is not None:
            self._check_world(checkpoint, self.out)
        oracle_file = self.out / "oracle.npz"
        return {
            "config": self.cfg,
            "data": torch.load(self.out / "data.pt", map_location="cpu", weights_only=True),
            "oracle": load_oracle_params(oracle_file) if oracle_file.exists() else None,
            "checkpoint": checkpoint,
            "fork": fork_state,
        }

    def _check_world(self, ckpt: dict[str, Any], source: Path) -> None:
        """A checkpoint continues only with the process count it was written with: the split of the
        batches and the random streams depend on it."""
        saved = ckpt["rng"].get("world_size", 1)
        if saved != self.world:
            how = f"torchrun --nproc-per-node {saved} -m seqgan train ..." if saved > 1 else "plain `seqgan train`"
            raise UserError(f"{source} was trained with {saved} process(es) but this launch has {self.world}: "
                            f"continue it with the same number ({how})")  # fmt: skip

    def _make_run_dir(self) -> None:
        """Create (and lock) the run directory; an existing run is never overwritten."""
        if (self.out / "config.json").exists() or (self.out / "checkpoints").exists():
            raise UserError(f"{self.out} already holds a run: continue it with --resume {self.out} or pick a new "
                            "--out-dir")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            msg = f"cannot create run directory {self.out} ({e.strerror}): pick a writable --out-dir"
            raise UserError(msg) from None
        self._lock()
        (self.out / "samples").mkdir(exist_ok=True)

    def _create_run(self, command: str) -> None:
        cfg = self.cfg
        prepared, params = None, None
        if cfg.data.path is not None:
            prepared = load_prepared(cfg.data.path)
            # The data fixes the vocabulary, the length and the special tokens.
            cfg.data.vocab_size, cfg.data.seq_len = prepared.vocab_size, prepared.seq_len
            cfg.data.start_token, cfg.data.eos_token = prepared.start_token, prepared.eos_token
            cfg.data.pad_token = prepared.pad_token if prepared.pad_token is not None else 0
            cfg.data.num_train, cfg.data.num_test = len(prepared.train), len(prepared.test)
            cfg.data.num_valid = len(prepared.valid)
            cfg.validate()
            if len(prepared.train) == 0:
                raise UserError(f"{cfg.data.path} has no training sequences: prepare a larger file")
        elif cfg.data.oracle_params is not None:
            params = load_oracle_params(cfg.data.oracle_params)
            cfg.data.vocab_size = int(params["embedding"].shape[0])  # the oracle fixes the vocabulary
        else:
            params = random_oracle_params(cfg.data.vocab_size, cfg.data.oracle_emb_dim, cfg.data.oracle_hidden_dim,
                                          seed=cfg.data.oracle_seed)  # fmt: skip
        self._make_run_dir()
        if prepared is not None:
            prepared.vocab.save(self.out / "vocab.json")
            train, valid, test = prepared.train, prepared.valid, prepared.test
        else:
            save_oracle_params(params, self.out / "oracle.npz")
            oracle = build_oracle(params, self.device)
            # The training, test and validation sets are oracle samples drawn once per run and stored, so
            # that resume and later evaluation use exactly the same data (validation drawn last).
            rng = torch.Generator(self.device).manual_seed(_derived_seed(cfg.run.seed, 1))
            n_train, n_test = cfg.data.num_train, cfg.data.num_test
            data = self._sample(oracle, n_train + n_test + cfg.data.num_valid, rng).cpu()
            train, test = data[:n_train].clone(), data[n_train : n_train + n_test].clone()
            valid = data[n_train + n_test :].clone()
        buf = io.BytesIO()
        torch.save({"train": train, "valid": valid, "test": test}, buf)
        write_atomic(self.out / "data.pt", buf.getvalue())
        write_json(self.out / "config.json", cfg.to_dict())
        write_atomic(self.out / "command.txt", (command + "\n").encode())
        write_json(self.out / "env.json", self._env())
        self.log = MetricsLog(self.out / "metrics.jsonl")
        self.log.truncate(0)

    def _fork_run(self, source: Path, command: str) -> dict[str, Any]:
        """Create this run's directory from ``source``'s pre-training; returns the checkpoint to load."""
        src_cfg, cfg = read_run_config(source), self.cfg
        for key in [f"generator.{f.name}" for f in dataclasses.fields(cfg.generator)] + [
            "discriminator.emb_dim", "discriminator.filter_sizes", "discriminator.num_filters"
        ] + [f"pretrain.{f.name}" for f in dataclasses.fields(cfg.pretrain)]:  # fmt: skip
            mine, theirs = get_value(cfg, key), get_value(src_cfg, key)
            if mine != theirs:
                raise UserError(f"--init-from {source}: {key} is {mine!r} here but {theirs!r} in the source run; "
                                "a fork keeps the source's models and pre-training: drop that --set or pick another "
                                "source run")
        cfg.data = copy.deepcopy(src_cfg.data)
        cfg.run.seed = src_cfg.run.seed
        cfg.validate()
        ckpt_dir = source / "checkpoints"
        if (ckpt_dir / "pretrained.pt").exists():
            ckpt = load_file(ckpt_dir / "pretrained.pt")
        else:
            ckpt = latest_checkpoint(ckpt_dir)
            at = (ckpt["state"]["phase"], ckpt["state"]["epoch"]) if ckpt else None
            if at != ("adversarial", 0):
                where = "it has no checkpoint" if at is None else f"it is at phase {at[0]}, epoch {at[1]}"
                raise UserError(f"--init-from {source} has not finished pre-training ({where}): resume it "
                                "(`seqgan train --resume`) until it reaches the adversarial phase")
        self._check_world(ckpt, source)
        self._make_run_dir()
        for name in ("data.pt", "oracle.npz", "vocab.json"):
            if (source / name).exists():
                write_atomic(self.out / name, (source / name).read_bytes())
        for sample_file in sorted((source / "samples").glob("mle-*.txt")):  # the pre-training evaluations
            write_atomic(self.out / "samples" / sample_file.name, sample_file.read_bytes())
        # The pre-training events of the source, up to its checkpoint: the curves start at MLE epoch 0.
        events = (source / "metrics.jsonl").read_bytes()[: ckpt["state"]["metrics_bytes"]]
        write_atomic(self.out / "metrics.jsonl", events)
        write_json(self.out / "config.json", cfg.to_dict())
        write_atomic(self.out / "command.txt", (command + "\n").encode())
        write_json(self.out / "env.json", self._env())
        write_json(self.out / "fork.json", {"source": str(source.resolve()), "phase": ckpt["state"]["phase"],
                                            "epoch": ckpt["state"]["epoch"]})  # fmt: skip
        self.log = MetricsLog(self.out / "metrics.jsonl")
        return ckpt

    def _env(self) -> dict[str, Any]:
        env = env_snapshot(self.device)
        if self.world > 1:
            env["distributed"] = {"world_size": self.world, "backend": str(torch.distributed.get_backend())}
        return env

    def _lock(self) -> None:
        """Hold RUN/.lock for the trainer's lifetime, so that two processes never write one run."""
        self._lock_file = open(self.out / ".lock", "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            self._lock_file = None
            raise UserError(f"{self.out} is in use by another seqgan process: wait for it to finish, or stop it "
                            "(Ctrl-C saves a checkpoint) and resume") from None  # fmt: skip

    def close(self) -> None:
        """Release the run directory's lock (also released when the process ends)."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _open_existing_run(self) -> None:
        self._lock()
        for name in ("data.pt",) + (("vocab.json",) if self.cfg.data.path else ("oracle.npz",)):
            if not (self.out / name).is_file():
                raise UserError(f"{self.out} is missing {name}: it was not written by `seqgan train`; start a new run")
        self.log = MetricsLog(self.out / "metrics.jsonl")

    def _build(self, data: dict[str, Tensor], oracle_params: dict[str, Any] | None) -> None:
        cfg, dev = self.cfg, self.device
        self.oracle = build_oracle(oracle_params, dev) if oracle_params is not None else None
        self.train_data, self.test_data = data["train"].to(dev), data["test"].to(dev)
        # Runs made before validation splits existed have none: they keep evaluating on the test split.
        self.valid_data = data["valid"].to(dev) if "valid" in data else self.test_data[:0]
        torch.manual_seed(cfg.run.seed)  # dropout and initialisation
        self.rng = torch.Generator(dev).manual_seed(cfg.run.seed)
        V, T = cfg.data.vocab_size, cfg.data.seq_len
        g = cfg.generator
        self.generator = Generator(V, g.emb_dim, g.hidden_dim, start_token=cfg.data.start_token, init_std=g.init_std,
                                   eos_token=cfg.data.eos_token, pad_token=cfg.data.pad_token).to(dev)  # fmt: skip
        d = cfg.discriminator
        self.discriminator = Discriminator(V, d.filters(T), d.emb_dim, d.dropout_keep).to(dev)
        self.shared_rng = self.rng  # one process: shuffles and samples share one stream, as always
        if self.world > 1:
            distributed.broadcast_module(self.generator)  # identical models on every rank, whatever the machine
            distributed.broadcast_module(self.discriminator)
            # Each rank draws its own samples and dropout masks; shuffles must agree, so they get a
            # generator of their own, seeded alike on every rank.
            torch.manual_seed(_derived_seed(cfg.run.seed, 3, self.rank))
            self.rng = torch.Generator(dev).manual_seed(_derived_seed(cfg.run.seed, 3, self.rank))
            self.shared_rng = torch.Generator(dev).manual_seed(cfg.run.seed)
        self.rollout_policy = (
            copy.deepcopy(self.generator).requires_grad_(False) if cfg.adversarial.rollout_policy == "delayed" else None
        )
        trainable = [p for p in self.generator.parameters() if p.requires_grad]
        # Two Adam instances for G, as in the authors' generator.py (MLE and policy gradient).
        self.g_mle_opt = torch.optim.Adam(trainable, lr=cfg.pretrain.g_lr)
        pg_optimizer = torch.optim.SGD if cfg.adversarial.g_optimizer == "sgd" else torch.optim.Adam
        self.g_pg_opt = pg_optimizer(trainable, lr=cfg.adversarial.g_lr)
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=d.lr)

    # ------------------------------------------------------------ checkpoint
    def _state(self) -> dict[str, Any] | None:
        """The checkpoint's contents (on rank 0; None on the others, which only send their random states)."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state(), "sampler": self.rng.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        if self.world > 1:  # every rank's own streams, in rank order, and the shared shuffle stream
            rng = {"world_size": self.world, "shared": self.shared_rng.get_state(),
                   "ranks": distributed.all_gather_object(rng)}  # fmt: skip
        if not self.is_main:
            return None
        return {
            "config": self.cfg.to_dict(),
            "state": {"phase": self.phase, "epoch": self.epoch, "metrics_bytes": self.log.size(), "best": self.best,
                      "diversity_ref": self.diversity_ref, "mle_best": self.mle_best},  # fmt: skip
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "rollout_policy": None if self.rollout_policy is None else self.rollout_policy.state_dict(),
            "g_mle_opt": self.g_mle_opt.state_dict(),
            "g_pg_opt": self.g_pg_opt.state_dict(),
            "d_opt": self.d_opt.state_dict(),
            "rng": rng,
        }

    def save(self) -> None:
        """Write a checkpoint (rank 0; every rank must call it, since it gathers their random states)."""
        state = self._state()
        if state is not None:
            save_checkpoint(self.out / "checkpoints", state)

    def _load_state(self, ckpt: dict[str, Any], fork: bool = False) -> None:
        """Restore a checkpoint. ``fork``: one taken at the end of another run's pre-training, whose policy-gradient
        optimiser has never stepped: this run's own (its kind and learning rate from this config) starts fresh."""
        self.generator.load_state_dict(ckpt["generator"])
        self.discriminator.load_state_dict(ckpt["discriminator"])
        if self.rollout_policy is not None and ckpt["rollout_policy"] is not None:
            self.rollout_policy.load_state_dict(ckpt["rollout_policy"])
        self.g_mle_opt.load_state_dict(ckpt["g_mle_opt"])
        if not fork:
            self.g_pg_opt.load_state_dict(ckpt["g_pg_opt"])
        self.d_opt.load_state_dict(ckpt["d_opt"])
        for group in self.d_opt.param_groups:  # a state dict carries its learning rate; the config decides it
            group["lr"] = self.cfg.discriminator.lr
        rng = ckpt["rng"]
        if self.world > 1:  # this rank's own streams (the process count was checked when the run was opened)
            self.shared_rng.set_state(rng["shared"])
            rng = rng["ranks"][self.rank]
        torch.set_rng_state(rng["torch"])
        self.rng.set_state(rng["sampler"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        state = ckpt["state"]
        self.phase, self.epoch, self.best = state["phase"], state["epoch"], state.get("best")
        self.diversity_ref = state.get("diversity_ref")
        self.mle_best = state.get("mle_best")
        if self.log is not None:
            self.log.truncate(state["metrics_bytes"])

    # ------------------------------------------------------------- helpers
    def _sample(self, model: Generator, num: int, rng: torch.Generator) -> Tensor:
        """num sequences from ``model``, in chunks of eval.batch_size rows. -> (num, T)."""
        return model.generate(num, self.cfg.data.seq_len, rng, self.cfg.eval.batch_size)

    def _progress(self, total: int, desc: str) -> tqdm:
        return tqdm(total=total, initial=self.epoch, desc=desc, unit="ep", leave=False, file=sys.stderr,
                    disable=None if self.cfg.run.progress and self.is_main else True, dynamic_ncols=True)  # fmt: skip

    def _advance(self, total: int, next_phase: str) -> None:
        """Count a finished epoch; checkpoint every ``checkpoint_every`` and at the phase end."""
        self.epoch += 1
        # Several processes stop together: a signal that reached any rank stops all after this epoch.
        stop = distributed.max_int(self._stop_signal or 0) or None
        if self.epoch >= total:
            self.phase, self.epoch = next_phase, 0
            self.save()
        elif self.epoch % self.cfg.run.checkpoint_every == 0 or self._best_pending:
            self.save()
        elif stop is not None:
            self.save()
        if self._best_pending:
            if self.is_main:
                ckpt_dir = self.out / "checkpoints"
                write_atomic(ckpt_dir / "best.pt", (ckpt_dir / "last.pt").read_bytes())
            self._best_pending = False
        if stop is not None:
            name = signal.Signals(stop).name
            launch = f"torchrun --nproc-per-node {self.world} -m seqgan" if self.world > 1 else "seqgan"
            raise distributed.mirrored(Interrupted(
                f"{name}: stopped after a checkpoint in phase {self.phase}, epoch {self.epoch}; "
                f"continue with: {launch} train --resume {self.out}"))  # fmt: skip

    def _clip_step(self, opt: torch.optim.Optimizer, loss: Tensor, clip: float) -> Tensor:
        """Backward, global-norm clip, step; returns the norm as a tensor (no device sync here)."""
        opt.zero_grad(set_to_none=True)
        if loss.requires_grad:  # an empty shard (several processes) has no graph: its gradient is zero
            loss.backward()
        params = [p for group in opt.param_groups for p in group["params"]]
        distributed.all_reduce_grads(params)  # the clip and the step see the global gradient on every rank
        norm = torch.nn.utils.clip_grad_norm_(params, clip) if clip > 0 else torch.zeros(())
        opt.step()
        return norm

    # -------------------------------------------------------------- phases
    def fit(self) -> None:
        """Run whatever phases are not finished yet (so the same call also resumes).

        SIGINT / SIGTERM let the current epoch finish, save a checkpoint and raise Interrupted.
        """
        anomaly = torch.autograd.set_detect_anomaly(True) if self.cfg.run.detect_anomaly else contextlib.nullcontext()
        with self._stop_on_signals(), anomaly:
            try:
                if self.phase == "mle":
                    self.pretrain_generator()
                if self.phase == "d_pretrain":
                    self.pretrain_discriminator()
                if self.phase == "adversarial":
                    self.adversarial()
            except RuntimeError as e:
                if not self.cfg.run.detect_anomaly:
                    raise
                first = str(e).strip().splitlines()[0]
                raise TrainingError(f"anomaly in phase {self.phase}, epoch {self.epoch + 1}: {first}; the last good "
                                    f"checkpoint in {self.out / 'checkpoints'} is kept") from None  # fmt: skip

    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        def request_stop(signum: int, frame: object) -> None:
            self._stop_signal = signum

        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be installed from the main thread
            return
        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _log_checked(self, event: dict[str, Any]) -> None:
        """Log an event; a NaN or infinite number stops the run before anything is saved."""
        bad = [k for k, v in event.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:  # events hold global numbers, the same on every rank: all ranks stop here together
            raise distributed.mirrored(TrainingError(
                f"{bad[0]} is {event[bad[0]]} in phase {event['phase']}, epoch {event['epoch']}: training stopped "
                f"and the last good checkpoint in {self.out / 'checkpoints'} is kept; lower the learning rate "
                "(--set pretrain.g_lr=... / adversarial.g_lr=...) and resume"
            ))
        if self.log is not None:
            self.log.log(event)

    def pretrain_generator(self) -> None:
        """MLE pre-training: ``pretrain.g_epochs`` epochs over the oracle samples."""
        cfg = self.cfg.pretrain
        total = cfg.g_epochs
        if self.epoch == 0:
            self.evaluate("mle", 0)
        bar = self._progress(total, "MLE")
        while self.phase == "mle" and self.epoch < total:
            t0 = time.perf_counter()
            loss = self._mle_epoch()
            epoch = self.epoch + 1
            self._log_checked({"phase": "mle", "epoch": epoch, "g/mle_loss": loss,
                               "time/epoch_s": time.perf_counter() - t0})  # fmt: skip
            end = total
            if epoch % self.cfg.eval.every == 0 or epoch == total:
                if self._early_stop(epoch, self.evaluate("mle", epoch)):
                    end = epoch
            if epoch == end and cfg.patience > 0:
                self._restore_mle_best(epoch, stopped=epoch < total)
            self._advance(end, "d_pretrain")
            bar.update(1)
        bar.close()
        if total == 0 and self.phase == "mle":
            self.phase = "d_pretrain"

    def _early_stop(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Track the best validation NLL of MLE pre-training (``pretrain.patience`` > 0); True when the last
        ``patience`` evaluations brought no better value."""
        patience = self.cfg.pretrain.patience
        value = metrics.get("eval/nll_valid")
        if patience <= 0 or value is None:
            return False
        if self.mle_best is None or value < self.mle_best["value"]:
            weights = {k: v.detach().clone() for k, v in self.generator.state_dict().items()}
            self.mle_best = {"epoch": epoch, "value": value, "bad": 0, "generator": weights}
            return False
        self.mle_best["bad"] += 1
        return self.mle_best["bad"] >= patience

    def _restore_mle_best(self, epoch: int, stopped: bool) -> None:
        """End of MLE with early stopping: G goes back to its best-validation weights (D pre-training and every
        later phase start from them); the event says where it stopped and which epoch it kept."""
        best = self.mle_best
        if best is None:
            return
        self.generator.load_state_dict(best["generator"])
        # Evaluated again, so that the curves show the generator every later phase starts from.
        self.evaluate("mle", epoch, {"mle/stopped_early": int(stopped), "mle/best_epoch": best["epoch"],
                                     "mle/best_nll_valid": best["value"]})  # fmt: skip

    def _mle_epoch(self, true_prob: float = 1.0) -> float:
        """One epoch of maximum likelihood over the training set; returns the mean batch loss.

        ``true_prob`` < 1: scheduled sampling (``Generator.scheduled_sampling_logits``) instead of teacher forcing.
        """
        cfg = self.cfg.pretrain
        n = len(self.train_data)
        order = torch.randperm(n, generator=self.shared_rng, device=self.device) if cfg.shuffle else None
        losses = []
        self.generator.train()
        for i in range(0, n, cfg.batch_size):
            idx = slice(i, i + cfg.batch_size) if order is None else order[i : i + cfg.batch_size]
            rows = self.train_data[idx]
            if self.world == 1:
                losses.append(self._mle_step(rows, None, true_prob))
            else:  # this rank's rows; every rank holds the data, so the batch's token count needs no message
                total = sequence_mask(rows, self.generator.eos_token).sum()
                losses.append(self._mle_step(rows.tensor_split(self.world)[self.rank], total, true_prob))
        return float(distributed.all_reduce_sum(torch.stack(losses)).mean())

    def _mle_step(self, batch: Tensor, total_tokens: Tensor | None, true_prob: float = 1.0) -> Tensor:
        """One maximum-likelihood step on ``batch`` (B_r, T), this rank's rows of a global batch holding
        ``total_tokens`` real tokens (None: ``batch`` is the whole batch, as in one process); returns this
        rank's share of the batch loss.

        The loss is a mean over real tokens, so each rank weights its mean by its share of the tokens:
        the summed gradient is then the gradient of the global batch's mean, however the real lengths fall.
        """
        if batch.shape[0] == 0:  # fewer rows than ranks in the last batch: a zero share
            self._clip_step(self.g_mle_opt, torch.zeros((), device=self.device), self.cfg.pretrain.grad_clip)
            return torch.zeros((), device=self.device)
        batch = trim_padding(batch, self.generator.eos_token)
        logits = (self.generator(batch) if true_prob >= 1.0
                  else self.generator.scheduled_sampling_logits(batch, true_prob, self.rng))  # fmt: skip
        mask = sequence_mask(batch, self.generator.eos_token)
        loss = mle_loss(logits, batch, mask)
        if total_tokens is not None:
            loss = loss * (mask.sum().to(loss.dtype) / total_tokens.clamp(min=1).to(loss.dtype))
        self._clip_step(self.g_mle_opt, loss, self.cfg.pretrain.grad_clip)
        return loss.detach()

    def pretrain_discriminator(self) -> None:
        """``pretrain.d_steps`` rounds of (fresh negatives, ``pretrain.k_epochs`` epochs of D)."""
        cfg = self.cfg.pretrain
        adv = self.cfg.adversarial
        if adv.mode != "seqgan" or adv.reward != "discriminator":  # baselines without a discriminator
            self.phase, self.epoch = "adversarial", 0
            return
        bar = self._progress(cfg.d_steps, "D pre-train")
        while self.phase == "d_pretrain" and self.epoch < cfg.d_steps:
            t0 = time.perf_counter()
            stats = self._train_discriminator(1, cfg.k_epochs)
            self._log_checked({"phase": "d_pretrain", "epoch": self.epoch + 1, **stats,
                          "time/epoch_s": time.perf_counter() - t0})  # fmt: skip
            self._advance(cfg.d_steps, "adversarial")
            bar.update(1)
            bar.set_postfix(acc=f"{(stats['d/acc_real'] + stats['d/acc_fake']) / 2:.3f}")
        bar.close()
        if cfg.d_steps == 0 and self.phase == "d_pretrain":
            self.phase = "adversarial"

    def adversarial(self) -> None:
        """Algorithm 1, lines 5-15: per epoch, g_steps policy-gradient updates of G, the
        roll-out policy update, then d_steps rounds of (fresh negatives, k epochs of D).

        The baselines of Table 1 run here too: ``mode`` "mle" / "ss" spend the epochs on maximum
        likelihood / scheduled sampling; ``reward`` "bleu" / "constant" replace D's reward (and D is
        then not trained).
        """
        cfg = self.cfg.adversarial
        if self.phase == "adversarial" and self.epoch == 0:
            if self.rollout_policy is not None:  # G_beta starts from the pre-trained G (authors: ROLLOUT built here)
                self.rollout_policy.load_state_dict(self.generator.state_dict())
            self.save()  # the end of pre-training, kept as pretrained.pt: later runs can fork from it
            if self.is_main:
                ckpt_dir = self.out / "checkpoints"
                write_atomic(ckpt_dir / "pretrained.pt", (ckpt_dir / "last.pt").read_bytes())
        bar = self._progress(cfg.epochs, "adversarial")
        while self.phase == "adversarial" and self.epoch < cfg.epochs:
            t0 = time.perf_counter()
            epoch = self.epoch + 1
            event: dict[str, Any] = {"phase": "adversarial", "epoch": epoch}
            if cfg.mode == "mle":  # baseline: the same epochs spent on maximum likelihood
                event["g/mle_loss"] = self._mle_epoch()
            elif cfg.mode == "ss":  # baseline: scheduled sampling, P(true token) falls by ss_decay per epoch
                event["g/ss_true_prob"] = max(0.0, 1.0 - cfg.ss_decay * epoch)
                event["g/mle_loss"] = self._mle_epoch(event["g/ss_true_prob"])
            else:
                g_stats = [self._policy_gradient_step() for _ in range(cfg.g_steps)]
                event["time/g_s"] = time.perf_counter() - t0
                if self.rollout_policy is not None:
                    update_delayed_policy(self.rollout_policy, self.generator, cfg.rollout_update_rate)
                if cfg.reward == "discriminator" and cfg.d_steps > 0:
                    event.update(self._train_discriminator(cfg.d_steps, cfg.k_epochs))
                for key in g_stats[0] if g_stats else {}:  # mean over the g-steps (per position for lists)
                    values = [s[key] for s in g_stats]
                    event[key] = ([sum(v) / len(v) for v in zip(*values, strict=True)] if isinstance(values[0], list)
                                  else sum(values) / len(values))  # fmt: skip
                self._check_diversity(event)
            event["time/epoch_s"] = time.perf_counter() - t0
            self._log_checked(event)
            if epoch % self.cfg.eval.every == 0 or epoch == cfg.epochs:
                self.evaluate("adversarial", epoch)
            self._advance(cfg.epochs, "done")
            bar.update(1)
            if "g/reward_mean" in event:
                bar.set_postfix(reward=f"{event['g/reward_mean']:.3f}")
        bar.close()
        if cfg.epochs == 0 and self.phase == "adversarial":
            self.phase = "done"

    def _check_diversity(self, event: dict[str, Any]) -> None:
        """Flag mode collapse: policy entropy or distinct bigrams below half their first adversarial value.

        Adds ``warn/mode_collapse`` = 1 to the event (metrics.jsonl, plot) and warns once per process.
        """
        keys = ("g/entropy", "g/distinct2")
        if not all(k in event for k in keys):
            return
        if self.diversity_ref is None:
            self.diversity_ref = {k: event[k] for k in keys}
        fallen = [k for k in keys if event[k] < 0.5 * self.diversity_ref[k]]
        if fallen:
            event["warn/mode_collapse"] = 1.0
            if not self._warned_collapse:
                self._warned_collapse = True
                if not self.is_main:  # every rank sees the same numbers: one warning is enough
                    return
                logging.getLogger("seqgan").warning(
                    "possible mode collapse at adversarial epoch %d: %s fell below half of its first value "
                    "(%s); consider fewer adversarial epochs, a weaker D or reward_baseline=mean",
                    event["epoch"], fallen[0], f"{self.diversity_ref[fallen[0]]:.3f} -> {event[fallen[0]]:.3f}")

    def _policy_gradient_step(self) -> dict[str, Any]:
        """Sample a batch, compute Q by Monte Carlo roll-outs, take one REINFORCE step (Eq. 8).

        Several processes: each rank samples and rolls out batch_size / K of the sequences."""
        cfg, T = self.cfg.adversarial, self.cfg.data.seq_len
        tokens, states = self.generator.sample(cfg.batch_size // self.world, T, self.rng, return_states=True)
        policy = self.generator
        if self.rollout_policy is not None:
            policy, states = self.rollout_policy, None  # the delayed policy has its own states
        if cfg.reward == "discriminator":
            rewards = rollout_rewards(policy, self.discriminator, tokens, cfg.rollout_num, states, rng=self.rng,
                                      score_batch=cfg.d_score_batch, dropout=cfg.reward_dropout,
                                      bf16=cfg.reward_bf16)  # fmt: skip
        elif cfg.reward == "bleu":
            if self._bleu_reference is None:  # index the training data once per process
                refs = strip_special(self.train_data.cpu(), self.generator.eos_token)
                self._bleu_reference = BleuReference(refs, (cfg.bleu_order,))
            rewards = bleu_rollout_rewards(policy, self._bleu_reference, tokens, cfg.rollout_num, states, rng=self.rng)
        else:  # constant Q = 1: no roll-outs, the gradient only sharpens G on its own samples
            rewards = torch.ones(tokens.shape, device=self.device, dtype=self.generator.out.weight.dtype)
        if cfg.reward_shuffle:  # control: the same Q values, cut from the sequences that earned them
            rewards = shuffle_rewards(rewards, sequence_mask(tokens, self.generator.eos_token), self.rng)
        return self._pg_update(tokens, rewards)

    def _pg_update(self, tokens: Tensor, rewards: Tensor) -> dict[str, Any]:
        """One REINFORCE step on this rank's sequences ``tokens`` (B_r, T) with their Q-values ``rewards``
        (B_r, T); returns the step's statistics over the global batch.

        The loss is a sum over sequences, so the summed gradients of the ranks are the global gradient;
        only the "mean" baseline needs the whole batch, and takes it from the gathered rewards.
        """
        cfg = self.cfg.adversarial
        self.generator.train()
        mask = sequence_mask(tokens, self.generator.eos_token)
        logp = torch.log_softmax(self.generator(tokens), dim=-1)  # (B, T, V)
        log_probs = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) * mask
        # Diagnostics of mode collapse: the policy's entropy per real token and distinct bigrams.
        entropy = -(logp.detach().exp() * logp.detach()).sum(dim=-1)
        local_rewards, baseline = rewards, cfg.reward_baseline
        if self.world > 1:  # the global batch, in rank order, for the baseline and the statistics
            tokens = distributed.all_gather_rows(tokens)
            rewards = distributed.all_gather_rows(rewards)
            entropy = distributed.all_gather_rows(entropy)
            if baseline == "mean":
                m = sequence_mask(tokens, self.generator.eos_token).to(rewards.dtype)
                local_rewards = local_rewards - (rewards * m).sum() / m.sum().clamp(min=1.0)
                baseline = "none"
        loss = policy_gradient_loss(log_probs, local_rewards, baseline, mask)
        norm = self._clip_step(self.g_pg_opt, loss, cfg.grad_clip)
        loss = distributed.all_reduce_sum(loss.detach().clone())
        mask = sequence_mask(tokens, self.generator.eos_token)
        real = mask.to(rewards.dtype)
        count = real.sum(dim=0).clamp(min=1.0)
        pos_mean = (rewards * real).sum(dim=0) / count  # (T,) mean Q over the sequences still running at t
        pos_std = (((rewards - pos_mean) ** 2 * real).sum(dim=0) / count).sqrt()
        return {
            "g/reward_by_pos": [round(v, 6) for v in pos_mean.tolist()],
            "g/reward_std_by_pos": [round(v, 6) for v in pos_std.tolist()],
            "g/entropy": float((entropy * mask).sum() / mask.sum()),
            "g/distinct2": distinct_n(strip_special(tokens.cpu(), self.generator.eos_token), 2),
            "g/pg_loss": float(loss),
            "g/reward_mean": float(rewards.mean()),
            "g/reward_std": float(rewards.std()),
            "g/reward_first": float(rewards[:, 0].mean()),
            "g/reward_last": float(rewards[:, -1].mean()),
            "g/grad_norm": float(norm),
        }

    def _train_discriminator(self, d_steps: int, k_epochs: int) -> dict[str, float]:
        """d_steps rounds: sample as many negatives as there are positives, shuffle once, train
        k epochs (authors' dataloader.py). Accuracy is counted on the last epoch's batches."""
        cfg = self.cfg.discriminator
        pos = self.train_data
        losses = []
        # counts stay on the device until the end: no host sync inside the D loop
        right_real, right_fake, n_real, n_fake = (torch.zeros((), device=self.device) for _ in range(4))
        self.discriminator.train()
        for _ in range(d_steps):
            neg = self._sample_negatives(len(pos))
            x = torch.cat([pos, neg])
            y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))]).long().to(self.device)
            order = torch.randperm(len(x), generator=self.shared_rng, device=self.device)
            for k in range(k_epochs):
                for idx in order.split(cfg.batch_size):
                    mine = idx.tensor_split(self.world)[self.rank] if self.world > 1 else idx
                    loss, logits = self._d_step(x[mine], y[mine], len(idx))
                    losses.append(loss)
                    if k == k_epochs - 1:
                        pred, label = logits.argmax(1), y[mine]
                        right_real += ((pred == 1) & (label == 1)).sum()
                        right_fake += ((pred == 0) & (label == 0)).sum()
                        n_real += (label == 1).sum()
                        n_fake += (label == 0).sum()
        if not losses:
            return {}
        loss_sum = distributed.all_reduce_sum(torch.stack(losses))  # batch losses: the sum of the ranks' shares
        right_real, right_fake, n_real, n_fake = distributed.all_reduce_sum(
            torch.stack([right_real, right_fake, n_real, n_fake]))  # fmt: skip
        return {
            "d/loss": float(loss_sum.mean()),
            "d/acc_real": float(right_real) / max(float(n_real), 1.0),
            "d/acc_fake": float(right_fake) / max(float(n_fake), 1.0),
        }

    def _d_step(self, x: Tensor, y: Tensor, total: int) -> tuple[Tensor, Tensor]:
        """One D step on ``x`` (B_r, T) with labels ``y`` (B_r,), this rank's rows of a global batch of
        ``total`` rows (unused in one process); returns this rank's share of the batch loss and the logits.

        The loss is a mean over the batch plus the L2 term: each rank sums its cross-entropy over the
        global row count and adds 1/K of the L2 term, so the summed gradients count the L2 term once.
        """
        cfg = self.cfg.discriminator
        if self.world == 1:
            loss, logits = discriminator_loss(self.discriminator, x, y, cfg.l2_reg)
        else:
            logits = self.discriminator(x)
            ce = F.cross_entropy(logits, y, reduction="sum") / total
            loss = ce + cfg.l2_reg * self.discriminator.l2_penalty() / self.world
        self.d_opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.all_reduce_grads(self.discriminator.parameters())
        self.d_opt.step()
        return loss.detach(), logits

    def _sample_negatives(self, num: int) -> Tensor:
        """``num`` generator samples for D: each rank draws its share with its own generator, and all ranks
        receive all of them (rank order), so every rank trains on the same global set. -> (num, T)."""
        if self.world == 1:
            return self._sample(self.generator, num, self.rng)
        share = distributed.split_sizes(num, self.world)[self.rank]
        mine = (self._sample(self.generator, share, self.rng) if share
                else torch.empty(0, self.cfg.data.seq_len, dtype=torch.long, device=self.device))  # fmt: skip
        return distributed.all_gather_rows(mine)

    def evaluate(self, phase: str, epoch: int, extra: dict[str, Any] | None = None) -> dict[str, float]:
        """Metrics of fresh generator samples: NLL_oracle (oracle task), NLL and entropy, and for real data BLEU,
        Self-BLEU, distinct-n, mean length; against the validation split, the only one training reads (runs made
        before validation splits existed: the test split, as they always did)."""
        cfg = self.cfg.eval
        metrics: dict[str, float] = {}
        if self.is_main:  # rank 0 evaluates; the others take its numbers, so that every rank decides alike
            seed = _derived_seed(self.cfg.run.seed, 2, PHASES.index(phase), epoch)
            samples = self._sample(self.generator, cfg.num_samples, torch.Generator(self.device).manual_seed(seed))
            text = self.cfg.data.path is not None
            vocab_file = self.out / "vocab.json"  # music runs (pitch vocabulary) add eval/mse
            pitch = Vocab.load(vocab_file).pitch if vocab_file.exists() else None
            split, refs = ("valid", self.valid_data) if len(self.valid_data) else ("test", self.test_data)
            metrics = evaluate_samples(self.generator, samples, refs, self.oracle, cfg.bleu_orders, text,
                                       cfg.batch_size, pitch=pitch, split=split)  # fmt: skip
        metrics = distributed.broadcast_object(metrics)
        self._log_checked({"phase": phase, "epoch": epoch, **(extra or {}), **metrics})
        self._track_best(metrics, first=phase == "mle" and epoch == 0)
        if self.is_main:
            write_atomic(self.out / "samples" / f"{phase}-{epoch:04d}.txt",
                         self._render(samples[: cfg.num_saved_samples]))  # fmt: skip
        return metrics

    def best_metric(self) -> str:
        if len(self.valid_data):
            return self.cfg.eval.best_metric or "eval/nll_valid"
        legacy = "eval/nll_oracle" if self.oracle is not None else "eval/nll_test"  # runs without a validation split
        return self.cfg.eval.best_metric or legacy

    def _track_best(self, metrics: dict[str, float], first: bool) -> None:
        """Mark the current state as the best so far; it is saved as best.pt at the end of the epoch."""
        key = self.best_metric()
        if first or key not in metrics:
            return
        value = metrics[key]
        higher_is_better = best_metric_higher_is_better(key)
        if self.best is None or (value > self.best if higher_is_better else value < self.best):
            self.best, self._best_pending = value, True

    def _render(self, samples: Tensor) -> bytes:
        """Samples as text: decoded with the run's vocabulary, or as ids for the oracle task."""
        vocab_file = self.out / "vocab.json"
        if vocab_file.exists():
            vocab = Vocab.load(vocab_file)
            return "".join(vocab.decode(row) + "\n" for row in samples.tolist()).encode()
        return "".join(" ".join(map(str, row)) + "\n" for row in samples.tolist()).encode()
