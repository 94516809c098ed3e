"""Setting a run up for training: its data (drawn from the oracle once, or read from a prepared directory), a
fork's source checked, a resumed run's checkpoint chosen, and the models, optimisers and random streams built.

:class:`~seqgan.train.trainer.SeqGANTrainer` calls :func:`prepare_training` once and trains what it returns; the
run directory's files are :mod:`seqgan.train.rundir`'s business.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqgan import kernels
from seqgan.config import SeqGANConfig, architecture_changes, get_value
from seqgan.data.prepared import load_prepared
from seqgan.data.vocab import Vocab
from seqgan.env import available_memory, env_snapshot, native_bf16, resolve_device
from seqgan.errors import UserError
from seqgan.models.build import build_models, check_fits
from seqgan.models.oracle import build_oracle
from seqgan.models.oracle_file import load_oracle_params, random_oracle_params
from seqgan.train import distributed, seeds, steps
from seqgan.train.checkpoint import latest_checkpoint, load_file
from seqgan.train.logbook import MetricsLog
from seqgan.train.rewards import check_reward
from seqgan.train.rundir import MLE_END, PRETRAINED, RunDir, read_run_config

# adversarial.g_optimizer -> the policy gradient's optimiser class, built with (parameters, lr=adversarial.g_lr).
G_OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,  # the authors' code: a second Adam for the policy gradient
    "sgd": torch.optim.SGD,  # a control: plain steps, without Adam's per-parameter normalisation
}


@dataclass
class Training:
    """Everything a run trains with. ``rng`` draws every sample and shuffle of this process; ``shared_rng`` the
    shuffles all processes must agree on (the same object as ``rng`` in one process)."""

    cfg: SeqGANConfig
    run: RunDir
    log: MetricsLog | None  # rank 0's only: the other ranks never write the run
    device: torch.device
    rank: int
    world: int
    train_data: Tensor  # (N, T) each split's sequences
    valid_data: Tensor
    test_data: Tensor
    train_labels: Tensor | None  # (N,) each sequence's label id (conditional generation), else None
    valid_labels: Tensor | None
    test_labels: Tensor | None
    generator: nn.Module
    discriminator: nn.Module
    oracle: nn.Module | None
    rollout_policy: nn.Module | None  # G_beta when it lags G ("delayed"); None: G itself
    g_mle_opt: torch.optim.Optimizer
    g_pg_opt: torch.optim.Optimizer
    d_opt: torch.optim.Optimizer
    rng: torch.Generator
    shared_rng: torch.Generator


def prepare_training(
    config: SeqGANConfig,
    out_dir: str | Path,
    command: str,
    resume: bool,
    init_from: str | Path | None,
    given: tuple[nn.Module | None, nn.Module | None],
) -> tuple[Training, dict[str, Any] | None, dict[str, Any] | None]:
    """Create, fork or reopen the run in ``out_dir`` and build what trains it (every process of a torchrun job
    calls this; rank 0 alone touches the run directory and hands the rest what they build from). Returns it, the
    checkpoint a resumed run continues from and the source's end of pre-training a fork starts from."""
    if given[0] is not None:
        config.generator.kind = "custom"
    distributed.init_from_env()  # under torchrun: join the process group (a no-op in one process)
    rank, world = distributed.rank(), distributed.world_size()
    with distributed.same_on_all_ranks():  # every rank holds the same config
        config.validate()
        check_reward(config.adversarial)
        if config.adversarial.g_optimizer not in G_OPTIMIZERS:
            raise UserError(
                f"adversarial.g_optimizer must be one of {', '.join(G_OPTIMIZERS)}; "
                f"got {config.adversarial.g_optimizer!r}"
            )
        kernels.require(config.adversarial.kernels)
        distributed.check_split(config, world)
        device = resolve_device(config.run.device)
        config.resolve_auto(native_bf16(device))  # once, and saved with the run
    run = RunDir(out_dir)
    device = distributed.local_device(device)
    opened = distributed.run_on_main(lambda: _open(run, config, command, resume, init_from, device, given))
    cfg = opened["config"]
    data = {k: v.to(device) for k, v in opened["data"].items()}
    torch.manual_seed(cfg.run.seed)  # dropout and initialisation
    rng = torch.Generator(device).manual_seed(cfg.run.seed)
    generator, discriminator, oracle = build_models(cfg, opened["oracle"], device, *given)
    shared_rng = rng  # one process: shuffles and samples share one stream
    if world > 1:
        distributed.broadcast_module(generator)  # identical models on every rank, whatever the machine
        distributed.broadcast_module(discriminator)
        # Each rank draws its own samples and dropout masks; shuffles must agree: a generator seeded alike.
        torch.manual_seed(seeds.rank_seed(cfg.run.seed, rank))
        rng = torch.Generator(device).manual_seed(seeds.rank_seed(cfg.run.seed, rank))
        shared_rng = torch.Generator(device).manual_seed(cfg.run.seed)
    delayed = cfg.adversarial.rollout_policy == "delayed"
    rollout_policy = copy.deepcopy(generator).requires_grad_(False) if delayed else None
    trainable = [p for p in generator.parameters() if p.requires_grad]
    fused = {"fused": True} if cfg.discriminator.train_bf16 else {}  # the fused update is not bit-identical
    training = Training(
        cfg=cfg,
        run=run,
        log=opened["log"] if rank == 0 else None,
        device=device,
        rank=rank,
        world=world,
        **{f"{name}_data": data[name] for name in ("train", "valid", "test")},
        **{f"{name}_labels": data.get(f"{name}_labels") for name in ("train", "valid", "test")},
        generator=generator,
        discriminator=discriminator,
        oracle=oracle,
        rollout_policy=rollout_policy,
        # Two optimisers for G, as in the authors' generator.py (MLE and policy gradient).
        g_mle_opt=torch.optim.Adam(trainable, lr=cfg.pretrain.g_lr),
        g_pg_opt=G_OPTIMIZERS[cfg.adversarial.g_optimizer](trainable, lr=cfg.adversarial.g_lr),
        d_opt=torch.optim.Adam(
            discriminator.parameters(), lr=cfg.discriminator.lr, weight_decay=cfg.discriminator.weight_decay, **fused
        ),
        rng=rng,
        shared_rng=shared_rng,
    )
    return training, opened["checkpoint"], opened["fork"]


def _open(
    run: RunDir,
    cfg: SeqGANConfig,
    command: str,
    resume: bool,
    init_from: str | Path | None,
    device: torch.device,
    given: tuple[Any, Any],
) -> dict[str, Any]:
    """Create, fork or reopen ``run`` (rank 0): the config, data, oracle parameters and checkpoint every rank builds
    from, and the metrics log (rank 0's own: it does not travel to the other ranks)."""
    checkpoint, fork = None, None
    env = env_snapshot(device, cfg.adversarial.kernels, cfg.adversarial.kernel_table_mb)
    if distributed.world_size() > 1:
        env["distributed"] = {"world_size": distributed.world_size(), "backend": str(torch.distributed.get_backend())}
    if resume:
        log = run.open(cfg)
        checkpoint = resumable_checkpoint(run, cfg, given)
        if checkpoint is not None:
            distributed.check_world(checkpoint, run.path)
    elif init_from is not None:
        source = RunDir(init_from)
        source_cfg = read_run_config(source.path)
        cfg, own_d = fork_config(source_cfg, cfg, source.path)
        check_fits(cfg, available_memory())
        fork = pretrained_checkpoint(source, source_cfg, cfg, given, own_d)
        distributed.check_world(fork, source.path)
        log = run.fork_from(source, cfg, command, env, fork)
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
        "fork": fork,
        "log": log,
    }


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
                train_labels=prepared.train_labels,
                valid_labels=prepared.valid_labels,
                test_labels=prepared.test_labels,
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
    rng = torch.Generator(device).manual_seed(seeds.oracle_data_seed(cfg.run.seed))
    n_train, n_test, n_valid = cfg.data.num_train, cfg.data.num_test, cfg.data.num_valid
    K = cfg.data.num_labels
    # A conditional oracle: every label in turn (equal shares in every split), so the rows are the oracle's joint
    # distribution with a uniform label prior.
    labels = torch.arange(n_train + n_test + n_valid, device=device) % K if K else None
    rows = oracle.generate(
        n_train + n_test + n_valid, cfg.data.seq_len, rng, cfg.eval.batch_size, **steps.given(labels)
    ).cpu()
    # The rows are drawn in the order train, test, valid: a run's train and test sets do not depend on num_valid.
    parts = {
        "train": slice(0, n_train),
        "valid": slice(n_train + n_test, None),
        "test": slice(n_train, n_train + n_test),
    }
    data = {name: rows[part].clone() for name, part in parts.items()}
    if labels is not None:
        data.update({f"{name}_labels": labels[part].cpu().clone() for name, part in parts.items()})
    return data, params, None


def _trial_models(cfg: SeqGANConfig, given: tuple[Any, Any]) -> Any:
    """The run's models built on the CPU to try checkpoints on, leaving torch's random stream as it was."""
    with torch.random.fork_rng(devices=[]):
        return build_models(cfg, None, "cpu", *(copy.deepcopy(m) for m in given))


def _fits(models: Any, what: str, generator_only: bool = False, cfg: SeqGANConfig | None = None) -> Any:
    """A check for :func:`latest_checkpoint`: the checkpoint's weights load into ``models`` (and, given ``cfg``, its
    architecture keys are those the checkpoint was trained with: some change the numbers, not the shapes)."""

    def check(ckpt: dict[str, Any], path: Path) -> None:
        change = None if cfg is None else architecture_changes(ckpt.get("config"), cfg)
        if change is not None:
            raise UserError(f"checkpoint {path} was trained with other settings than {what}: {change}")
        try:
            models.generator.load_state_dict(ckpt["generator"])
            if not generator_only:
                models.discriminator.load_state_dict(ckpt["discriminator"])
        except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise UserError(f"checkpoint {path} does not fit {what} ({type(e).__name__})") from None

    return check


def resumable_checkpoint(run: RunDir, cfg: SeqGANConfig, given: tuple[Any, Any] = (None, None)) -> dict | None:
    """The newest checkpoint of ``run`` whose models fit ``cfg`` (last.pt, else prev.pt with a warning): one damaged
    inside (tensors of other shapes, an edited config.json) is passed over like one that does not load. None when
    the run has none yet; a UserError when none fits."""
    check = _fits(_trial_models(cfg, given), "the run's config.json", cfg=cfg)
    return latest_checkpoint(run.checkpoints, check, hint=": the run cannot continue; start a new one")


# What a fork may change only by pre-training its own D from the source's end of MLE (checkpoints/mle.pt).
D_PRETRAINING = (
    "discriminator.kind",
    "discriminator.emb_dim",
    "discriminator.hidden_dim",
    "discriminator.filter_sizes",
    "discriminator.num_filters",
    "pretrain.d_steps",
    "pretrain.k_epochs",
)


def fork_config(source: SeqGANConfig, cfg: SeqGANConfig, source_dir: Path) -> tuple[SeqGANConfig, bool]:
    """``cfg`` for a fork of a run trained with ``source``: the data and seed are the source's; G and its MLE
    pre-training must be the same. Returns it and whether D's architecture or pre-training differs, in which case
    the fork starts from the source's end of MLE and pre-trains its own D; else from the end of pre-training (then
    a fork equals a run trained from scratch with ``cfg``: tested)."""
    fixed = [f"generator.{f.name}" for f in dataclasses.fields(cfg.generator)] + [
        f"pretrain.{f.name}" for f in dataclasses.fields(cfg.pretrain) if f"pretrain.{f.name}" not in D_PRETRAINING
    ]
    for key in fixed:
        mine, theirs = get_value(cfg, key), get_value(source, key)
        if mine != theirs:
            raise UserError(
                f"--init-from {source_dir}: {key} is {mine!r} here but {theirs!r} in the source run; a fork keeps "
                f"the source's models and pre-training: set {key}={theirs!r} (or leave it to the preset that "
                "trained the source), or pick another source run"
            )
    cfg.data = copy.deepcopy(source.data)
    cfg.run.seed = source.run.seed
    cfg.validate()
    return cfg, any(get_value(cfg, key) != get_value(source, key) for key in D_PRETRAINING)


def pretrained_checkpoint(
    source: RunDir,
    source_cfg: SeqGANConfig,
    cfg: SeqGANConfig,
    given: tuple[Any, Any] = (None, None),
    own_d: bool = False,
) -> dict[str, Any]:
    """The source run's state at the end of its pre-training (checkpoints/pretrained.pt; ``own_d``: at the end of
    MLE, checkpoints/mle.pt, for a fork that pre-trains its own D), checked before anything of the fork is written:
    it stands where it should, it was written by a run of the same data and seed, and its models fit the fork's
    config (G alone for ``own_d``)."""
    name, where_expected = (MLE_END, ("d_pretrain", 0)) if own_d else (PRETRAINED, ("adversarial", 0))
    path = source.checkpoints / name
    if own_d and not path.exists():
        raise UserError(
            f"--init-from {source.path} has no {MLE_END} (the end of its MLE), which a fork that changes D's "
            f"architecture or pre-training ({', '.join(D_PRETRAINING)}) starts from: keep those keys as the source "
            "has them, or train a new source run"
        )
    if not path.exists():
        last = latest_checkpoint(source.checkpoints)
        where = (
            "it has no checkpoint" if last is None else "it is at phase {phase}, epoch {epoch}".format(**last["state"])
        )
        raise UserError(
            f"--init-from {source.path} has not finished pre-training ({where}): resume it "
            "(`seqgan train --resume`) until it reaches the adversarial phase"
        )
    ckpt = load_file(path)
    state = ckpt["state"]
    if (state.get("phase"), state.get("epoch")) != where_expected:
        raise UserError(
            f"{path} is not the end of {'MLE' if own_d else 'pre-training'} (it stands at phase "
            f"{state.get('phase')}, epoch {state.get('epoch')}): a fork starts where the source's "
            f"{where_expected[0]} phase begins; resume or retrain the source run"
        )
    theirs = ckpt["config"] if isinstance(ckpt["config"], dict) else {}
    mine = source_cfg.to_dict()
    if theirs.get("data") != mine["data"] or theirs.get("run", {}).get("seed") != mine["run"]["seed"]:
        raise UserError(
            f"{path} was written by a run of other data or another seed than {source.path}/config.json: "
            "it is not this run's pre-training; retrain the source run"
        )
    _fits(_trial_models(cfg, given), "the fork's config", generator_only=own_d)(ckpt, path)
    return ckpt
