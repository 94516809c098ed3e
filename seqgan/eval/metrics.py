"""Evaluation metrics. Pure functions of models and token tensors; no I/O."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from seqgan.data.decode import strip_special
from seqgan.data.vocab import PitchInfo
from seqgan.models.interface import SequenceGenerator, device_of
from seqgan.models.sampling import sequence_mask, trim_padding


@torch.no_grad()
def token_scores(
    model: SequenceGenerator,
    tokens: Tensor,
    temperature: float = 1.0,
    entropy: bool = False,
    block: int = 256,
    labels: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """log G(y_t | y_<t) of every token and, with ``entropy``, the entropy of every step's distribution, teacher-
    forced at ``temperature``: tokens (B, T) -> (B, T) each (float64 sums stay exact enough; positions after EOS 0).

    The (B * T, V) logits are made and reduced ``block`` rows at a time: at V 5,000 a whole batch's logits are
    hundreds of megabytes, and going through them in cache-sized pieces is several times faster on a CPU.
    ``labels`` (B,): each sequence's label, for a conditional model."""
    hidden = model.hidden(tokens) if labels is None else model.hidden(tokens, labels)  # (B, T, H)
    B, T, H = hidden.shape
    flat, target = hidden.reshape(B * T, H), tokens.reshape(B * T)
    logp = torch.empty(B * T, device=hidden.device, dtype=hidden.dtype)
    ent = torch.empty_like(logp) if entropy else None
    for lo in range(0, B * T, block):
        z = model.project(flat[lo : lo + block])
        if temperature != 1.0:
            z = z / temperature
        lse = torch.logsumexp(z, dim=-1)
        logp[lo : lo + block] = z.gather(1, target[lo : lo + block, None]).squeeze(1) - lse
        if ent is not None:
            ent[lo : lo + block] = lse - (torch.softmax(z, dim=-1) * z).sum(dim=-1)
    mask = sequence_mask(tokens, model.eos_token).to(logp.dtype)
    return logp.view(B, T) * mask, None if ent is None else ent.view(B, T) * mask


@torch.no_grad()
def sequence_nll(
    model: SequenceGenerator,
    tokens: Tensor,
    batch_size: int = 1024,
    temperature: float = 1.0,
    labels: Tensor | None = None,
) -> Tensor:
    """Per-sequence mean per-token NLL (nats) of ``tokens`` under ``model``: (B, T) -> (B,).

    With an EOS token, the mean runs over the real positions (up to and including the first EOS).

    Teacher-forced from the start token. With the oracle as ``model`` and generated
    sequences as ``tokens`` this is NLL_oracle per sample (the t-test's unit); with the
    generator and held-out data it is NLL_test (``temperature``: of the model's softmax). ``labels`` (B,): each
    sequence's label, for a conditional model.
    """
    device = device_of(model)
    was_training = model.training
    model.eval()
    out = []
    for i, chunk in enumerate(tokens.split(batch_size)):
        chunk = trim_padding(chunk.to(device), model.eos_token)
        lengths = sequence_mask(chunk, model.eos_token).sum(dim=1).clamp(min=1)
        lab = None if labels is None else labels[i * batch_size : i * batch_size + len(chunk)].to(device)
        out.append(-token_scores(model, chunk, temperature, labels=lab)[0].sum(dim=1) / lengths)
    model.train(was_training)
    return torch.cat(out).cpu()


def mean_nll(
    model: SequenceGenerator,
    tokens: Tensor,
    batch_size: int = 1024,
    temperature: float = 1.0,
    labels: Tensor | None = None,
) -> float:
    """Mean per-token NLL in nats over all real tokens of the corpus (for fixed-length
    sequences the paper's Table 1 scale: the mean of the per-sequence means)."""
    per_seq = sequence_nll(model, tokens, batch_size, temperature, labels).double()
    lengths = sequence_mask(tokens, model.eos_token).sum(dim=1).clamp(min=1).double().cpu()
    return float((per_seq * lengths).sum() / lengths.sum())


@torch.no_grad()
def mean_entropy(
    model: SequenceGenerator,
    tokens: Tensor,
    batch_size: int = 1024,
    temperature: float = 1.0,
    labels: Tensor | None = None,
) -> float:
    """Mean entropy (nats) of ``model``'s next-token distribution along ``tokens`` (B, T), over real positions.

    With the model's own samples as ``tokens`` this is the policy entropy that falls when the policy sharpens
    (whatever the reward means); ``temperature``: of the softmax, as in sampling."""
    device = device_of(model)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0.0
    for i, chunk in enumerate(tokens.split(batch_size)):
        chunk = trim_padding(chunk.to(device), model.eos_token)
        lab = None if labels is None else labels[i * batch_size : i * batch_size + len(chunk)].to(device)
        _, ent = token_scores(model, chunk, temperature, entropy=True, labels=lab)
        total += float(ent.sum().double())
        count += float(sequence_mask(chunk, model.eos_token).sum())
    model.train(was_training)
    return total / max(count, 1.0)


def distinct_n(sequences: list[list[int]], n: int) -> float:
    """Distinct n-grams / all n-grams over a corpus (Li et al. 2016); 0 when there are none."""
    grams = [tuple(s[i : i + n]) for s in sequences for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def hold_rests(ids: Tensor, rest_id: int) -> Tensor:
    """(B, T) ids -> (B, T) with every ``rest_id`` replaced by the note last heard before it in its row; leading
    rests take the row's first note, and a row of rests only becomes id 0 (the lowest key)."""
    B, T = ids.shape
    pos = torch.arange(T, device=ids.device).expand(B, T)
    is_note = ids != rest_id
    first = torch.where(is_note, pos, T).min(dim=1, keepdim=True).values  # (B, 1); T: no note in the row
    last = torch.cummax(torch.where(is_note, pos, -1), dim=1).values  # (B, T): last note at or before t, or -1
    src = torch.where(last >= 0, last, first).clamp(max=T - 1)
    return torch.where((first < T).expand(B, T), ids.gather(1, src), 0)


def pitch_mse(samples: Tensor, references: Tensor, rest_id: int | None = None, batch_size: int = 1024) -> float:
    """Mean squared pitch error (semitones^2) of generated melodies against their nearest reference.

    samples (S, T) and references (N, T): token ids with id = pitch - 21, so id differences are semitones. For each
    sample, the mean over its T positions of the squared difference to a reference, minimised over the N
    references (the same "whole test set as references" pairing as BLEU); the result is the mean over the S
    samples. With a rest token (``rest_id``) a rest counts as the note last heard (:func:`hold_rests`).
    Exact: integer arithmetic in float64.
    """
    if rest_id is not None:
        samples, references = hold_rests(samples, rest_id), hold_rests(references, rest_id)
    refs = references.to(torch.float64)
    ref_sq = (refs * refs).sum(dim=1)  # (N,)
    total = 0.0
    for chunk in samples.to(torch.float64).split(batch_size):
        # ||g - r||^2 = ||g||^2 + ||r||^2 - 2 g.r over all (sample, reference) pairs: (chunk, N)
        dist = (chunk * chunk).sum(dim=1, keepdim=True) + ref_sq[None, :] - 2.0 * chunk @ refs.T
        total += float(dist.min(dim=1).values.sum())
    return total / (samples.shape[0] * samples.shape[1])


def label_accuracy(classify: Callable[[Tensor], Tensor], tokens: Tensor, labels: Tensor) -> float:
    """Share of ``tokens`` (B, T) that ``classify`` assigns to their ``labels`` (B,); 0 for no rows."""
    if len(tokens) == 0:
        return 0.0
    return float((classify(tokens).cpu() == labels.cpu()).double().mean())


def evaluate_samples(
    generator: SequenceGenerator,
    samples: Tensor,
    test: Tensor,
    oracle: SequenceGenerator | None,
    bleu_orders: tuple[int, ...] = (2, 3, 4, 5),
    with_text_metrics: bool = False,
    batch_size: int = 1024,
    pitch: PitchInfo | None = None,
    temperature: float = 1.0,
    split: str = "test",
    sample_labels: Tensor | None = None,
    test_labels: Tensor | None = None,
    num_labels: int = 0,
    classify: Callable[[Tensor], Tensor] | None = None,
    words: Callable[[list[int]], list] | None = None,
) -> dict[str, float]:
    """Every evaluation metric of a generator, as flat ``eval/...`` keys.

    samples (S, T): fresh generator samples; test (N, T): held-out real sequences of the split named ``split``
    ("valid" during training, for model selection; "test" only to report): NLL is ``eval/nll_<split>``.
    BLEU-n: mean sentence BLEU of each sample against every sequence of that split (NLTK method1, the
    paper's and Texygen's protocol); Self-BLEU-n: each sample against the other samples.
    Music runs (``pitch``: the vocabulary's PitchInfo) add ``eval/mse``, :func:`pitch_mse` against the split.
    ``eval/entropy``: the generator's mean next-token entropy along its own samples.
    ``temperature``: the one the samples were drawn at; NLL and entropy use it too (Caccia et al. 2020).

    Conditional generation (``num_labels`` > 0): ``sample_labels`` (S,) the labels the samples were asked for,
    ``test_labels`` (N,) the split's; every metric is also given per label (``eval/label<k>/...``, against that
    label's held-out sequences), and with a judge ``classify`` (:mod:`seqgan.eval.labels`) ``eval/label_acc`` (the
    share of samples judged to be of the label asked for) beside ``eval/label_acc_real`` (the judge on the split).

    ``words`` (a subword vocabulary's :meth:`~seqgan.data.vocab.Vocab.words`) maps each sequence of ids to the
    tokens BLEU, Self-BLEU, distinct-n and the mean length count: the words and marks of its decoded text, so that
    the numbers compare with a punct-level run's; without it they count the vocabulary's tokens.
    """
    from seqgan.eval.bleu import bleu, self_bleu

    out: dict[str, float] = {}
    if oracle is not None:
        out["eval/nll_oracle"] = mean_nll(oracle, samples, batch_size, labels=sample_labels)
    if len(test):
        out[f"eval/nll_{split}"] = mean_nll(generator, test, batch_size, temperature, labels=test_labels)
    out["eval/entropy"] = mean_entropy(generator, samples, batch_size, temperature, labels=sample_labels)
    if with_text_metrics:
        hyps = strip_special(samples.cpu(), generator.eos_token)
        refs = strip_special(test.cpu(), generator.eos_token)
        if words is not None:
            hyps, refs = [words(h) for h in hyps], [words(r) for r in refs]
        if len(refs):
            out.update({f"eval/bleu{n}": v for n, v in bleu(hyps, refs, bleu_orders).items()})
        if len(hyps) > 1:
            out.update({f"eval/self_bleu{n}": v for n, v in self_bleu(hyps, bleu_orders).items()})
        out["eval/distinct1"] = distinct_n(hyps, 1)
        out["eval/distinct2"] = distinct_n(hyps, 2)
        out["eval/mean_length"] = sum(map(len, hyps)) / max(len(hyps), 1)
    if pitch is not None and len(test):
        out["eval/mse"] = pitch_mse(samples.cpu(), test.cpu(), pitch.rest_id, batch_size)
    if num_labels and sample_labels is not None:
        if classify is not None:
            out["eval/label_acc"] = label_accuracy(classify, samples, sample_labels)
            if len(test) and test_labels is not None:
                out["eval/label_acc_real"] = label_accuracy(classify, test, test_labels)
        for k in range(num_labels):
            mine = (sample_labels == k).to(samples.device)
            theirs = (test_labels == k).to(test.device) if test_labels is not None else test.new_zeros(len(test)) > 0
            if not mine.any():
                continue
            part = evaluate_samples(
                generator,
                samples[mine],
                test[theirs],
                oracle,
                bleu_orders,
                with_text_metrics,
                batch_size,
                pitch,
                temperature,
                split,
                sample_labels[mine],
                test_labels[theirs] if test_labels is not None else None,
                words=words,
            )
            out.update({f"eval/label{k}/{key[5:]}": value for key, value in part.items()})
    return out


@torch.no_grad()
def temperature_sweep(
    generator: SequenceGenerator,
    oracle: SequenceGenerator,
    test: Tensor,
    alphas: list[float],
    num_samples: int,
    seed: int = 0,
    batch_size: int = 1024,
) -> list[dict[str, float]]:
    """The quality-diversity curve of Caccia et al. (2020) on the oracle task: for each inverse
    temperature alpha (logits x alpha), NLL_oracle of ``num_samples`` samples drawn at temperature
    1 / alpha (quality), NLL_test of the held-out ``test`` (N, T) under the same softmax (diversity) and the
    entropy of that softmax along the samples. The same seed for every alpha, so the curve is smooth in alpha."""
    points = []
    for alpha in alphas:
        temperature = 1.0 / alpha
        rng = torch.Generator(device_of(generator)).manual_seed(seed)
        samples = generator.generate(num_samples, test.shape[1], rng, batch_size, temperature=temperature)
        points.append(
            {
                "alpha": alpha,
                "nll_oracle": mean_nll(oracle, samples, batch_size),
                "nll_test": mean_nll(generator, test, batch_size, temperature),
                "entropy": mean_entropy(generator, samples, batch_size, temperature),
            }
        )
    return points
