"""Quality-diversity frontiers: the trade-off branch, matched-diversity gaps and the verdict, by hand."""

from __future__ import annotations

import math

import pytest

from seqgan.eval.frontier import compare, interpolate, matched_gap, one_sample_t_p, tradeoff_branch


def _line(intercept: float, xs: list[float], alphas: list[float] | None = None) -> list[tuple[float, float, float]]:
    """Points of y = intercept - x (both lower-better: more diversity costs quality), alpha rising with x."""
    alphas = alphas or [1.0 + i for i in range(len(xs))]
    return [(a, x, intercept - x) for a, x in zip(alphas, xs, strict=True)]


def test_tradeoff_branch_drops_the_points_below_the_least_diverse_alpha() -> None:
    # alpha 0.5 and 0.8 are flatter than the model: worse on both axes than alpha 1 (x 2.0, y 5.0)
    points = [(0.5, 3.0, 7.0), (0.8, 2.5, 6.0), (1.0, 2.0, 5.0), (1.5, 2.6, 4.0), (2.0, 3.5, 3.5)]
    assert tradeoff_branch(points) == [(2.0, 5.0), (2.6, 4.0), (3.5, 3.5)]
    assert tradeoff_branch(list(reversed(points))) == [(2.0, 5.0), (2.6, 4.0), (3.5, 3.5)]  # order of input
    assert tradeoff_branch([]) == []


def test_interpolate_by_hand() -> None:
    curve = [(1.0, 4.0), (2.0, 2.0), (4.0, 3.0)]
    assert interpolate(curve, 1.5) == 3.0 and interpolate(curve, 3.0) == 2.5 and interpolate(curve, 4.0) == 3.0
    assert interpolate(curve, 0.9) is None and interpolate(curve, 4.1) is None


def test_matched_gap_over_the_shared_range_only() -> None:
    a = _line(10.0, [1.0, 2.0, 3.0])  # y = 10 - x on [1, 3]
    b = _line(11.0, [2.0, 3.0, 4.0])  # y = 11 - x on [2, 4]: one nat worse everywhere they overlap ([2, 3])
    assert matched_gap(a, b) == pytest.approx(-1.0) and matched_gap(b, a) == pytest.approx(1.0)
    assert matched_gap(a, _line(0.0, [5.0, 6.0])) is None  # no shared diversity
    # a crossing: y_a - y_b = (10 - x) - (2x - 2) = 12 - 3x over [2, 4] averages 12 - 9 = 3
    crossing = [(1.0, 2.0, 2.0), (2.0, 4.0, 6.0)]
    assert matched_gap(_line(10.0, [2.0, 4.0]), crossing) == pytest.approx(3.0)


def test_one_sample_t_p_by_hand() -> None:
    # df = 2 has a closed form: p = 1 - |t| / sqrt(2 + t^2)
    values = [-1.0, -1.1, -0.9]
    t = -1.0 / (0.1 / math.sqrt(3))
    assert one_sample_t_p(values) == pytest.approx(1 - abs(t) / math.sqrt(2 + t * t), rel=1e-9)
    assert math.isnan(one_sample_t_p([1.0])) and math.isnan(one_sample_t_p([2.0, 2.0]))


def test_compare_verdicts() -> None:
    base = [_line(11.0, [2.0, 3.0, 4.0])] * 3
    better = [_line(11.0 - d, [2.0, 3.0, 4.0]) for d in (1.0, 1.1, 0.9)]
    v = compare(better, base)
    assert v.verdict == "better" and v.mean == pytest.approx(-1.0) and len(v.gaps) == 3 and v.p < 0.01
    assert compare(base, better).verdict == "worse"
    noisy = [_line(11.0 + d, [2.0, 3.0, 4.0]) for d in (0.3, -0.4, 0.05)]
    assert compare(noisy, base).verdict == "indistinguishable"
    apart = [_line(0.0, [7.0, 8.0])] * 3
    v = compare(apart, base)
    assert v.verdict == "undetermined" and v.seeds_without_overlap == 3 and math.isnan(v.mean)
    assert compare(better[:1], base[:1]).verdict == "undetermined"  # one seed: no test
    same = compare(base, base)  # a system against itself: zero gaps on every seed
    assert same.verdict == "indistinguishable" and same.p == 1.0 and same.gaps == (0.0, 0.0, 0.0)
    shifted = [_line(12.0, [2.0, 3.0, 4.0])] * 3  # the same nonzero gap on every seed: no spread, no test
    assert compare(shifted, base).verdict == "undetermined"


def test_t_test_equals_scipy_without_needing_it() -> None:
    stats = pytest.importorskip("scipy.stats")
    import random

    rng = random.Random(0)
    for _ in range(300):
        n = rng.randint(2, 12)
        values = [rng.gauss(rng.uniform(-2, 2), rng.uniform(0.01, 3)) for _ in range(n)]
        assert one_sample_t_p(values) == pytest.approx(float(stats.ttest_1samp(values, 0.0).pvalue), rel=1e-9)


def test_matched_gap_where_the_grid_rounds_past_the_shared_range() -> None:
    """lo + (hi - lo) rounds an ulp above hi for these ends (found on COCO's Self-BLEU axis): the last grid point
    must still fall inside both curves, and the gap is the constant offset between them."""
    from seqgan.eval.frontier import matched_gap

    lo, hi = 0.022782575668658378, 0.42561883196681716
    assert lo + (hi - lo) * 49 / 49 > hi  # the rounding this test is about
    a = [(1.0, lo, 1.0), (2.0, hi, 0.5)]
    b = [(1.0, lo - 0.01, 1.2), (2.0, hi, 0.7)]  # b's branch reaches further left; both end at hi
    gap = matched_gap(a, b)
    assert gap is not None and gap < 0
