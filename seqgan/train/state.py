"""Where a run stands, and its checkpoints: what the trainer does at the end of an epoch (:func:`end_epoch`) and of a
phase (:func:`enter_phase`), what a checkpoint holds (:func:`save`) and how a trainer takes it back
(:func:`restore`). A checkpoint holds the phase, the epoch, every model's and optimiser's state, every random
state and the byte size of metrics.jsonl, so that a resumed run continues the same trajectory.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

from seqgan.errors import Interrupted
from seqgan.train import distributed
from seqgan.train.checkpoint import save_checkpoint
from seqgan.train.rundir import BEST, MLE_END

if TYPE_CHECKING:
    from seqgan.train.trainer import SeqGANTrainer

PHASES = ("mle", "d_pretrain", "adversarial", "done")  # a run's phases, in order
# What a checkpoint holds the state dict of, by the trainer's attribute of that name.
PARTS = ("generator", "discriminator", "rollout_policy", "g_mle_opt", "g_pg_opt", "d_opt")


def end_epoch(t: SeqGANTrainer) -> None:
    """After an epoch within a phase: a checkpoint every ``checkpoint_every`` epochs, after a new best and on a stop
    signal; best.pt; then the stop itself (Interrupted)."""
    stop = _stop_signal(t)
    if t.epoch % t.cfg.run.checkpoint_every == 0 or t.best.pending or stop:
        save(t)
    _keep_best(t)
    _stop(t, stop)


def enter_phase(t: SeqGANTrainer, phase: str) -> None:
    """The end of a phase: the next one starts at epoch 0 and is saved at once (then best.pt, then a stop)."""
    stop = _stop_signal(t)
    t.phase, t.epoch = phase, 0
    save(t)
    if phase == "d_pretrain" and t.is_main:  # the end of MLE: forks that pre-train their own D start here
        t.run.keep_checkpoint(MLE_END)
    _keep_best(t)
    _stop(t, stop)


def _stop_signal(t: SeqGANTrainer) -> int | None:
    # Several processes stop together: a signal that reached any rank stops all after this epoch.
    return distributed.max_int(t.signals.received or 0) or None


def _stop(t: SeqGANTrainer, signum: int | None) -> None:
    if signum is not None:
        launch = f"torchrun --nproc-per-node {t.world} -m seqgan" if t.world > 1 else "seqgan"
        raise distributed.mirrored(
            Interrupted(
                f"{signal.Signals(signum).name}: stopped after a checkpoint in phase {t.phase}, epoch {t.epoch}; "
                f"continue with: {launch} train --resume {t.out}"
            )
        )


def _keep_best(t: SeqGANTrainer) -> None:
    if t.best.pending and t.is_main:
        t.run.keep_checkpoint(BEST)
    t.best.pending = False


def save(t: SeqGANTrainer) -> None:
    """Write a checkpoint (rank 0; every rank calls it, since it gathers their random states)."""
    rng = distributed.rng_states(t.rng, t.shared_rng, t.device)
    if not t.is_main:
        return
    state = {
        "phase": t.phase,
        "epoch": t.epoch,
        "metrics_bytes": t.log.size(),
        "best": t.best.value,
        "diversity_ref": t.collapse.reference,
        "mle_best": t.early.best,
    }
    parts: dict[str, Any] = {key: None if getattr(t, key) is None else getattr(t, key).state_dict() for key in PARTS}
    reward = t.reward.state_dict() if hasattr(t.reward, "state_dict") else None  # a moving baseline, say
    payload = {"config": t.cfg.to_dict(), "state": state, "rng": rng, "reward": reward, **parts}
    save_checkpoint(t.run.checkpoints, payload)


def restore(t: SeqGANTrainer, ckpt: dict[str, Any], fork: bool = False) -> None:
    """Take a checkpoint back. ``fork``: one taken at the end of another run's pre-training, whose policy-gradient
    optimiser has never stepped: this run's own (its kind and learning rate from this config) starts fresh."""
    # A fork from the end of MLE pre-trains its own D: D and its optimiser keep this run's initialisation.
    fresh = {"g_pg_opt"} | ({"discriminator", "d_opt"} if ckpt["state"]["phase"] == "d_pretrain" else set())
    for key in PARTS:
        if getattr(t, key) is not None and ckpt[key] is not None and not (fork and key in fresh):
            getattr(t, key).load_state_dict(ckpt[key])
    for group in t.d_opt.param_groups:  # a state dict carries its rate and kind of update; the config decides
        d = t.cfg.discriminator
        group.update(lr=d.lr, weight_decay=d.weight_decay, fused=d.train_bf16 or None)
    distributed.set_rng_states(ckpt["rng"], t.rng, t.shared_rng, t.device)
    if not fork and ckpt.get("reward") is not None and hasattr(t.reward, "load_state_dict"):
        t.reward.load_state_dict(ckpt["reward"])
    state = ckpt["state"]
    t.phase, t.epoch, t.best.value = state["phase"], state["epoch"], state["best"]
    t.collapse.reference, t.early.best = state["diversity_ref"], state["mle_best"]
    if t.log is not None:
        t.log.truncate(state["metrics_bytes"])
