"""The metrics log of a run (``metrics.jsonl``, one JSON object per event) and what watches it: the NaN guard,
the stop signals, the mode-collapse monitor and the TensorBoard mirror."""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from torch import Tensor, nn
from tqdm import tqdm

from seqgan.data.decode import strip_special
from seqgan.errors import TrainingError
from seqgan.eval.metrics import distinct_n
from seqgan.files import parse_json
from seqgan.train import distributed


class MetricsLog:
    """Append-only ``metrics.jsonl``: one JSON object per event, flushed at once.

    The byte size after the last event is stored in every checkpoint; on resume the file is
    cut back to it, so events of work that is repeated after a crash are not logged twice.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.touch(exist_ok=True)
        self._board: TensorBoardMirror | None = None

    def truncate(self, size: int) -> None:
        with open(self.path, "r+b") as f:
            f.truncate(size)

    def size(self) -> int:
        return self.path.stat().st_size

    def log(self, event: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event, sort_keys=False) + "\n")
            f.flush()
        if os.environ.get(TENSORBOARD_ENV) == "1":  # `seqgan train --tensorboard`: mirror it live
            if self._board is None:
                self._board = TensorBoardMirror(self.path.parent, live=True)
                atexit.register(self._board.finish)  # the last evaluation's samples come after the last event
            self._board.add_samples()  # an evaluation writes its samples after its event: they come one event late
            self._board.add_event(event)
            self._board.flush()


TENSORBOARD_ENV = "SEQGAN_TENSORBOARD"  # "1": every MetricsLog mirrors its events into RUN/tensorboard/
TENSORBOARD_DIR = "tensorboard"


class TensorBoardMirror:
    """A run's log in TensorBoard's event files (the ``[tensorboard]`` extra): every number of every event as a
    scalar, the samples of every evaluation as text.

    Steps follow ``seqgan plot``'s G axis: MLE epochs, then adversarial epochs after the last MLE epoch; events of
    D pre-training (which trains no G) go under ``d_pretrain/KEY`` at their round. Lists (rewards by position) are
    left out. ``live``: the run is training; samples already on disk and the last MLE epoch logged so far are
    taken as the past (nothing of it is written again)."""

    def __init__(self, run_dir: Path, logdir: Path | None = None, live: bool = False) -> None:
        from seqgan.extras import require

        require("tensorboard", "TensorBoard logging (seqgan tensorboard, seqgan train --tensorboard)")
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir, self.logdir = run_dir, logdir or run_dir / TENSORBOARD_DIR
        self.writer = SummaryWriter(log_dir=str(self.logdir))
        self.samples_done: set[str] = set()
        self.last_mle, self.scalars, self.texts = 0, 0, 0
        if live:
            self.samples_done = {p.name for p in (run_dir / "samples").glob("*.txt")}
            self.last_mle = max((e["epoch"] for e in read_metrics(run_dir / "metrics.jsonl") if _is_mle(e)), default=0)

    def step(self, phase: str, epoch: int) -> tuple[str, int]:
        """(tag prefix, step) of an event of ``phase`` at ``epoch``."""
        if phase == "d_pretrain":
            return "d_pretrain/", epoch
        if phase == "mle":
            self.last_mle = max(self.last_mle, epoch)
            return "", epoch
        return "", self.last_mle + epoch

    def add_event(self, event: dict[str, Any]) -> None:
        epoch = event.get("epoch")
        if not isinstance(epoch, int):
            return
        prefix, step = self.step(str(event.get("phase")), epoch)
        for key, value in event.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if key not in ("phase", "epoch") and number and math.isfinite(value):
                self.writer.add_scalar(prefix + key, value, step)
                self.scalars += 1

    def add_samples(self) -> None:
        """The samples files (samples/PHASE-EPOCH.txt) not written yet, as text at their step."""
        for path in sorted((self.run_dir / "samples").glob("*.txt")):
            phase, _, epoch = path.stem.rpartition("-")
            if path.name in self.samples_done or not epoch.isdigit():
                continue
            self.samples_done.add(path.name)
            prefix, step = self.step(phase, int(epoch))
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            # Markdown: a code block keeps the samples' own spacing and marks.
            self.writer.add_text(f"{prefix}samples/{phase}", "\n".join("    " + ln for ln in lines), step)
            self.texts += 1

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def finish(self) -> None:
        """The samples written since the last event, then close."""
        self.add_samples()
        self.close()


def _is_mle(event: dict[str, Any]) -> bool:
    return event.get("phase") == "mle" and isinstance(event.get("epoch"), int)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Events of a metrics.jsonl; a torn last line (a crash mid-write), or any line that is not JSON, is ignored."""
    events = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                events.append(parse_json(line))
            except ValueError:  # malformed or nested too deeply: skipped like a torn line
                continue
    return events


def policy_gradient_stats(
    tokens: Tensor, rewards: Tensor, entropy: Tensor, mask: Tensor, eos_token: int | None
) -> dict[str, Any]:
    """What a policy-gradient step logs about its batch: tokens (B, T), rewards Q (B, T), the policy's entropy at
    each step (B, T) and the real positions (B, T): Q by position (mean and spread over the sequences still running
    there), its overall mean, spread, first and last column, the entropy per real token and distinct bigrams."""
    real = mask.to(rewards.dtype)
    count = real.sum(dim=0).clamp(min=1.0)
    pos_mean = (rewards * real).sum(dim=0) / count  # (T,)
    pos_std = (((rewards - pos_mean) ** 2 * real).sum(dim=0) / count).sqrt()
    return {
        "g/reward_by_pos": [round(v, 6) for v in pos_mean.tolist()],
        "g/reward_std_by_pos": [round(v, 6) for v in pos_std.tolist()],
        "g/entropy": float((entropy * mask).sum() / mask.sum()),
        "g/distinct2": distinct_n(strip_special(tokens.cpu(), eos_token), 2),
        "g/reward_mean": float(rewards.mean()),
        "g/reward_std": float(rewards.std()),
        "g/reward_first": float(rewards[:, 0].mean()),
        "g/reward_last": float(rewards[:, -1].mean()),
    }


def check_finite(event: dict[str, Any], checkpoints: Path) -> None:
    """The NaN guard: a NaN or infinite number in ``event`` stops the run (TrainingError) before it is logged or
    anything of its epoch is saved, so the last checkpoint in ``checkpoints`` is the last good state. Events hold
    global numbers, the same on every rank, so all ranks stop here together."""
    bad = [k for k, v in event.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise distributed.mirrored(
            TrainingError(
                f"{bad[0]} is {event[bad[0]]} in phase {event['phase']}, epoch {event['epoch']}: training stopped and "
                f"the last good checkpoint in {checkpoints} is kept; lower the learning rate "
                "(--set pretrain.g_lr=... / adversarial.g_lr=...) and resume"
            )
        )


class StopSignals:
    """While entered, SIGINT and SIGTERM only record themselves (``received``): the trainer finishes its epoch,
    saves a checkpoint and stops. Outside the main thread (where handlers cannot be installed) it does nothing."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._record) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def _record(self, signum: int, frame: object) -> None:
        self.received = signum


class CollapseMonitor:
    """Flags mode collapse: policy entropy or distinct bigrams below half their value at the first adversarial
    epoch. Adds ``warn/mode_collapse`` = 1 to the event (metrics.jsonl, plot) and warns once per process."""

    KEYS = ("g/entropy", "g/distinct2")

    def __init__(self, reference: dict[str, float] | None = None, speak: bool = True) -> None:
        self.reference = reference  # the first adversarial epoch's values (kept in checkpoints)
        self.speak = speak  # several processes see the same numbers: one of them warns
        self._warned = False

    def check(self, event: dict[str, Any]) -> None:
        if not all(k in event for k in self.KEYS):
            return
        if self.reference is None:
            self.reference = {k: event[k] for k in self.KEYS}
        fallen = [k for k in self.KEYS if event[k] < 0.5 * self.reference[k]]
        if not fallen:
            return
        event["warn/mode_collapse"] = 1.0
        if self.speak and not self._warned:
            self._warned = True
            logging.getLogger("seqgan").warning(
                "possible mode collapse at adversarial epoch %d: %s fell below half of its first value (%s); "
                "consider fewer adversarial epochs, a weaker D or reward_baseline=mean",
                event["epoch"],
                fallen[0],
                f"{self.reference[fallen[0]]:.3f} -> {event[fallen[0]]:.3f}",
            )


def mean_over_steps(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of several steps' statistics, key by key (per position for list values)."""
    out: dict[str, Any] = {}
    for key in stats[0] if stats else {}:
        values = [s[key] for s in stats]
        out[key] = (
            [sum(v) / len(v) for v in zip(*values, strict=True)]
            if isinstance(values[0], list)
            else sum(values) / len(values)
        )
    return out


class EarlyStopping:
    """MLE early stopping: remembers the best validation NLL, its epoch and G's weights then (``best``, a plain dict
    that checkpoints hold); :meth:`update` says when ``patience`` evaluations in a row brought nothing better."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best: dict[str, Any] | None = None  # {"epoch", "value", "bad", "generator": state dict}

    def update(self, epoch: int, value: float | None, model: nn.Module) -> bool:
        """Record the evaluation of ``epoch``; True when MLE should stop (never with patience 0 or no value)."""
        if self.patience <= 0 or value is None:
            return False
        if self.best is None or value < self.best["value"]:
            weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
            self.best = {"epoch": epoch, "value": value, "bad": 0, "generator": weights}
            return False
        self.best["bad"] += 1
        return self.best["bad"] >= self.patience


class BestTracker:
    """Which evaluation was the best so far by ``metric`` (``value``, kept in checkpoints); ``pending`` until the
    trainer has saved that state as best.pt."""

    def __init__(self, metric: str, higher_is_better: bool) -> None:
        self.metric, self.higher_is_better = metric, higher_is_better
        self.value: float | None = None
        self.pending = False

    def update(self, metrics: dict[str, float]) -> None:
        value = metrics.get(self.metric)
        if value is None:
            return
        if self.value is None or (value > self.value if self.higher_is_better else value < self.value):
            self.value, self.pending = value, True


def progress_bar(total: int, initial: int, desc: str, show: bool) -> tqdm:
    """A bar over a phase's epochs on stderr (hidden when ``show`` is False or stderr is not a terminal)."""
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="ep",
        leave=False,
        file=sys.stderr,
        disable=None if show else True,
        dynamic_ncols=True,
    )
