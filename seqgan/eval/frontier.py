"""Quality-diversity frontiers (Caccia et al. 2020) and the verdict of comparing two systems on them.

A system's frontier is its quality against its diversity over a sweep of sampling temperatures. Here both axes are
"lower is better" (oracle: x = NLL_test, y = NLL_oracle; text: x = Self-BLEU, y = -BLEU, or x = reverse LM score,
y = LM score), so a curve further down at the same x is better. Two systems are compared at matched diversity:
the mean vertical gap between their curves over the x-range they share. With several seeds, the per-seed gaps are
tested against zero (two-sided one-sample t-test; the seeds of two systems are paired when they share a
pre-training) and the verdict says better, worse or indistinguishable.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[float, float, float]  # (alpha, x, y): inverse temperature, diversity, quality (both lower-better)


def tradeoff_branch(points: Sequence[Point]) -> list[tuple[float, float]]:
    """The trade-off part of a sweep as (x, y) sorted by x: the points from the alpha of least x upward.

    Below that alpha (flatter than the model) diversity and quality both get worse, so those points are dominated
    and left out; above it, sharpening trades diversity for quality."""
    if not points:
        return []
    ordered = sorted(points)
    start = min(range(len(ordered)), key=lambda i: ordered[i][1])
    return sorted((x, y) for _, x, y in ordered[start:])


def interpolate(curve: Sequence[tuple[float, float]], x: float) -> float | None:
    """y of the piecewise-linear ``curve`` (sorted by x) at ``x``; None outside its x-range."""
    for (x0, y0), (x1, y1) in zip(curve, curve[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    if len(curve) == 1 and curve[0][0] == x:
        return curve[0][1]
    return None


def matched_gap(a: Sequence[Point], b: Sequence[Point], grid: int = 50) -> float | None:
    """Mean of y_a(x) - y_b(x) over ``grid`` evenly spaced x where both trade-off branches exist; None when their
    x-ranges do not overlap. Negative: ``a`` has the better quality at matched diversity."""
    ca, cb = tradeoff_branch(a), tradeoff_branch(b)
    if not ca or not cb:
        return None
    lo, hi = max(ca[0][0], cb[0][0]), min(ca[-1][0], cb[-1][0])
    if lo > hi:
        return None
    # min(): lo + (hi - lo) can round an ulp past hi, where one curve has no value
    xs = [lo] if hi == lo else [min(hi, lo + (hi - lo) * i / (grid - 1)) for i in range(grid)]
    gaps = [interpolate(ca, x) - interpolate(cb, x) for x in xs]  # type: ignore[operator]
    return statistics.fmean(gaps)


@dataclass(frozen=True)
class Verdict:
    gaps: tuple[float, ...]  # per seed with overlapping curves: mean y_a - y_b at matched x
    mean: float
    std: float
    p: float  # two-sided one-sample t-test of the gaps against 0 (nan with fewer than 2 seeds or no spread)
    verdict: str  # "better", "worse", "indistinguishable" (a against b), or "undetermined" (< 2 seeds)
    seeds_without_overlap: int


def compare(
    per_seed_a: Sequence[Sequence[Point]], per_seed_b: Sequence[Sequence[Point]], alpha: float = 0.05
) -> Verdict:
    """Frontier of system a against b, seed by seed (paired), and the verdict of a t-test at level ``alpha``."""
    gaps, missing = [], 0
    for a, b in zip(per_seed_a, per_seed_b, strict=True):
        gap = matched_gap(a, b)
        if gap is None:
            missing += 1
        else:
            gaps.append(gap)
    if not gaps:
        return Verdict((), math.nan, math.nan, math.nan, "undetermined", missing)
    mean = statistics.fmean(gaps)
    std = statistics.stdev(gaps) if len(gaps) > 1 else math.nan
    p = one_sample_t_p(gaps)
    if len(gaps) > 1 and all(g == 0 for g in gaps):  # the same curves on every seed (a system against itself)
        p, verdict = 1.0, "indistinguishable"
    elif math.isnan(p):
        verdict = "undetermined"
    elif p < alpha:
        verdict = "better" if mean < 0 else "worse"
    else:
        verdict = "indistinguishable"
    return Verdict(tuple(gaps), mean, std, p, verdict, missing)


def one_sample_t_p(values: Sequence[float]) -> float:
    """Two-sided p of Student's one-sample t-test of mean 0; nan for < 2 values or no spread.

    p = I_{df / (df + t^2)}(df / 2, 1 / 2), the regularised incomplete beta function (written here so that
    evaluation needs no scipy; tested against scipy.stats.ttest_1samp)."""
    n = len(values)
    if n < 2 or statistics.stdev(values) == 0:
        return math.nan
    t = statistics.fmean(values) / (statistics.stdev(values) / math.sqrt(n))
    df = n - 1
    return regularized_beta(df / (df + t * t), df / 2, 0.5)


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) for 0 <= x <= 1, a, b > 0, by its continued fraction (modified Lentz), to about 1e-14."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast below the mean; use the symmetry above it
        return 1.0 - regularized_beta(1.0 - x, b, a)
    log_front = (
        a * math.log(x) + b * math.log1p(-x) - math.log(a) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    )
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    frac = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            frac *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * frac
