"""SeqGAN training: Algorithm 1 of the paper, one method per part, read top to bottom.

    line 2       pre-train G by MLE                              pretrain_generator()
    lines 3-5    beta <- theta; pre-train D on real vs generated  pretrain_discriminator()
    lines 6-19   the adversarial loop                             adversarial()
    lines 8-12     one g-step: Y ~ G, Q by Eq. 4, Eq. 8           g_step()
    lines 14-16    d-steps: fresh negatives, k epochs of D         train_discriminator()

The reward of line 10 is whichever estimator ``adversarial.reward`` names in :mod:`seqgan.train.rewards`; the
optimisation steps themselves, for one process or several, are :mod:`seqgan.train.steps`; set-up is
:mod:`seqgan.train.setup`. A checkpoint after every epoch (or D round) holds the phase, the epoch and every random
state, so ``fit()`` on a resumed trainer continues the same trajectory (resume equals uninterrupted: tested).
Randomness: sampling and shuffling draw from ``self.rng``, dropout from torch's global generator, evaluations from
their own seed (:mod:`seqgan.train.seeds`), so evaluating more or less often never changes training.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from seqgan.config import SeqGANConfig, best_metric_higher_is_better
from seqgan.errors import TrainingError
from seqgan.train import distributed, evaluation, logbook, rollout, state, steps
from seqgan.train.rewards import BASELINES, RewardInputs, build_reward
from seqgan.train.rundir import PRETRAINED, read_run_config
from seqgan.train.setup import prepare_training


class SeqGANTrainer:
    """``SeqGANTrainer(cfg, "runs/x").fit()`` trains a run; ``SeqGANTrainer.resume("runs/x").fit()`` continues it."""

    def __init__(
        self,
        config: SeqGANConfig,
        out_dir: str | Path,
        command: str | None = None,
        resume: bool = False,
        init_from: str | Path | None = None,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
    ) -> None:
        """``init_from``: a run whose pre-training this run starts from (:meth:`fork`). ``generator`` /
        ``discriminator``: your own models (a :class:`~seqgan.models.interface.SequenceGenerator`; tokens (B, T) ->
        logits (B, 2), class 1 = real, an optional ``l2_penalty()``); the run then continues from Python only."""
        s, resume_from, fork_from = prepare_training(
            config, out_dir, command or shlex.join(sys.argv), resume, init_from, (generator, discriminator)
        )
        vars(self).update(vars(s))  # cfg, run, log, device, rank, world, the data, models, optimisers, rngs
        self.out, self.is_main, self.shard = s.run.path, s.rank == 0, steps.Shard(s.rank, s.world)
        self.reward = build_reward(self.cfg.adversarial)
        self.trains_discriminator = self.cfg.adversarial.mode == "seqgan" and self.reward.uses_discriminator
        self.phase, self.epoch = "mle", 0
        metric = self.cfg.eval.best_metric or "eval/nll_valid"
        self.best = logbook.BestTracker(metric, best_metric_higher_is_better(metric))
        self.early = logbook.EarlyStopping(self.cfg.pretrain.patience)  # MLE: the best validation NLL and its G
        self.collapse = logbook.CollapseMonitor(speak=self.is_main)
        self.signals = logbook.StopSignals()
        if fork_from is not None:
            state.restore(self, fork_from, fork=True)
            self.best.value = None  # best.pt is chosen among this run's own evaluations
            state.save(self)  # a fork killed at once resumes from here, not from scratch
        if resume_from is not None:
            state.restore(self, resume_from)
        elif resume and self.log is not None:  # killed before the first checkpoint: start over
            self.log.truncate(0)

    @classmethod
    def fork(cls, source: str | Path, config: SeqGANConfig, out_dir: str | Path, command: str | None = None):
        """A new run that starts where ``source`` finished pre-training (checkpoints/pretrained.pt), with its data,
        seed and models; ``config`` decides everything after, so baselines and controls share one pre-training (a
        fork equals a run trained from scratch with ``config``: tested)."""
        return cls(config, out_dir, command, init_from=source)

    @classmethod
    def resume(cls, out_dir: str | Path, device: str | None = None, generator=None, discriminator=None):
        """Continue the run in ``out_dir`` from its latest checkpoint (with your own models, if it was trained with
        them)."""
        distributed.init_from_env()
        cfg = distributed.run_on_main(lambda: read_run_config(out_dir))  # only rank 0 needs the folder
        if device is not None:
            cfg.run.device = device
        return cls(cfg, out_dir, resume=True, generator=generator, discriminator=discriminator)

    def close(self) -> None:
        """Release the run directory's lock (also released when the process ends)."""
        self.run.close()

    # ------------------------------------------------------------------------------------------------ Algorithm 1
    def fit(self) -> None:
        """Run the phases not finished yet (so the same call resumes). SIGINT / SIGTERM let the current epoch
        finish, save a checkpoint and raise Interrupted."""
        anomaly = torch.autograd.set_detect_anomaly(True) if self.cfg.run.detect_anomaly else contextlib.nullcontext()
        with self.signals, anomaly:
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
                raise TrainingError(
                    f"anomaly in phase {self.phase}, epoch {self.epoch + 1}: {str(e).strip().splitlines()[0]}; the "
                    f"last good checkpoint in {self.run.checkpoints} is kept"
                ) from None

    def pretrain_generator(self) -> None:
        """Line 2: ``pretrain.g_epochs`` epochs of maximum likelihood, stopped early when the validation NLL has
        not improved for ``pretrain.patience`` evaluations (G then goes back to its best epoch)."""
        total = self.cfg.pretrain.g_epochs
        if self.epoch == 0:
            self.evaluate("mle", 0)
        bar = logbook.progress_bar(total, self.epoch, "MLE", self.cfg.run.progress and self.is_main)
        while self.epoch < total:
            t0 = time.perf_counter()
            loss = self.mle_epoch()
            self.epoch += 1
            self._log(
                {"phase": "mle", "epoch": self.epoch, "g/mle_loss": loss, "time/epoch_s": time.perf_counter() - t0}
            )
            stop = False
            if self._evaluation_due(total):
                stop = self.early.update(
                    self.epoch, self.evaluate("mle", self.epoch).get("eval/nll_valid"), self.generator
                )
            if (stop or self.epoch == total) and self.early.best is not None:
                self._restore_mle_best(stopped=self.epoch < total)
            bar.update(1)
            if stop or self.epoch == total:
                break
            state.end_epoch(self)
        bar.close()
        state.enter_phase(self, "d_pretrain")

    def pretrain_discriminator(self) -> None:
        """Lines 4-5: ``pretrain.d_steps`` rounds of (fresh negatives, ``pretrain.k_epochs`` epochs of D); skipped
        by the systems whose reward needs no D."""
        cfg = self.cfg.pretrain
        total = cfg.d_steps if self.trains_discriminator else 0
        bar = logbook.progress_bar(total, self.epoch, "D pre-train", self.cfg.run.progress and self.is_main)
        while self.epoch < total:
            t0 = time.perf_counter()
            stats = self.train_discriminator(1, cfg.k_epochs)
            self.epoch += 1
            self._log({"phase": "d_pretrain", "epoch": self.epoch, **stats, "time/epoch_s": time.perf_counter() - t0})
            bar.update(1)
            bar.set_postfix(acc=f"{(stats['d/acc_real'] + stats['d/acc_fake']) / 2:.3f}")
            if self.epoch < total:
                state.end_epoch(self)
        bar.close()
        state.enter_phase(self, "adversarial")

    def adversarial(self) -> None:
        """Lines 6-19: per epoch, ``g_steps`` policy-gradient steps of G, the roll-out policy's update (line 18),
        then ``d_steps`` rounds of D. The baselines of Table 1 spend the same epochs on maximum likelihood
        (``mode`` "mle") or scheduled sampling ("ss")."""
        cfg = self.cfg.adversarial
        if self.epoch == 0:
            if self.rollout_policy is not None:  # line 3: beta <- theta (the authors build ROLLOUT here)
                self.rollout_policy.load_state_dict(self.generator.state_dict())
            state.save(self)  # the end of pre-training, kept as pretrained.pt: later runs fork from it
            if self.is_main:
                self.run.keep_checkpoint(PRETRAINED)
        bar = logbook.progress_bar(cfg.epochs, self.epoch, "adversarial", self.cfg.run.progress and self.is_main)
        while self.epoch < cfg.epochs:
            t0 = time.perf_counter()
            event: dict[str, Any] = {"phase": "adversarial", "epoch": self.epoch + 1}
            if cfg.mode == "seqgan":
                g_stats = [self.g_step() for _ in range(cfg.g_steps)]
                event["time/g_s"] = time.perf_counter() - t0
                if self.rollout_policy is not None:  # line 18, the authors' delayed variant
                    rollout.update_delayed_policy(self.rollout_policy, self.generator, cfg.rollout_update_rate)
                if self.trains_discriminator and cfg.d_steps > 0:
                    event.update(self.train_discriminator(cfg.d_steps, cfg.k_epochs, skip_above=cfg.d_skip_above))
                event.update(logbook.mean_over_steps(g_stats))
                self.collapse.check(event)
            else:  # scheduled sampling: P(true token) falls by ss_decay per epoch
                true_prob = max(0.0, 1.0 - cfg.ss_decay * (self.epoch + 1)) if cfg.mode == "ss" else 1.0
                event.update({"g/ss_true_prob": true_prob} if cfg.mode == "ss" else {})
                event["g/mle_loss"] = self.mle_epoch(true_prob)
            self.epoch += 1
            event["time/epoch_s"] = time.perf_counter() - t0
            self._log(event)
            if self._evaluation_due(cfg.epochs):
                self.evaluate("adversarial", self.epoch)
            bar.update(1)
            if "g/reward_mean" in event:
                bar.set_postfix(reward=f"{event['g/reward_mean']:.3f}")
            if self.epoch < cfg.epochs:
                state.end_epoch(self)
        bar.close()
        state.enter_phase(self, "done")

    def g_step(self) -> dict[str, Any]:
        """Lines 8-12: sample Y_1:T ~ G (each process its share of the batch), compute Q for every position by the
        reward estimator (Eq. 4 for the paper's), take one policy-gradient step (Eq. 8)."""
        cfg = self.cfg.adversarial
        labels = self._draw_labels(cfg.batch_size // self.world)  # conditional: roll-outs keep each one's label
        tokens, states = self.generator.sample(
            cfg.batch_size // self.world, self.cfg.data.seq_len, self.rng, return_states=True, **steps.given(labels)
        )
        policy = self.generator if self.rollout_policy is None else self.rollout_policy
        states = states if self.rollout_policy is None else None  # the delayed policy has its own states
        batch = RewardInputs(tokens, states, labels, policy, self.discriminator, self.rng, cfg, self.train_data)
        q = self.reward(batch)
        return {**self.policy_gradient_update(tokens, q, labels), **getattr(self.reward, "stats", {})}

    def train_discriminator(self, d_steps: int, k_epochs: int, skip_above: float | None = None) -> dict[str, float]:
        """Lines 14-16: ``d_steps`` rounds of (as many fresh negatives as positives, shuffled once, ``k_epochs``
        epochs of D), as the authors' dataloader.py; accuracy is counted on the last epoch's batches. Conditional: D
        reads each sequence with its label first, and the negatives are asked for the positives' labels.
        ``skip_above``: no rounds while D's accuracy on a fresh batch is above it (a D that stays informative)."""
        labels, V = self.train_labels, self.cfg.data.vocab_size
        check = steps.saturation_check(self, skip_above)  # {} when off
        if check.get("d/skipped"):
            return check
        pos = rollout.labelled(self.train_data, labels, V)
        losses, counts = [], torch.zeros(4, device=self.device)  # right real, right fake, real, fake: no host sync
        self.discriminator.train()
        for _ in range(d_steps):
            negatives = steps.sample_negatives(self.generator, len(pos), self.cfg, self.rng, self.shard, labels)
            neg = rollout.labelled(negatives, labels, V)
            x = torch.cat([pos, neg])
            y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))]).long().to(self.device)
            order = torch.randperm(len(x), generator=self.shared_rng, device=self.device)
            for k in range(k_epochs):
                for idx in order.split(self.cfg.discriminator.batch_size):
                    loss, logits = self.discriminator_step(x[idx], y[idx])
                    losses.append(loss)
                    if k == k_epochs - 1:
                        pred, label = logits.argmax(1), self.shard.mine(y[idx])
                        right = torch.stack(
                            [(pred == 1) & (label == 1), (pred == 0) & (label == 0), label == 1, label == 0]
                        )
                        counts += right.sum(dim=1)
        if not losses:
            return {}
        loss_sum = distributed.all_reduce_sum(torch.stack(losses))  # batch losses: the sum of the ranks' shares
        right_real, right_fake, n_real, n_fake = distributed.all_reduce_sum(counts).tolist()
        return {
            "d/loss": float(loss_sum.mean()),
            "d/acc_real": right_real / max(n_real, 1.0),
            "d/acc_fake": right_fake / max(n_fake, 1.0),
            **check,
        }

    # ---------------------------------------------------------------------------------------------------- the steps
    def mle_epoch(self, true_prob: float = 1.0) -> float:
        """One epoch of maximum likelihood over the training set (``true_prob`` < 1: scheduled sampling); returns
        the mean batch loss."""
        cfg, n = self.cfg.pretrain, len(self.train_data)
        order = torch.randperm(n, generator=self.shared_rng, device=self.device) if cfg.shuffle else None
        losses = []
        self.generator.train()
        for i in range(0, n, cfg.batch_size):
            idx = slice(i, i + cfg.batch_size) if order is None else order[i : i + cfg.batch_size]
            labels = None if self.train_labels is None else self.train_labels[idx]
            losses.append(self.mle_step(self.train_data[idx], true_prob, labels))
        return float(distributed.all_reduce_sum(torch.stack(losses)).mean())

    def mle_step(self, batch: Tensor, true_prob: float = 1.0, labels: Tensor | None = None) -> Tensor:
        """One MLE step on the global batch (B, T): :func:`seqgan.train.steps.mle_step`."""
        clip = self.cfg.pretrain.grad_clip
        return steps.mle_step(self.generator, self.g_mle_opt, batch, clip, self.shard, true_prob, self.rng, labels)

    def discriminator_step(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """One D step on the global batch x (B, T), y (B,): :func:`seqgan.train.steps.discriminator_step`."""
        d = self.cfg.discriminator
        bf16, smoothing = bool(d.train_bf16), d.label_smoothing
        return steps.discriminator_step(self.discriminator, self.d_opt, x, y, d.l2_reg, self.shard, bf16, smoothing)

    def policy_gradient_update(self, tokens: Tensor, rewards: Tensor, labels: Tensor | None = None) -> dict[str, Any]:
        """One REINFORCE step on this rank's tokens (B_r, T) with Q (B_r, T): :func:`steps.policy_gradient_step`."""
        cfg = self.cfg.adversarial
        baseline = BASELINES[cfg.reward_baseline]
        return steps.policy_gradient_step(
            self.generator, self.g_pg_opt, tokens, rewards, baseline, cfg.grad_clip, labels
        )

    def _draw_labels(self, num: int) -> Tensor | None:
        """Labels to ask a conditional G for, in the training data's proportions (None: unconditional)."""
        if self.train_labels is None:
            return None
        return self.train_labels[torch.randint(len(self.train_labels), (num,), generator=self.rng, device=self.device)]

    # ------------------------------------------------------------------------------------------ evaluation, state
    def evaluate(self, phase: str, epoch: int, extra: dict[str, Any] | None = None) -> dict[str, float]:
        """Metrics of fresh samples of G against the validation split, logged: :func:`evaluation.evaluate`."""
        return evaluation.evaluate(self, phase, epoch, extra)

    def _restore_mle_best(self, stopped: bool) -> None:
        """End of MLE with early stopping: G goes back to its best-validation weights, and is evaluated again so the
        curves show the generator every later phase starts from."""
        best = self.early.best
        self.generator.load_state_dict(best["generator"])
        stats = {
            "mle/stopped_early": int(stopped),
            "mle/best_epoch": best["epoch"],
            "mle/best_nll_valid": best["value"],
        }
        self.evaluate("mle", self.epoch, stats)

    def _evaluation_due(self, total: int) -> bool:
        return self.epoch % self.cfg.eval.every == 0 or self.epoch == total

    def _log(self, event: dict[str, Any]) -> None:
        """Log an event (rank 0) after the NaN guard."""
        logbook.check_finite(event, self.run.checkpoints)
        if self.log is not None:
            self.log.log(event)
