"""One optimisation step of each kind, for one process or several (``torchrun``).

Every step takes the global batch, lets this process (rank) take its share of the rows (:class:`Shard`), and makes
its loss that share of the global batch's loss, so that the ranks' summed gradients are the global batch's and every
rank takes the same step (:mod:`seqgan.train.distributed`; in one process the share is the whole batch and the loss
the plain one). Shapes: B batch, T length, V vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from seqgan.config import SeqGANConfig
from seqgan.models.sampling import sequence_mask, trim_padding
from seqgan.train import distributed, logbook, rollout
from seqgan.train.losses import discriminator_loss, mle_loss, policy_gradient_loss


class Shard(NamedTuple):
    rank: int
    world: int

    def mine(self, rows: Tensor) -> Tensor:
        """This rank's share of a global batch's rows (all of them in one process)."""
        return rows.tensor_split(self.world)[self.rank] if self.world > 1 else rows


def given(labels: Tensor | None) -> dict[str, Tensor]:
    """The ``labels=`` argument of a conditional generator's calls; nothing for an unconditional one (whose calls,
    your own generator's included, need not know the keyword)."""
    return {} if labels is None else {"labels": labels}


def clip_step(opt: torch.optim.Optimizer, loss: Tensor, clip: float) -> Tensor:
    """Backward, all-reduce of the gradients, global-norm clip, step; returns the norm (no device sync here)."""
    opt.zero_grad(set_to_none=True)
    if loss.requires_grad:  # an empty shard (several processes) has no graph: its gradient is zero
        loss.backward()
    params = [p for group in opt.param_groups for p in group["params"]]
    distributed.all_reduce_grads(params)
    norm = torch.nn.utils.clip_grad_norm_(params, clip) if clip > 0 else torch.zeros(())
    opt.step()
    return norm


def mle_step(
    generator: nn.Module,
    opt: torch.optim.Optimizer,
    batch: Tensor,
    clip: float,
    shard: Shard,
    true_prob: float = 1.0,
    rng: torch.Generator | None = None,
    labels: Tensor | None = None,
) -> Tensor:
    """One maximum-likelihood step on the global batch (B, T) (of ``labels`` (B,), conditional). This rank's loss is
    its share of the batch's mean over real tokens (the global token count divides every share), so the summed
    gradient is the whole batch's however the real lengths fall. ``true_prob`` < 1: scheduled sampling instead of
    teacher forcing. Returns this rank's share of the loss."""
    eos = generator.eos_token
    total = sequence_mask(batch, eos).sum().clamp(min=1)  # every rank holds the batch
    rows = shard.mine(batch)
    if rows.shape[0] == 0:  # fewer rows than ranks in the last batch: a zero share
        clip_step(opt, torch.zeros((), device=batch.device), clip)
        return torch.zeros((), device=batch.device)
    rows = trim_padding(rows, eos)
    mine = given(None if labels is None else shard.mine(labels))
    if true_prob >= 1.0:
        logits = generator(rows, **mine)
    else:
        logits = generator.scheduled_sampling_logits(rows, true_prob, rng, **mine)
    loss = mle_loss(logits, rows, sequence_mask(rows, eos), total.to(logits.dtype))
    clip_step(opt, loss, clip)
    return loss.detach()


def discriminator_step(
    discriminator: nn.Module,
    opt: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    l2_reg: float,
    shard: Shard,
    bf16: bool = False,
    label_smoothing: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """One D step (Eq. 5) on the global batch ``x`` (B, T) with labels ``y`` (B,) (1 = real): this rank sums its
    cross-entropy over the global row count and adds 1/K of the L2 term, so the summed gradients count it once.
    Returns this rank's share of the batch loss and its rows' logits."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        loss, logits = discriminator_loss(
            discriminator,
            shard.mine(x),
            shard.mine(y),
            l2_reg,
            total=len(y),
            l2_share=1.0 / shard.world,
            label_smoothing=label_smoothing,
        )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    distributed.all_reduce_grads(discriminator.parameters())
    opt.step()
    return loss.detach(), logits


def policy_gradient_step(
    generator: nn.Module,
    opt: torch.optim.Optimizer,
    tokens: Tensor,
    rewards: Tensor,
    baseline: Callable[[Tensor, Tensor], Tensor | float],
    clip: float,
    labels: Tensor | None = None,
) -> dict[str, Any]:
    """One REINFORCE step (Eq. 8) on this rank's sequences ``tokens`` (B_r, T) (asked for ``labels`` (B_r,), if
    conditional) with their Q-values ``rewards`` (B_r, T); ``baseline`` (rewards, mask) -> b sees the global batch.
    The loss is a sum over sequences, so the ranks' summed gradients are the global gradient. Returns the step's
    statistics over the global batch."""
    generator.train()
    eos = generator.eos_token
    mask = sequence_mask(tokens, eos)
    logp = torch.log_softmax(generator(tokens, **given(labels)), dim=-1)  # (B, T, V)
    log_probs = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) * mask
    # Diagnostics of mode collapse: the policy's entropy per real token and distinct bigrams.
    entropy = -(logp.detach().exp() * logp.detach()).sum(dim=-1)
    local_rewards = rewards
    # The global batch, in rank order (this rank's own in one process), for the baseline and the statistics.
    tokens, rewards, entropy = (distributed.all_gather_rows(t) for t in (tokens, rewards, entropy))
    all_mask = sequence_mask(tokens, eos)
    loss = policy_gradient_loss(log_probs, local_rewards, baseline(rewards, all_mask), mask)
    norm = clip_step(opt, loss, clip)
    loss = distributed.all_reduce_sum(loss.detach().clone())
    stats = logbook.policy_gradient_stats(tokens, rewards, entropy, all_mask, eos)
    return {**stats, "g/pg_loss": float(loss), "g/grad_norm": float(norm)}


def sample_negatives(
    generator: nn.Module, num: int, cfg: SeqGANConfig, rng: torch.Generator, shard: Shard, labels: Tensor | None = None
) -> Tensor:
    """``num`` samples of G for D (of ``labels`` (num,), conditional): each rank draws its share with its own
    generator and all ranks receive all of them, in rank order, so every rank trains D on the same set. -> (num, T)."""
    sizes = distributed.split_sizes(num, shard.world)
    share, start = sizes[shard.rank], sum(sizes[: shard.rank])
    T = cfg.data.seq_len
    if not share:
        return distributed.all_gather_rows(torch.empty(0, T, dtype=torch.long, device=rng.device))
    mine = None if labels is None else labels[start : start + share]
    return distributed.all_gather_rows(generator.generate(share, T, rng, cfg.eval.batch_size, **given(mine)))


def saturation_check(run: Any, skip_above: float | None) -> dict[str, float]:
    """Before an epoch's d-steps (``adversarial.d_skip_above``): D's accuracy on a fresh batch, and whether the
    d-steps are skipped because it is above ``skip_above``; {} when the check is off. ``run``: the trainer."""
    if skip_above is None:
        return {}
    acc = discriminator_accuracy(run)
    return {"d/skipped": float(acc > skip_above), "d/acc_check": acc}


@torch.no_grad()
def discriminator_accuracy(run: Any) -> float:
    """D's accuracy (eval mode) on ``discriminator.batch_size`` training sequences drawn at random and as many fresh
    samples of G asked for the same labels: how well D separates them right now. ``run``: the trainer (its models,
    training data, config, random stream and shard)."""
    cfg, rng, shard, data, labels = run.cfg, run.rng, run.shard, run.train_data, run.train_labels
    discriminator, generator = run.discriminator, run.generator
    num = cfg.discriminator.batch_size
    idx = torch.randint(len(data), (num,), generator=rng, device=data.device)
    asked = None if labels is None else labels[idx]
    fake = sample_negatives(generator, num, cfg, rng, shard, asked)
    x = rollout.labelled(torch.cat([data[idx], fake]), None if asked is None else asked.repeat(2), cfg.data.vocab_size)
    with rollout.eval_mode(discriminator):
        pred = discriminator(x).argmax(dim=1)
    right = (pred == torch.cat([torch.ones(num), torch.zeros(num)]).to(pred)).float().mean()
    return float(distributed.all_reduce_sum(right)) / shard.world  # every rank decides alike
