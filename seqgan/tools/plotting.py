"""Draw a run's training curves (from RUN/metrics.jsonl) to a PNG (or the format of --out's extension: PDF, SVG,
...). Never prints.

The G axis counts MLE epochs first, then adversarial epochs offset by the number of MLE epochs
(D pre-training trains no G, so it takes no room there). The D axis counts D pre-training rounds,
then adversarial epochs offset by the number of pre-training rounds.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from seqgan.errors import UserError
from seqgan.extras import require
from seqgan.files import temporary_sibling

Event = dict[str, Any]
Series = tuple[list[float], list[float], float | None]


def _last_epoch(events: list[Event], phase: str) -> int:
    return max((int(e.get("epoch", 0)) for e in events if e.get("phase") == phase), default=0)


def _two_phase_series(events: list[Event], key: str, first: str, second: str) -> Series:
    """``key`` of phase ``first`` at its epochs, then of ``second`` at epoch + (last epoch of ``first``)."""
    offset = _last_epoch(events, first)
    xs: list[float] = []
    ys: list[float] = []
    for e in events:
        if not isinstance(e.get(key), (int, float)) or e.get("phase") not in (first, second):
            continue
        x = float(e.get("epoch", 0)) + (offset if e["phase"] == second else 0)
        xs.append(x)
        ys.append(float(e[key]))
    boundary = float(offset) if any(e.get("phase") == second for e in events) else None
    return xs, ys, boundary


def global_epoch_series(events: list[Event], key: str) -> Series:
    """(x, y, boundary) of ``key`` on the global G-epoch axis.

    MLE events sit at their epoch; adversarial events at epoch + (number of MLE epochs, the
    largest MLE epoch logged). D pre-training events are skipped. ``boundary`` is the x where
    adversarial training starts, or None while the log holds no adversarial event yet.
    """
    return _two_phase_series(events, key, "mle", "adversarial")


def d_round_series(events: list[Event], key: str) -> Series:
    """(x, y, boundary) of a D metric: pre-training rounds, then adversarial epochs after them."""
    return _two_phase_series(events, key, "d_pretrain", "adversarial")


def _phase_series(events: list[Event], key: str, phase: str) -> tuple[list[float], list[float]]:
    pts = [
        (float(e.get("epoch", 0)), float(e[key]))
        for e in events
        if e.get("phase") == phase and isinstance(e.get(key), (int, float))
    ]
    return [p[0] for p in pts], [p[1] for p in pts]


def _load_events(run: Path) -> list[Event]:
    if not run.is_dir():
        raise UserError(f"run directory {run} does not exist: give a directory written by `seqgan train`")
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise UserError(f"{run} has no metrics.jsonl: give a directory written by `seqgan train`")
    from seqgan.train.logbook import read_metrics

    def well_formed(e: object) -> bool:  # an edited or foreign line is left out, like a torn last line
        epoch = e.get("epoch", 0) if isinstance(e, dict) else None
        return (
            isinstance(e, dict)
            and isinstance(e.get("phase", ""), str)
            and type(epoch) in (int, float)
            and math.isfinite(epoch)
        )

    try:
        events = [e for e in read_metrics(path) if well_formed(e)]
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text: it is not the log that `seqgan train` writes") from None
    except OSError as exc:
        raise UserError(f"cannot read {path} ({exc.strerror}): check its permissions") from None
    if not events:
        raise UserError(f"{path} holds no events yet: train for at least one epoch, then plot again")
    return events


def _draw(
    ax: Any,
    series: list[tuple[str, list[float], list[float]]],
    boundary: float | None,
    title: str,
    xlabel: str,
    ylabel: str,
) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    drawn = False
    for label, xs, ys in series:
        if xs:
            ax.plot(xs, ys, marker="o", markersize=3, label=label)
            drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes, color="gray")
        return
    if boundary is not None:
        ax.axvline(boundary, color="gray", linestyle="--", linewidth=1, label="adversarial training starts")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the 2x2 curves of ``run_dir`` to ``out`` (default RUN/curves.png) in the format its extension names
    (png, pdf, svg, ...; none: png); return the path."""
    run = Path(run_dir)
    events = _load_events(run)
    target = Path(out) if out is not None else run / "curves.png"
    if target.is_dir():
        raise UserError(f"--out {target} is a directory: give a file name such as curves.png")
    if not target.parent.is_dir():
        raise UserError(f"the folder of {target} does not exist: create it first")

    matplotlib = require("matplotlib", "seqgan plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fmt = target.suffix[1:].lower() or "png"  # the file's extension says its format; none: PNG
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if fmt not in formats:
        raise UserError(
            f"--out {target}: matplotlib cannot write {target.suffix} files; give a name ending in one of "
            f"{', '.join('.' + f for f in sorted(formats))}"
        )
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    try:
        (a, b), (c, d) = axes
        g_series = [global_epoch_series(events, k) for k in ("eval/nll_oracle", "eval/nll_test")]
        boundary = next((s[2] for s in g_series if s[2] is not None), None)
        _draw(
            a,
            [("NLL_oracle", *g_series[0][:2]), ("NLL_test", *g_series[1][:2])],
            boundary,
            "(a) NLL (nats per token)",
            "G epoch (MLE, then adversarial)",
            "NLL",
        )
        _draw(
            b,
            [("g/mle_loss", *_phase_series(events, "g/mle_loss", "mle"))],
            None,
            "(b) MLE loss",
            "MLE epoch",
            "cross-entropy",
        )
        d_series = [(k.split("/")[1], *d_round_series(events, k)) for k in ("d/loss", "d/acc_real", "d/acc_fake")]
        d_boundary = next((s[3] for s in d_series if s[3] is not None), None)
        _draw(
            c,
            [s[:3] for s in d_series],
            d_boundary,
            "(c) discriminator",
            "D round (pre-training, then adversarial epochs)",
            "loss / accuracy",
        )
        rewards = [
            (k.split("/")[1], *_phase_series(events, k, "adversarial"))
            for k in ("g/reward_mean", "g/reward_first", "g/reward_last")
        ]
        _draw(d, rewards, None, "(d) roll-out rewards", "adversarial epoch", "reward (D's P(real))")
        collapse_x, _ = _phase_series(events, "warn/mode_collapse", "adversarial")
        if collapse_x:  # epochs where entropy or distinct bigrams fell below half their first value
            d.scatter(collapse_x, [0.0] * len(collapse_x), marker="x", color="red", label="mode-collapse warning")
            d.legend(fontsize=8)
        fig.suptitle(run.resolve().name or str(run))
        fig.tight_layout()
        tmp = temporary_sibling(target)
        try:
            fig.savefig(tmp, format=fmt, dpi=100)
            os.replace(tmp, target)
        except OSError as exc:
            raise UserError(f"cannot write {target} ({exc.strerror}): check the folder's permissions") from None
        finally:
            if tmp.exists():
                tmp.unlink()
    finally:
        plt.close(fig)
    return target
