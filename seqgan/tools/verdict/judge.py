"""The verdicts, from the measurements alone: every comparison's per-seed gap at matched diversity on each frontier,
its t-test and the verdict (better / worse / indistinguishable), and for labelled data the paired per-seed
differences in label accuracy. The result is ``verdict.json``'s content: every number the report uses.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

from seqgan.eval.frontier import compare, one_sample_t_p
from seqgan.tools.verdict.measure import Frontier

FORMAT, VERSION = "seqgan-verdict", 1


def sweep(points: dict[str, dict[str, dict[str, Any]]], name: str, frontier: Frontier) -> dict[str, list]:
    """Per seed (a string, as in JSON), a system's points on one frontier as (alpha, diversity, quality); seeds with
    fewer than two points are left out (no curve)."""
    out = {}
    for seed, by_alpha in points.get(name, {}).items():
        pts = [frontier.point(p["alpha"], p) for p in by_alpha.values()]
        pts = sorted(p for p in pts if p is not None)
        if len(pts) >= 2:
            out[seed] = pts
    return out


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def frontier_verdicts(
    points: dict[str, Any], frontier: Frontier, comparisons: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    rows = []
    for a, b in comparisons:
        pa, pb = sweep(points, a, frontier), sweep(points, b, frontier)
        seeds = sorted(set(pa) & set(pb), key=int)
        if not seeds:
            continue
        v = compare([pa[s] for s in seeds], [pb[s] for s in seeds])
        rows.append(
            {
                "a": a,
                "b": b,
                "seeds": [int(s) for s in seeds],
                "gaps": list(v.gaps),
                "mean": _num(v.mean),
                "std": _num(v.std),
                "p": _num(v.p),
                "verdict": v.verdict,
                "seeds_without_overlap": v.seeds_without_overlap,
            }
        )
    return rows


def at_one(points: dict[str, Any], name: str, key: str) -> dict[str, float]:
    """Per seed, a system's ``key`` at temperature 1."""
    return {s: p["1"][key] for s, p in points.get(name, {}).items() if key in p.get("1", {})}


def paired(points: dict[str, Any], a: str, b: str, key: str, higher_better: bool) -> dict[str, Any] | None:
    """Per-seed differences a - b of ``key`` at temperature 1, their t-test and the verdict on a."""
    va, vb = at_one(points, a, key), at_one(points, b, key)
    seeds = sorted(set(va) & set(vb), key=int)
    if not seeds:
        return None
    gaps = [va[s] - vb[s] for s in seeds]
    p = one_sample_t_p(gaps)
    if len(gaps) > 1 and all(g == 0 for g in gaps):
        p, verdict = 1.0, "indistinguishable"
    elif math.isnan(p):
        verdict = "undetermined"
    elif p < 0.05:
        verdict = "better" if (statistics.fmean(gaps) > 0) == higher_better else "worse"
    else:
        verdict = "indistinguishable"
    return {
        "a": a,
        "b": b,
        "key": key,
        "seeds": [int(s) for s in seeds],
        "gaps": gaps,
        "mean": statistics.fmean(gaps),
        "p": _num(p),
        "verdict": verdict,
    }


def judge(
    points: dict[str, Any],
    frontiers: tuple[Frontier, ...],
    comparisons: list[tuple[str, str]],
    labelled: bool,
    pair_points: Callable[[str, str], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The verdicts of every comparison on every frontier (and on label accuracy for labelled data).
    ``pair_points(a, b)``, where given, supplies the points of a comparison instead of ``points`` (a merge of several
    folders pairs each seed's systems within one folder)."""
    of = pair_points or (lambda a, b: points)
    out: dict[str, Any] = {
        "frontiers": [
            {
                "name": f.name,
                "x": f.x,
                "y": f.y,
                "sign": f.sign,
                "gap_label": f.gap_label,
                "x_label": f.x_label,
                "y_label": f.y_label,
                "comparisons": [r for a, b in comparisons for r in frontier_verdicts(of(a, b), f, [(a, b)])],
            }
            for f in frontiers
        ]
    }
    if labelled:
        rows = [paired(of(a, b), a, b, "eval/label_acc", higher_better=True) for a, b in comparisons]
        out["label_accuracy"] = [r for r in rows if r is not None]
    return out
