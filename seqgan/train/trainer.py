"""SeqGAN training (Algorithm 1 of the paper), one explicit loop per phase.

Phases, in order: ``mle`` (pre-train G by maximum likelihood, optionally stopped early on the validation NLL),
``d_pretrain`` (pre-train D on real vs generated), ``adversarial`` (policy-gradient G steps with roll-out rewards,
then D rounds), ``done``. A checkpoint after every epoch (or D round) stores the phase, the counter and every random
state, so ``fit()`` on a resumed trainer continues the same trajectory. The run directory's files are
:mod:`seqgan.train.rundir`'s business, the log's guards :mod:`seqgan.train.logbook`'s.

Randomness: all sampling and shuffling draws from ``self.rng`` (one ``torch.Generator``); dropout draws from torch's
global generator; evaluation uses its own generator seeded from (seed, phase, epoch), so evaluating more or less
often never changes training.

One code path for one or several processes (``torchrun``): each global batch is split across the ranks (in one
process, the whole batch) and each rank's loss is its share of the global loss, so the summed gradients are the
global batch's and every rank takes the same step; rank 0 alone touches the run directory and evaluates
(:mod:`seqgan.train.distributed`, docs/implementation-details.md).
"""

from __future__ import annotations

import contextlib
import copy
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from seqgan.config import SeqGANConfig, best_metric_higher_is_better
from seqgan.data.decode import strip_special
from seqgan.env import native_bf16, resolve_device
from seqgan.errors import Interrupted, TrainingError
from seqgan.eval.bleu import BleuReference
from seqgan.models import Generator
from seqgan.models.build import build_models
from seqgan.models.interface import dtype_of
from seqgan.models.sampling import sequence_mask, trim_padding
from seqgan.train import distributed, logbook, rollout
from seqgan.train.checkpoint import save_checkpoint
from seqgan.train.evaluation import label_names, sample_and_score
from seqgan.train.losses import discriminator_loss, mean_reward, mle_loss, policy_gradient_loss
from seqgan.train.rundir import BEST, PRETRAINED, RunDir, derived_seed, open_for_training, read_run_config

PHASES = ("mle", "d_pretrain", "adversarial", "done")


class SeqGANTrainer:
    """Builds everything a run needs from a config and trains it: ``SeqGANTrainer(cfg, "runs/x").fit()``;
    ``SeqGANTrainer.resume("runs/x").fit()`` continues."""

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
        logits (B, 2), class 1 = real, an optional ``l2_penalty()``); the config then says generator.kind = custom
        and the run continues from Python only, with the same models (``resume(RUN, generator=...)``)."""
        self._given = (generator, discriminator)
        if generator is not None:
            config.generator.kind = "custom"
        distributed.init_from_env()  # under torchrun: join the process group (a no-op in one process)
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.is_main = self.rank == 0
        with distributed.same_on_all_ranks():  # every rank holds the same config
            config.validate()
            distributed.check_split(config, self.world)
            device = resolve_device(config.run.device)
            config.resolve_auto(native_bf16(device))  # once, and saved with the run
        self.cfg = config
        self.run = RunDir(out_dir)
        self.out = self.run.path
        self.device = distributed.local_device(device)
        self.phase, self.epoch = "mle", 0
        self.best: float | None = None
        self._best_pending = False
        self.collapse = logbook.CollapseMonitor(speak=self.is_main)
        self.signals = logbook.StopSignals()
        self._bleu_reference: BleuReference | None = None
        command = command or shlex.join(sys.argv)
        # Rank 0 creates or opens the run and hands the config, data and checkpoint to the other ranks.
        setup = distributed.run_on_main(
            lambda: open_for_training(self.run, config, command, resume, init_from, self.device, self._given)
        )
        self.cfg = setup["config"]
        self.early = logbook.EarlyStopping(self.cfg.pretrain.patience)  # MLE: the best validation NLL, its G
        self.log: logbook.MetricsLog | None = setup["log"] if self.is_main else None  # only rank 0 writes the run
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
    def fork(
        cls, source: str | Path, config: SeqGANConfig, out_dir: str | Path, command: str | None = None
    ) -> SeqGANTrainer:
        """A new run that starts where ``source`` finished pre-training (checkpoints/pretrained.pt), with its data,
        seed and models; ``config`` decides everything after, so baselines and controls share one pre-training (a
        fork equals a run trained from scratch with ``config``: tested)."""
        return cls(config, out_dir, command, init_from=source)

    @classmethod
    def resume(
        cls,
        out_dir: str | Path,
        device: str | None = None,
        generator: nn.Module | None = None,
        discriminator: nn.Module | None = None,
    ) -> SeqGANTrainer:
        """Continue the run in ``out_dir`` from its latest checkpoint (with the models it was trained with, if
        they were your own)."""
        distributed.init_from_env()
        cfg = distributed.run_on_main(lambda: read_run_config(out_dir))  # only rank 0 needs the folder
        if device is not None:
            cfg.run.device = device
        return cls(cfg, out_dir, resume=True, generator=generator, discriminator=discriminator)

    # ----------------------------------------------------------------- setup
    def close(self) -> None:
        """Release the run directory's lock (also released when the process ends)."""
        self.run.close()

    def _build(self, data: dict[str, Tensor], oracle_params: dict[str, Any] | None) -> None:
        cfg, dev = self.cfg, self.device
        self.train_data, self.test_data = data["train"].to(dev), data["test"].to(dev)
        self.valid_data = data.get("valid", data["test"][:0]).to(dev)  # empty for runs made before valid splits
        # Conditional generation: each sequence's label id (N,), else None.
        self.train_labels, self.valid_labels, self.test_labels = (
            data[f"{name}_labels"].to(dev) if f"{name}_labels" in data else None for name in ("train", "valid", "test")
        )
        torch.manual_seed(cfg.run.seed)  # dropout and initialisation
        self.rng = torch.Generator(dev).manual_seed(cfg.run.seed)
        self.generator, self.discriminator, self.oracle = build_models(cfg, oracle_params, dev, *self._given)
        self.shared_rng = self.rng  # one process: shuffles and samples share one stream, as always
        if self.world > 1:
            distributed.broadcast_module(self.generator)  # identical models on every rank, whatever the machine
            distributed.broadcast_module(self.discriminator)
            # Each rank draws its own samples and dropout masks; shuffles must agree: a generator seeded alike.
            torch.manual_seed(derived_seed(cfg.run.seed, 3, self.rank))
            self.rng = torch.Generator(dev).manual_seed(derived_seed(cfg.run.seed, 3, self.rank))
            self.shared_rng = torch.Generator(dev).manual_seed(cfg.run.seed)
        delayed = cfg.adversarial.rollout_policy == "delayed"
        self.rollout_policy = copy.deepcopy(self.generator).requires_grad_(False) if delayed else None
        trainable = [p for p in self.generator.parameters() if p.requires_grad]
        # Two optimisers for G, as in the authors' generator.py (MLE and policy gradient).
        self.g_mle_opt = torch.optim.Adam(trainable, lr=cfg.pretrain.g_lr)
        pg_optimizer = torch.optim.SGD if cfg.adversarial.g_optimizer == "sgd" else torch.optim.Adam
        self.g_pg_opt = pg_optimizer(trainable, lr=cfg.adversarial.g_lr)
        fused = {"fused": True} if cfg.discriminator.train_bf16 else {}  # the fused update is not bit-identical
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.discriminator.lr, **fused)

    # ------------------------------------------------------------ checkpoint
    def _state(self) -> dict[str, Any] | None:
        """The checkpoint's contents (on rank 0; None on the others, which only send their random states)."""
        rng = distributed.rng_states(self.rng, self.shared_rng, self.device)
        if not self.is_main:
            return None
        state = {
            "phase": self.phase,
            "epoch": self.epoch,
            "metrics_bytes": self.log.size(),
            "best": self.best,
            "diversity_ref": self.collapse.reference,
            "mle_best": self.early.best,
        }
        return {
            "config": self.cfg.to_dict(),
            "state": state,
            "rng": rng,
            **{k: None if v is None else v.state_dict() for k, v in self._parts().items()},
        }

    def _parts(self) -> dict[str, Any]:
        """What a checkpoint holds the state dict of, by its key there."""
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "rollout_policy": self.rollout_policy,
            "g_mle_opt": self.g_mle_opt,
            "g_pg_opt": self.g_pg_opt,
            "d_opt": self.d_opt,
        }

    def save(self) -> None:
        """Write a checkpoint (rank 0; every rank must call it, since it gathers their random states)."""
        state = self._state()
        if state is not None:
            save_checkpoint(self.run.checkpoints, state)

    def _load_state(self, ckpt: dict[str, Any], fork: bool = False) -> None:
        """Restore a checkpoint. ``fork``: one taken at the end of another run's pre-training, whose policy-gradient
        optimiser has never stepped: this run's own (its kind and learning rate from this config) starts fresh."""
        for key, part in self._parts().items():
            if part is not None and ckpt[key] is not None and not (fork and key == "g_pg_opt"):
                part.load_state_dict(ckpt[key])
        for group in self.d_opt.param_groups:  # a state dict carries its rate and kind of update; the config decides
            group.update(lr=self.cfg.discriminator.lr, fused=self.cfg.discriminator.train_bf16 or None)
        distributed.set_rng_states(ckpt["rng"], self.rng, self.shared_rng, self.device)
        state = ckpt["state"]
        self.phase, self.epoch, self.best = state["phase"], state["epoch"], state.get("best")
        self.collapse.reference = state.get("diversity_ref")
        self.early.best = state.get("mle_best")
        if self.log is not None:
            self.log.truncate(state["metrics_bytes"])

    # ------------------------------------------------------------- helpers
    def _sample(self, model: Generator, num: int, rng: torch.Generator, labels: Tensor | None = None) -> Tensor:
        """num sequences from ``model`` (of the ``labels`` (num,) asked for), eval.batch_size rows at a time."""
        return model.generate(num, self.cfg.data.seq_len, rng, self.cfg.eval.batch_size, **_given(labels))

    def _draw_labels(self, num: int) -> Tensor | None:
        """Labels to ask a conditional G for, in the training data's proportions (None: unconditional)."""
        if self.train_labels is None:
            return None
        return self.train_labels[torch.randint(len(self.train_labels), (num,), generator=self.rng, device=self.device)]

    def _progress(self, total: int, desc: str) -> tqdm:
        return tqdm(
            total=total,
            initial=self.epoch,
            desc=desc,
            unit="ep",
            leave=False,
            file=sys.stderr,
            disable=None if self.cfg.run.progress and self.is_main else True,
            dynamic_ncols=True,
        )

    def _mine(self, rows: Tensor) -> Tensor:
        """This rank's share of a global batch's rows (all of them in one process)."""
        return rows.tensor_split(self.world)[self.rank] if self.world > 1 else rows

    def _log(self, event: dict[str, Any]) -> None:
        """Log an event (rank 0) after the NaN guard."""
        logbook.check_finite(event, self.run.checkpoints)
        if self.log is not None:
            self.log.log(event)

    def _advance(self, total: int, next_phase: str) -> None:
        """Count a finished epoch; checkpoint every ``checkpoint_every`` and at the phase end."""
        self.epoch += 1
        # Several processes stop together: a signal that reached any rank stops all after this epoch.
        stop = distributed.max_int(self.signals.received or 0) or None
        if self.epoch >= total:
            self.phase, self.epoch = next_phase, 0
            self.save()
        elif self.epoch % self.cfg.run.checkpoint_every == 0 or self._best_pending or stop is not None:
            self.save()
        if self._best_pending:
            if self.is_main:
                self.run.keep_checkpoint(BEST)
            self._best_pending = False
        if stop is not None:
            name = signal.Signals(stop).name
            launch = f"torchrun --nproc-per-node {self.world} -m seqgan" if self.world > 1 else "seqgan"
            raise distributed.mirrored(
                Interrupted(
                    f"{name}: stopped after a checkpoint in phase {self.phase}, epoch {self.epoch}; "
                    f"continue with: {launch} train --resume {self.out}"
                )
            )

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
        """Run whatever phases are not finished yet (so the same call also resumes). SIGINT / SIGTERM let the
        current epoch finish, save a checkpoint and raise Interrupted."""
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
                first = str(e).strip().splitlines()[0]
                raise TrainingError(
                    f"anomaly in phase {self.phase}, epoch {self.epoch + 1}: {first}; the last good "
                    f"checkpoint in {self.run.checkpoints} is kept"
                ) from None

    def pretrain_generator(self) -> None:
        """MLE pre-training: ``pretrain.g_epochs`` epochs over the training data, stopped early when the
        validation NLL has not improved for ``pretrain.patience`` evaluations (then G goes back to its best)."""
        cfg = self.cfg.pretrain
        total = cfg.g_epochs
        if self.epoch == 0:
            self.evaluate("mle", 0)
        bar = self._progress(total, "MLE")
        while self.phase == "mle" and self.epoch < total:
            t0 = time.perf_counter()
            loss = self._mle_epoch()
            epoch = self.epoch + 1
            self._log({"phase": "mle", "epoch": epoch, "g/mle_loss": loss, "time/epoch_s": time.perf_counter() - t0})
            end = total
            if epoch % self.cfg.eval.every == 0 or epoch == total:
                if self.early.update(epoch, self.evaluate("mle", epoch).get("eval/nll_valid"), self.generator):
                    end = epoch
            if epoch == end and cfg.patience > 0:
                self._restore_mle_best(epoch, stopped=epoch < total)
            self._advance(end, "d_pretrain")
            bar.update(1)
        bar.close()
        if total == 0 and self.phase == "mle":
            self.phase = "d_pretrain"

    def _restore_mle_best(self, epoch: int, stopped: bool) -> None:
        """End of MLE with early stopping: G goes back to its best-validation weights (D pre-training and every
        later phase start from them); the event says where it stopped and which epoch it kept."""
        best = self.early.best
        if best is None:
            return
        self.generator.load_state_dict(best["generator"])
        # Evaluated again, so that the curves show the generator every later phase starts from.
        self.evaluate(
            "mle",
            epoch,
            {"mle/stopped_early": int(stopped), "mle/best_epoch": best["epoch"], "mle/best_nll_valid": best["value"]},
        )

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
            labels = None if self.train_labels is None else self.train_labels[idx]
            losses.append(self.mle_step(self.train_data[idx], true_prob, labels))
        return float(distributed.all_reduce_sum(torch.stack(losses)).mean())

    def mle_step(self, batch: Tensor, true_prob: float = 1.0, labels: Tensor | None = None) -> Tensor:
        """One maximum-likelihood step on the global batch ``batch`` (B, T) (of ``labels`` (B,), conditional): this
        rank takes its rows, and its loss is its share of the batch's mean over real tokens (the global token count
        divides every share), so the summed gradient is that of the whole batch however the real lengths fall.
        Returns this rank's share."""
        total = sequence_mask(batch, self.generator.eos_token).sum().clamp(min=1)  # every rank holds the batch
        rows = self._mine(batch)
        if rows.shape[0] == 0:  # fewer rows than ranks in the last batch: a zero share
            self._clip_step(self.g_mle_opt, torch.zeros((), device=self.device), self.cfg.pretrain.grad_clip)
            return torch.zeros((), device=self.device)
        rows = trim_padding(rows, self.generator.eos_token)
        given = _given(None if labels is None else self._mine(labels))
        logits = (
            self.generator(rows, **given)
            if true_prob >= 1.0
            else self.generator.scheduled_sampling_logits(rows, true_prob, self.rng, **given)
        )
        loss = mle_loss(logits, rows, sequence_mask(rows, self.generator.eos_token), total.to(logits.dtype))
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
            self._log(
                {"phase": "d_pretrain", "epoch": self.epoch + 1, **stats, "time/epoch_s": time.perf_counter() - t0}
            )
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
                self.run.keep_checkpoint(PRETRAINED)
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
                    rollout.update_delayed_policy(self.rollout_policy, self.generator, cfg.rollout_update_rate)
                if cfg.reward == "discriminator" and cfg.d_steps > 0:
                    event.update(self._train_discriminator(cfg.d_steps, cfg.k_epochs))
                event.update(logbook.mean_over_steps(g_stats))
                self.collapse.check(event)
            event["time/epoch_s"] = time.perf_counter() - t0
            self._log(event)
            if epoch % self.cfg.eval.every == 0 or epoch == cfg.epochs:
                self.evaluate("adversarial", epoch)
            self._advance(cfg.epochs, "done")
            bar.update(1)
            if "g/reward_mean" in event:
                bar.set_postfix(reward=f"{event['g/reward_mean']:.3f}")
        bar.close()
        if cfg.epochs == 0 and self.phase == "adversarial":
            self.phase = "done"

    def _policy_gradient_step(self) -> dict[str, Any]:
        """Sample a batch, compute Q by Monte Carlo roll-outs, take one REINFORCE step (Eq. 8).

        Several processes: each rank samples and rolls out batch_size / K of the sequences."""
        cfg, T = self.cfg.adversarial, self.cfg.data.seq_len
        labels = self._draw_labels(cfg.batch_size // self.world)  # conditional: the roll-outs keep each one's label
        tokens, states = self.generator.sample(
            cfg.batch_size // self.world, T, self.rng, return_states=True, **_given(labels)
        )
        policy = self.generator if self.rollout_policy is None else self.rollout_policy
        states = states if self.rollout_policy is None else None  # the delayed policy has its own states
        if cfg.reward == "discriminator":
            rewards = rollout.rollout_rewards(
                policy,
                self.discriminator,
                tokens,
                cfg.rollout_num,
                states,
                rng=self.rng,
                score_batch=cfg.d_score_batch,
                dropout=cfg.reward_dropout,
                bf16=cfg.reward_bf16,
                labels=labels,
            )
        elif cfg.reward == "bleu":
            if self._bleu_reference is None:  # index the training data once per process
                refs = strip_special(self.train_data.cpu(), self.generator.eos_token)
                self._bleu_reference = BleuReference(refs, (cfg.bleu_order,))
            rewards = rollout.bleu_rollout_rewards(
                policy, self._bleu_reference, tokens, cfg.rollout_num, states, rng=self.rng
            )
        else:  # constant Q = 1: no roll-outs, the gradient only sharpens G on its own samples
            rewards = torch.ones(tokens.shape, device=self.device, dtype=dtype_of(self.generator))
        if cfg.reward_shuffle:  # control: the same Q values, cut from the sequences that earned them
            rewards = rollout.shuffle_rewards(rewards, sequence_mask(tokens, self.generator.eos_token), self.rng)
        return self.policy_gradient_update(tokens, rewards, labels)

    def policy_gradient_update(self, tokens: Tensor, rewards: Tensor, labels: Tensor | None = None) -> dict[str, Any]:
        """One REINFORCE step on this rank's sequences ``tokens`` (B_r, T) (asked for ``labels`` (B_r,), if
        conditional) with their Q-values ``rewards`` (B_r, T); returns the step's statistics over the global batch.

        The loss is a sum over sequences, so the summed gradients of the ranks are the global gradient; only the
        "mean" baseline needs the whole batch, and takes it from the gathered rewards.
        """
        cfg = self.cfg.adversarial
        self.generator.train()
        mask = sequence_mask(tokens, self.generator.eos_token)
        logp = torch.log_softmax(self.generator(tokens, **_given(labels)), dim=-1)  # (B, T, V)
        log_probs = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) * mask
        # Diagnostics of mode collapse: the policy's entropy per real token and distinct bigrams.
        entropy = -(logp.detach().exp() * logp.detach()).sum(dim=-1)
        local_rewards = rewards
        # The global batch, in rank order (this rank's own in one process), for the baseline and the statistics.
        tokens, rewards, entropy = (distributed.all_gather_rows(t) for t in (tokens, rewards, entropy))
        all_mask = sequence_mask(tokens, self.generator.eos_token)
        baseline = mean_reward(rewards, all_mask) if cfg.reward_baseline == "mean" else 0.0
        loss = policy_gradient_loss(log_probs, local_rewards, baseline, mask)
        norm = self._clip_step(self.g_pg_opt, loss, cfg.grad_clip)
        loss = distributed.all_reduce_sum(loss.detach().clone())
        return {
            **logbook.policy_gradient_stats(tokens, rewards, entropy, all_mask, self.generator.eos_token),
            "g/pg_loss": float(loss),
            "g/grad_norm": float(norm),
        }

    def _train_discriminator(self, d_steps: int, k_epochs: int) -> dict[str, float]:
        """d_steps rounds: sample as many negatives as there are positives, shuffle once, train
        k epochs (authors' dataloader.py). Accuracy is counted on the last epoch's batches. Conditional: D reads
        each sequence with its label first; the negatives are asked for the positives' labels, so that the label
        alone tells D nothing."""
        cfg, labels, V = self.cfg.discriminator, self.train_labels, self.cfg.data.vocab_size
        pos = rollout.labelled(self.train_data, labels, V)
        losses = []
        # counts stay on the device until the end: no host sync inside the D loop
        right_real, right_fake, n_real, n_fake = (torch.zeros((), device=self.device) for _ in range(4))
        self.discriminator.train()
        for _ in range(d_steps):
            neg = rollout.labelled(self._sample_negatives(len(pos), labels), labels, V)
            x = torch.cat([pos, neg])
            y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))]).long().to(self.device)
            order = torch.randperm(len(x), generator=self.shared_rng, device=self.device)
            for k in range(k_epochs):
                for idx in order.split(cfg.batch_size):
                    loss, logits = self.discriminator_step(x[idx], y[idx])
                    losses.append(loss)
                    if k == k_epochs - 1:
                        pred, label = logits.argmax(1), self._mine(y[idx])
                        right_real += ((pred == 1) & (label == 1)).sum()
                        right_fake += ((pred == 0) & (label == 0)).sum()
                        n_real += (label == 1).sum()
                        n_fake += (label == 0).sum()
        if not losses:
            return {}
        loss_sum = distributed.all_reduce_sum(torch.stack(losses))  # batch losses: the sum of the ranks' shares
        right_real, right_fake, n_real, n_fake = distributed.all_reduce_sum(
            torch.stack([right_real, right_fake, n_real, n_fake])
        )
        return {
            "d/loss": float(loss_sum.mean()),
            "d/acc_real": float(right_real) / max(float(n_real), 1.0),
            "d/acc_fake": float(right_fake) / max(float(n_fake), 1.0),
        }

    def discriminator_step(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """One D step on the global batch ``x`` (B, T) with labels ``y`` (B,): this rank takes its rows, sums its
        cross-entropy over the global row count and adds 1/K of the L2 term, so the summed gradients count the L2
        term once. Returns this rank's share of the batch loss and its rows' logits."""
        cfg = self.cfg.discriminator
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.train_bf16):
            loss, logits = discriminator_loss(
                self.discriminator, self._mine(x), self._mine(y), cfg.l2_reg, total=len(y), l2_share=1.0 / self.world
            )
        self.d_opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.all_reduce_grads(self.discriminator.parameters())
        self.d_opt.step()
        return loss.detach(), logits

    def _sample_negatives(self, num: int, labels: Tensor | None = None) -> Tensor:
        """``num`` generator samples for D (of ``labels`` (num,), conditional): each rank draws its share with its
        own generator, and all ranks receive all of them (rank order), so every rank trains on the same global set.
        -> (num, T)."""
        sizes = distributed.split_sizes(num, self.world)
        share, start = sizes[self.rank], sum(sizes[: self.rank])
        mine = (
            self._sample(self.generator, share, self.rng, None if labels is None else labels[start : start + share])
            if share
            else torch.empty(0, self.cfg.data.seq_len, dtype=torch.long, device=self.device)
        )
        return distributed.all_gather_rows(mine)

    def evaluate(self, phase: str, epoch: int, extra: dict[str, Any] | None = None) -> dict[str, float]:
        """Metrics of fresh generator samples: NLL_oracle (oracle task), NLL and entropy, and for real data BLEU,
        Self-BLEU, distinct-n, mean length; against the validation split, the only one training reads (runs made
        before validation splits existed: the test split, as they always did)."""
        metrics: dict[str, float] = {}
        if self.is_main:  # rank 0 evaluates; the others take its numbers, so that every rank decides alike
            seed = derived_seed(self.cfg.run.seed, 2, PHASES.index(phase), epoch)
            vocab = self.run.vocab()  # music runs (pitch vocabulary) add eval/mse
            split = "valid" if len(self.valid_data) else "test"
            refs, ref_labels = (
                (self.valid_data, self.valid_labels) if split == "valid" else (self.test_data, self.test_labels)
            )
            metrics, samples, labels = sample_and_score(
                self.generator, self.cfg, refs, ref_labels, split, self.oracle, vocab, seed, self.device
            )
        metrics = distributed.broadcast_object(metrics)
        self._log({"phase": phase, "epoch": epoch, **(extra or {}), **metrics})
        self._track_best(metrics, first=phase == "mle" and epoch == 0)
        if self.is_main:
            n, names = self.cfg.eval.num_saved_samples, label_names(vocab, self.cfg.data.num_labels)
            shown = None if labels is None else [names[k] for k in labels[:n].tolist()]
            self.run.write_samples(phase, epoch, samples[:n], shown)
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


def _given(labels: Tensor | None) -> dict[str, Tensor]:
    """The ``labels=`` argument of a conditional generator's calls; nothing for an unconditional one (whose calls,
    your own generator's included, need not know the keyword)."""
    return {} if labels is None else {"labels": labels}
