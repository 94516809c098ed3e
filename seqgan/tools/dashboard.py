"""``seqgan tensorboard``: old runs into TensorBoard's event files (every event of metrics.jsonl, every samples
file), written to RUN/tensorboard/ or LOGDIR/RUN_NAME/; a new conversion replaces the event files of the last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqgan.errors import UserError
from seqgan.train.logbook import TENSORBOARD_DIR, TensorBoardMirror, read_metrics
from seqgan.train.rundir import METRICS, is_run

EVENT_FILES = "events.out.tfevents.*"


def convert_runs(runs: list[str | Path], logdir: str | Path | None = None) -> dict[str, Any]:
    """Write each run's log into event files; returns {"runs": [{run, dir, events, scalars, samples}], "view": the
    command that shows them}.
    Every run is checked before anything is written."""
    paths = [Path(r) for r in runs]
    for run in paths:
        if not is_run(run) or not (run / METRICS).is_file():
            raise UserError(
                f"{run} is not a run directory with a {METRICS}: give directories written by `seqgan train`"
            )
    names = [run.resolve().name for run in paths]
    if logdir is not None and len(set(names)) < len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise UserError(f"two runs are named {twice!r}: with --logdir every run needs its own folder name")
    if logdir is not None and not Path(logdir).parent.is_dir():
        raise UserError(f"the folder of --logdir {logdir} does not exist: create it first")
    done = []
    for run, name in zip(paths, names, strict=True):
        target = run / TENSORBOARD_DIR if logdir is None else Path(logdir) / name
        for old in target.glob(EVENT_FILES) if target.is_dir() else ():
            old.unlink()
        mirror = TensorBoardMirror(run, target)
        events = read_metrics(run / METRICS)
        for event in events:
            mirror.add_event(event)
        mirror.add_samples()
        mirror.close()
        done.append(
            {
                "run": str(run),
                "dir": str(target),
                "events": len(events),
                "scalars": mirror.scalars,
                "samples": mirror.texts,
            }
        )
    if logdir is not None or len(done) == 1:
        view = f"tensorboard --logdir {logdir if logdir is not None else done[0]['dir']}"
    else:  # several runs, each in its own folder: TensorBoard names them with --logdir_spec
        view = "tensorboard --logdir_spec " + ",".join(f"{n}:{d['dir']}" for n, d in zip(names, done, strict=True))
    return {"runs": done, "view": view}
