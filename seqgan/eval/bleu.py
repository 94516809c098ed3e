"""BLEU and Self-BLEU exactly as NLTK computes them (SeqGAN, Texygen, RelGAN protocol), but fast.

Protocol ("full"): BLEU-n of a corpus of hypotheses is the mean over hypotheses of NLTK's
``sentence_bleu(references=ALL reference token lists, hypothesis, weights=(1/n,)*n,
smoothing_function=SmoothingFunction().method1)``. Self-BLEU-n is the same mean where hypothesis i
is scored against every *other* hypothesis (i itself excluded; other lines equal to i stay).

Per sentence the result equals NLTK's float bit for bit (tested against ``nltk.translate.bleu_score``
to 1e-9), because the same floats are computed in the same order. NLTK behaviours reproduced:

* modified precision p_k = clipped / max(1, number of hypothesis k-grams), where the clip of a k-gram
  is its largest count in any single reference; a hypothesis shorter than k has p_k = 0 / 1;
* if the clipped unigram count is 0 (no common token, or an empty hypothesis) the score is 0;
* method1 smoothing: a zero precision becomes (0 + 0.1) / denominator, a float;
* closest reference length: the reference length nearest to the hypothesis length, ties to the
  shorter one; brevity penalty 1 if hyp_len > ref_len else exp(1 - ref_len / hyp_len);
* score = bp * exp(fsum(w * log(p_k) for k = 1..n)) with w = 1 / n, p_k = numerator / denominator.

Speed: clipping only needs, per n-gram, its maximum count over the references (one dict for all
references) and the closest length only the sorted set of reference lengths, so BLEU costs
O(tokens of hypotheses + references) instead of O(hypotheses x references). For Self-BLEU each n-gram
keeps its top two counts and the holder of the top, and each length a count, so excluding
hypothesis i is O(1). Tokens are any hashable values (words or integer ids).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

from seqgan.errors import UserError

__all__ = ["BleuReference", "bleu", "self_bleu", "sentence_bleus", "sentence_self_bleus"]

EPSILON = 0.1  # NLTK SmoothingFunction().method1 default
DEFAULT_ORDERS = (2, 3, 4, 5)

Sentence = Sequence[Hashable]


def _check_orders(orders: Iterable[int]) -> tuple[int, ...]:
    orders = tuple(orders)
    if not orders:
        raise UserError("give at least one BLEU order n (e.g. 2 3 4 5)")
    for n in orders:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise UserError(f"BLEU order {n!r} is invalid: each order n must be an integer >= 1")
    return tuple(sorted(set(orders)))


def _as_tuples(sentences: Iterable[Sentence], what: str) -> list[tuple]:
    out = [tuple(s) for s in sentences]
    if not out:
        raise UserError(f"the {what} list is empty: give at least one sentence")
    return out


def _ngram_counts(tokens: tuple, max_n: int) -> list[Counter]:
    """Counts of the k-grams (as tuples) of ``tokens`` for k = 1..max_n; empty when len < k."""
    return [Counter(zip(*[tokens[j:] for j in range(k)], strict=False)) for k in range(1, max_n + 1)]


def _closest(lengths: list[int], hyp_len: int) -> int:
    """NLTK ``closest_ref_length`` over sorted distinct ``lengths``: nearest, ties to the shorter."""
    i = bisect_left(lengths, hyp_len)
    candidates = lengths[max(i - 1, 0) : i + 1]
    return min(candidates, key=lambda r: (abs(r - hyp_len), r))


def _scores(nums: list[int], hyp_len: int, ref_len: int, orders: tuple[int, ...]) -> list[float]:
    """NLTK sentence BLEU with method1 for each order in ``orders`` from clipped counts ``nums``."""
    if nums[0] == 0:  # NLTK: no matching unigram (or empty hypothesis) -> 0 for every weight
        return [0.0] * len(orders)
    logs = []
    for k, num in enumerate(nums, 1):
        den = max(1, hyp_len - k + 1)
        logs.append(math.log(num / den if num else (0 + EPSILON) / den))
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    out = []
    for n in orders:
        w = 1 / n
        out.append(bp * math.exp(math.fsum(w * lg for lg in logs[:n])))
    return out


def _clipped(counts: list[Counter], max_counts: dict) -> list[int]:
    nums = []
    for cnt in counts:
        num = 0
        for g, c in cnt.items():
            m = max_counts.get(g)
            if m:
                num += c if c < m else m
        nums.append(num)
    return nums


class BleuReference:
    """References indexed once, to score many hypothesis batches against them (PG-BLEU rewards).

    Holds, per n-gram up to the highest order, its largest count in any single reference, and the
    sorted distinct reference lengths: all that NLTK's sentence BLEU needs from the references.
    """

    def __init__(self, references: Sequence[Sentence], orders: Iterable[int] = DEFAULT_ORDERS) -> None:
        self.orders = _check_orders(orders)
        refs = _as_tuples(references, "reference")
        max_counts: dict[tuple, int] = {}
        get = max_counts.get
        for ref in refs:
            for cnt in _ngram_counts(ref, self.orders[-1]):
                for g, c in cnt.items():
                    if c > get(g, 0):
                        max_counts[g] = c
        self.max_counts = max_counts
        self.lengths = sorted({len(r) for r in refs})

    def scores(self, hypotheses: Sequence[Sentence]) -> dict[int, list[float]]:
        """{n: [sentence BLEU-n of hypothesis 0, 1, ...]} for each order n."""
        hyps = _as_tuples(hypotheses, "hypothesis")
        cache: dict[tuple, list[float]] = {}
        out: dict[int, list[float]] = {n: [] for n in self.orders}
        for hyp in hyps:
            scores = cache.get(hyp)
            if scores is None:
                nums = _clipped(_ngram_counts(hyp, self.orders[-1]), self.max_counts)
                scores = cache[hyp] = _scores(nums, len(hyp), _closest(self.lengths, len(hyp)), self.orders)
            for n, s in zip(self.orders, scores, strict=True):
                out[n].append(s)
        return out


def sentence_bleus(
    hypotheses: Sequence[Sentence], references: Sequence[Sentence], orders: Iterable[int] = DEFAULT_ORDERS
) -> dict[int, list[float]]:
    """Per-hypothesis NLTK sentence BLEU-n (method1, uniform weights) against ALL ``references``.

    Returns {n: [score of hypothesis 0, 1, ...]} for each n in ``orders``.
    """
    orders = _check_orders(orders)
    _as_tuples(hypotheses, "hypothesis")  # an empty hypothesis list is the first error to report
    return BleuReference(references, orders).scores(hypotheses)


def sentence_self_bleus(
    hypotheses: Sequence[Sentence], orders: Iterable[int] = DEFAULT_ORDERS
) -> dict[int, list[float]]:
    """Per-hypothesis Self-BLEU-n: NLTK sentence BLEU of hypothesis i against all the others.

    Hypothesis i is excluded from its own references; other hypotheses equal to it stay.
    Returns {n: [score of hypothesis 0, 1, ...]} for each n in ``orders``.
    """
    orders = _check_orders(orders)
    hyps = _as_tuples(hypotheses, "hypothesis")
    if len(hyps) < 2:
        raise UserError("Self-BLEU needs at least 2 hypotheses (each is scored against the others)")
    max_n = orders[-1]
    # Per n-gram: [top count, index of one hypothesis holding it, best count among the other hypotheses].
    top: dict[tuple, list[int]] = {}
    get = top.get
    all_counts = []
    for i, hyp in enumerate(hyps):
        counts = _ngram_counts(hyp, max_n)
        all_counts.append(counts)
        for cnt in counts:
            for g, c in cnt.items():
                t = get(g)
                if t is None:
                    top[g] = [c, i, 0]
                elif c > t[0]:
                    t[2] = t[0]
                    t[0] = c
                    t[1] = i
                elif c > t[2]:
                    t[2] = c
    len_count = Counter(len(h) for h in hyps)
    lengths = sorted(len_count)
    cache: dict[tuple, list[float]] = {}  # equal hypotheses have the same multiset of "others"
    out: dict[int, list[float]] = {n: [] for n in orders}
    for i, hyp in enumerate(hyps):
        scores = cache.get(hyp)
        if scores is None:
            nums = []
            for cnt in all_counts[i]:
                num = 0
                for g, c in cnt.items():
                    t = top[g]
                    m = t[2] if t[1] == i else t[0]
                    if m:
                        num += c if c < m else m
                nums.append(num)
            h = len(hyp)
            if len_count[h] > 1:
                ref_len = h
            else:  # i's length is held by i alone: nearest other distinct length, ties to the shorter
                j = bisect_left(lengths, h)
                ref_len = _closest(lengths[max(j - 1, 0) : j] + lengths[j + 1 : j + 2], h)
            scores = cache[hyp] = _scores(nums, h, ref_len, orders)
        for n, s in zip(orders, scores, strict=True):
            out[n].append(s)
    return out


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def bleu(
    hypotheses: Sequence[Sentence], references: Sequence[Sentence], orders: Iterable[int] = DEFAULT_ORDERS
) -> dict[int, float]:
    """Corpus BLEU-n as in SeqGAN/Texygen/RelGAN: mean of NLTK sentence BLEU against ALL references.

    ``hypotheses`` and ``references`` are token sequences (str or int tokens). Returns {n: BLEU-n}.
    """
    return {n: _mean(v) for n, v in sentence_bleus(hypotheses, references, orders).items()}


def self_bleu(hypotheses: Sequence[Sentence], orders: Iterable[int] = DEFAULT_ORDERS) -> dict[int, float]:
    """Self-BLEU-n: mean over i of NLTK sentence BLEU of hypothesis i against all other hypotheses."""
    return {n: _mean(v) for n, v in sentence_self_bleus(hypotheses, orders).items()}
