"""What the trainer measures at each evaluation: fresh samples of G and every metric of them (one function, so
that training, ``seqgan eval`` and the benchmarks score a generator the same way)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from seqgan.config import SeqGANConfig
from seqgan.data.vocab import Vocab
from seqgan.eval.labels import balanced_labels, bayes_classifier
from seqgan.eval.metrics import evaluate_samples
from seqgan.models.interface import SequenceGenerator
from seqgan.train import distributed, seeds
from seqgan.train.state import PHASES

if TYPE_CHECKING:
    from seqgan.train.trainer import SeqGANTrainer


def label_names(vocab: Vocab | None, num_labels: int) -> list[str]:
    """The names of a run's labels: the data's (``seqgan prepare --labels``), or "0".."k-1" on the oracle task."""
    names = getattr(vocab, "labels", None) if vocab is not None else None
    return list(names) if names else [str(k) for k in range(num_labels)]


def word_tokens(vocab: Vocab | None) -> Callable[[list[int]], list] | None:
    """What BLEU counts on a run's samples: a subword vocabulary's words (:meth:`Vocab.words`), else the ids."""
    return vocab.words if vocab is not None and vocab.tokenizer is not None else None


def sample_and_score(
    generator: SequenceGenerator,
    cfg: SeqGANConfig,
    refs: Tensor,
    ref_labels: Tensor | None,
    split: str,
    oracle: SequenceGenerator | None,
    vocab: Vocab | None,
    seed: int,
    device: torch.device,
) -> tuple[dict[str, Any], Tensor, Tensor | None]:
    """``eval.num_samples`` fresh samples of ``generator`` (seeded by ``seed``) and their metrics against the
    held-out ``refs`` (N, T) of ``split``. A conditional generator is asked for every label in turn (equal shares);
    on the conditional oracle task the exact Bayes classifier judges their labels. Returns (metrics, samples,
    the samples' labels or None)."""
    ev, K = cfg.eval, cfg.data.num_labels
    labels = balanced_labels(ev.num_samples, K, device) if K else None
    rng = torch.Generator(device).manual_seed(seed)
    given = {} if labels is None else {"labels": labels}
    samples = generator.generate(ev.num_samples, cfg.data.seq_len, rng, ev.batch_size, **given)
    classify = bayes_classifier(oracle, K, ev.batch_size) if K and oracle is not None else None
    metrics = evaluate_samples(
        generator,
        samples,
        refs,
        oracle,
        ev.bleu_orders,
        cfg.data.path is not None,
        ev.batch_size,
        pitch=vocab.pitch if vocab is not None else None,
        split=split,
        sample_labels=labels,
        test_labels=ref_labels,
        num_labels=K,
        classify=classify,
        words=word_tokens(vocab),
    )
    return metrics, samples, labels


def evaluate(t: SeqGANTrainer, phase: str, epoch: int, extra: dict[str, Any] | None = None) -> dict[str, float]:
    """Metrics of fresh samples of G (NLL_oracle on the oracle task; NLL, entropy; BLEU, Self-BLEU, distinct-n on
    real data) against the validation split, the only one training reads; with no validation split (prepared
    with --valid-frac 0) the curves use the test split and nothing is selected on them."""
    metrics: dict[str, float] = {}
    if t.is_main:  # rank 0 evaluates; the others take its numbers, so that every rank decides alike
        seed = seeds.evaluation_seed(t.cfg.run.seed, PHASES.index(phase), epoch)
        vocab, split = t.run.vocab(), "valid" if len(t.valid_data) else "test"
        refs, ref_labels = (t.valid_data, t.valid_labels) if split == "valid" else (t.test_data, t.test_labels)
        metrics, samples, labels = sample_and_score(
            t.generator, t.cfg, refs, ref_labels, split, t.oracle, vocab, seed, t.device
        )
    metrics = distributed.broadcast_object(metrics)
    t._log({"phase": phase, "epoch": epoch, **(extra or {}), **metrics})
    if not (phase == "mle" and epoch == 0):
        t.best.update(metrics)
    if t.is_main:
        n, names = t.cfg.eval.num_saved_samples, label_names(vocab, t.cfg.data.num_labels)
        shown = None if labels is None else [names[k] for k in labels[:n].tolist()]
        t.run.write_samples(phase, epoch, samples[:n], shown)
    return metrics
