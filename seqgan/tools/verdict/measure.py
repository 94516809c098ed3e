"""What a verdict measures: each system's metrics on the test split over a temperature sweep, once per system, and
the frontiers that fit the data.

The test split is read here only (training and model selection read the validation split). Every point is
``Run.evaluate`` at temperature 1 / alpha with the system's seed, so the samples of every alpha come from the same
random stream; points are stored one by one in ``measure.json`` beside the run, so an interrupted measurement
continues where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqgan.files import write_json
from seqgan.models.oracle_file import load_oracle_params
from seqgan.train.portable import load_run

MEASURE = "measure.json"
# Inverse temperatures of the sweeps (Caccia et al. 2020): the oracle's wide grid, and text's narrower one (BLEU at
# very high temperatures says nothing); the reverse LM score (one LM trained per point) at fewer points.
ALPHAS = {
    "oracle": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0),
    "text": (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0),
    "music": (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0),
}
REVERSE_ALPHAS = (0.8, 1.0, 1.25, 1.5)


@dataclass(frozen=True)
class Frontier:
    """Quality against diversity over the sweep; both axes turned lower-better (``sign`` -1: higher is better)."""

    name: str
    x: str  # the diversity metric
    y: str  # the quality metric
    sign: float  # y as measured times sign: lower-better
    gap_label: str
    x_label: str
    y_label: str
    lm: bool = False  # needs the LM scores

    def point(self, alpha: float, metrics: dict[str, Any]) -> tuple[float, float, float] | None:
        if self.x not in metrics or self.y not in metrics:
            return None
        return (alpha, float(metrics[self.x]), self.sign * float(metrics[self.y]))


NLL = Frontier(
    "NLL_oracle / NLL_test",
    "eval/nll_test",
    "eval/nll_oracle",
    1.0,
    "NLL_oracle gap at matched NLL_test",
    "NLL_test (diversity; lower is better)",
    "NLL_oracle (quality; lower is better)",
)
BLEU = Frontier(
    "BLEU-4 / Self-BLEU-4",
    "eval/self_bleu4",
    "eval/bleu4",
    -1.0,
    "-BLEU-4 gap at matched Self-BLEU-4",
    "Self-BLEU-4 (lower: more diverse)",
    "BLEU-4 against the test split (higher: better)",
)
LM = Frontier(
    "LM / reverse LM",
    "eval/reverse_lm_score",
    "eval/lm_score",
    1.0,
    "LM-score gap at matched reverse LM score",
    "reverse LM score (lower: covers more of the test set)",
    "LM score (lower: more typical)",
    lm=True,
)
MSE = Frontier(
    "MSE / Self-BLEU-4",
    "eval/self_bleu4",
    "eval/mse",
    1.0,
    "MSE gap at matched Self-BLEU-4",
    "Self-BLEU-4 (lower: more diverse)",
    "MSE to the nearest test window (semitones^2; lower is better)",
)
FRONTIERS = {"oracle": (NLL,), "text": (BLEU, LM), "music": (BLEU, MSE, LM)}
# The per-system table at temperature 1: (key, column title).
COLUMNS = {
    "oracle": [("eval/nll_oracle", "NLL_oracle"), ("eval/nll_test", "NLL_test"), ("eval/entropy", "entropy")],
    "text": [
        *[(f"eval/bleu{n}", f"BLEU-{n}") for n in (2, 3, 4, 5)],
        *[(f"eval/self_bleu{n}", f"Self-BLEU-{n}") for n in (2, 3, 4, 5)],
        ("eval/nll_test", "NLL_test"),
        ("eval/lm_score", "LM score"),
        ("eval/reverse_lm_score", "reverse LM score"),
        ("eval/entropy", "entropy"),
    ],
    "music": [
        ("eval/bleu4", "BLEU-4"),
        ("eval/mse", "MSE"),
        ("eval/nll_test", "NLL_test"),
        ("eval/self_bleu4", "Self-BLEU-4"),
        ("eval/distinct2", "distinct-2"),
        ("eval/lm_score", "LM score"),
        ("eval/reverse_lm_score", "reverse LM score"),
        ("eval/entropy", "entropy"),
    ],
}
LABEL_COLUMNS = [("eval/label_acc", "label accuracy"), ("eval/label_acc_real", "judge on real test rows")]


def frontiers(kind: str, lm: bool) -> tuple[Frontier, ...]:
    return tuple(f for f in FRONTIERS[kind] if lm or not f.lm)


def measure(
    run: Path,
    out: Path,
    checkpoint: str,
    seed: int,
    num_samples: int,
    alphas: tuple[float, ...],
    lm: bool,
    lm_cache: Path,
    say: Callable[[str], None] | None = None,
    resample: int = 0,
) -> dict[str, Any]:
    """Every point of a system's sweep on the test split, kept in ``out``/measure.json point by point; a point
    already there is not measured again. ``run``/``checkpoint``: the run and checkpoint to reopen (the
    early-stopped MLE: the SeqGAN run at ``pretrained``). ``say`` hears of every point measured. ``resample`` K:
    samples chosen among K candidates by D's odds, the NLL the residual model's (the ``drs`` system)."""
    path = out / MEASURE
    result: dict[str, Any] = (
        json.loads(path.read_text())
        if path.is_file()
        else {"checkpoint": checkpoint, "seed": seed, "num_samples": num_samples, "points": {}}
    )
    if result.get("num_samples") != num_samples:  # another --num-samples: the old points do not compare
        result = {"checkpoint": checkpoint, "seed": seed, "num_samples": num_samples, "points": {}}
    r = None
    for alpha in alphas:
        key = f"{alpha:g}"
        reverse = lm and alpha in REVERSE_ALPHAS
        have = result["points"].get(key, {})
        if have and (not lm or "eval/lm_score" in have) and (not reverse or "eval/reverse_lm_score" in have):
            continue
        r = r or load_run(run, checkpoint)
        t0 = time.perf_counter()
        metrics = r.evaluate(
            num_samples, seed, 1.0 / alpha, "test", lm=lm, reverse_lm=reverse, lm_cache=lm_cache, resample=resample
        )
        metrics.pop("lm", None)  # the LM's settings: recorded once, in the verdict
        result["points"][key] = {"alpha": alpha, **metrics, "time_s": round(time.perf_counter() - t0, 2)}
        out.mkdir(parents=True, exist_ok=True)
        write_json(path, result)
        if say is not None:
            say(f"[{time.strftime('%H:%M:%S')}] measured {out.name} at alpha {key} ({time.perf_counter() - t0:.0f} s)")
    return result


def measured(out: Path, alphas: tuple[float, ...], lm: bool, num_samples: int) -> bool:
    """Whether ``out``/measure.json holds every point asked for."""
    path = out / MEASURE
    if not path.is_file():
        return False
    result = json.loads(path.read_text())
    if result.get("num_samples") != num_samples:
        return False
    for alpha in alphas:
        have = result["points"].get(f"{alpha:g}")
        if not have or (lm and "eval/lm_score" not in have):
            return False
        if lm and alpha in REVERSE_ALPHAS and "eval/reverse_lm_score" not in have:
            return False
    return True


def data_identity(run: Path) -> str:
    """What the runs of one verdict must share: the oracle (its parameters) on the synthetic task, the prepared
    splits on data (a short hash)."""
    h = hashlib.sha256()
    oracle = run / "oracle.npz"
    if oracle.is_file():
        params = load_oracle_params(oracle)
        for name in sorted(params):
            h.update(name.encode())
            h.update(params[name].tobytes())
        return "oracle-" + h.hexdigest()[:16]
    data = torch.load(run / "data.pt", map_location="cpu", weights_only=True)
    for name in ("train", "valid", "test"):
        h.update(name.encode())
        h.update(data.get(name, data["test"][:0]).contiguous().numpy().tobytes())
    return "data-" + h.hexdigest()[:16]
