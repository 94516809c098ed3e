"""Training and measuring a verdict's runs: resumable jobs, several at once in processes of one thread each, the
budget estimate before they start and the progress with an ETA across all of them.

A job is one system of one seed: train its run (skipped when done, resumed from its last checkpoint when
interrupted), then measure it (point by point, also resumable). A seed's SeqGAN run comes first and its forks are
queued only when it is done, so no worker waits while the run it needs is still queued.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from seqgan.config import SeqGANConfig, get_value
from seqgan.errors import Interrupted, UserError
from seqgan.tools.verdict.measure import measure, measured
from seqgan.tools.verdict.report import clock
from seqgan.train.checkpoint import latest_checkpoint
from seqgan.train.logbook import read_metrics
from seqgan.train.setup import D_PRETRAINING
from seqgan.train.trainer import SeqGANTrainer

LOG = logging.getLogger("seqgan")  # progress, where the caller passes no `say`


@dataclass
class Job:
    """One system of one seed. ``measures``: (where its measure.json goes, the run to reopen, the checkpoint, the
    number of candidates D resamples among, 0: none)."""

    seed: int
    name: str
    run: Path
    config: dict[str, Any]
    source: Path | None  # the SeqGAN run a fork starts from; None: trained from scratch
    measures: list[tuple[Path, Path, str, int]] = field(default_factory=list)
    estimate_s: float = 0.0


@dataclass(frozen=True)
class Measuring:
    """How every system is measured (the same for all)."""

    num_samples: int
    alphas: tuple[float, ...]
    lm: bool
    lm_cache: Path


def phase(run: Path) -> str | None:
    """Where a run stands: None (not started), "new" (no checkpoint yet) or its latest checkpoint's phase."""
    if not (run / "config.json").is_file():
        return None
    ckpt = latest_checkpoint(run / "checkpoints")
    return "new" if ckpt is None else ckpt["state"]["phase"]


def is_done(job: Job, how: Measuring) -> bool:
    return phase(job.run) == "done" and all(
        measured(out, how.alphas, how.lm, how.num_samples) for out, *_ in job.measures
    )


def work(job: Job, how: Measuring, threads: int | None, log: Path) -> dict[str, Any]:
    """Train and measure one job (in this process or a worker's); returns the seconds each took and whether it
    trained. Its output goes to ``log``."""
    if threads is not None:
        torch.set_num_threads(threads)
    log.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"trained": False, "train_s": 0.0, "measure_s": 0.0}
    with open(log, "a", encoding="utf-8") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        state = phase(job.run)
        if state != "done":
            t0 = time.perf_counter()
            if state is not None:
                trainer = SeqGANTrainer.resume(job.run)
                trainer.cfg.run.progress = False
            else:
                cfg = SeqGANConfig.from_dict(job.config)
                cfg.run.progress = False
                command = f"seqgan verdict (system {job.name}, seed {job.seed})"
                if job.source is None:
                    trainer = SeqGANTrainer(cfg, job.run, command=command)
                else:
                    trainer = SeqGANTrainer.fork(job.source, cfg, job.run, command=command)
            try:
                trainer.fit()
            finally:
                trainer.close()
            out.update(trained=True, train_s=round(time.perf_counter() - t0, 1))
        t0 = time.perf_counter()
        for where, run, checkpoint, resample in job.measures:
            measure(
                run,
                where,
                checkpoint,
                job.seed,
                how.num_samples,
                how.alphas,
                how.lm,
                how.lm_cache,
                _writer(f),
                resample=resample,
            )
        out["measure_s"] = round(time.perf_counter() - t0, 1)
    return out


def _writer(f: Any) -> Callable[[str], None]:
    def write(line: str) -> None:
        f.write(line + "\n")
        f.flush()

    return write


def run_all(
    jobs: list[Job],
    how: Measuring,
    workers: int,
    logs: Path,
    on_done: Callable[[Job, dict[str, Any]], None],
    say: Callable[[str], None] = LOG.info,
) -> None:
    """Every job not done yet: SeqGAN runs first, each fork once its source is done; ``workers`` processes of one
    thread each (one: in this process, with its threads). ``on_done`` hears of every finished job. Raises
    :class:`Interrupted` on Ctrl-C (runs keep their checkpoints) and a one-line error naming failed jobs."""
    pending = [j for j in jobs if not is_done(j, how)]
    sources = {j.seed for j in pending if j.source is None}
    ready = [j for j in pending if j.source is None or j.seed not in sources]
    waiting = [j for j in pending if j not in ready]
    failed: list[str] = []

    def log_of(job: Job) -> Path:
        return logs / f"seed{job.seed}_{job.name}.log"

    def started(job: Job) -> None:
        say(f"[{time.strftime('%H:%M:%S')}] seed {job.seed} {job.name}: started (its output: {log_of(job)})")

    if workers <= 1:
        while ready:
            job = ready.pop(0)
            started(job)
            on_done(job, work(job, how, None, log_of(job)))
            ready += [j for j in waiting if j.seed == job.seed]
            waiting = [j for j in waiting if j.seed != job.seed]
        return
    context = multiprocessing.get_context("spawn")
    running: dict[Future, Job] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        while ready or running:
            while ready and len(running) < workers:
                job = ready.pop(0)
                started(job)
                running[pool.submit(work, job, how, 1, log_of(job))] = job
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                try:
                    result = future.result()
                except Exception as e:  # noqa: BLE001 - a failed job is named; the others go on
                    failed.append(f"seed {job.seed} {job.name} ({type(e).__name__}: {str(e)[:200]})")
                    waiting = [j for j in waiting if j.seed != job.seed or job.source is not None]
                    continue
                on_done(job, result)
                if job.source is None:
                    ready += [j for j in waiting if j.seed == job.seed]
                    waiting = [j for j in waiting if j.seed != job.seed]
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)  # the workers save their checkpoints on the same signal
        raise Interrupted("the runs keep their checkpoints: run the same command again to continue") from None
    pool.shutdown(wait=True)
    if failed:
        raise UserError(
            f"{len(failed)} job(s) failed: {'; '.join(failed)}; see {logs}/ and run the same command again to "
            "continue (finished runs are kept)"
        )


# ------------------------------------------------------------------ the budget
def probe(base: SeqGANConfig, where: Path, threads: int | None) -> dict[str, float]:
    """Seconds of one MLE epoch, one D pre-training round and one adversarial epoch of ``base`` on this machine,
    measured on a short run in ``where`` (removed after)."""
    cfg = copy.deepcopy(base)
    pre = cfg.pretrain  # one of each phase the runs have (a phase they skip is not timed)
    pre.g_epochs, pre.patience, pre.d_steps = min(1, pre.g_epochs), 0, min(1, pre.d_steps)
    cfg.adversarial.epochs = min(1, cfg.adversarial.epochs)
    cfg.eval.num_samples, cfg.eval.every, cfg.eval.num_saved_samples = 64, 1000, 1
    cfg.run.progress = False
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    shutil.rmtree(where, ignore_errors=True)
    try:
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
            trainer = SeqGANTrainer(cfg, where, command="seqgan verdict (budget probe)")
            try:
                trainer.fit()
            finally:
                trainer.close()
        events = read_metrics(where / "metrics.jsonl")
    finally:
        torch.set_num_threads(before)
        shutil.rmtree(where, ignore_errors=True)

    def seconds(ph: str) -> float:
        times = [e["time/epoch_s"] for e in events if e.get("phase") == ph and "time/epoch_s" in e]
        return float(times[0]) if times else 0.0

    return {"mle_epoch_s": seconds("mle"), "d_round_s": seconds("d_pretrain"), "adv_epoch_s": seconds("adversarial")}


def pretrains_own_d(cfg: SeqGANConfig, seqgan: SeqGANConfig) -> bool:
    """Whether a fork with ``cfg`` of the SeqGAN run ``seqgan`` pre-trains its own D (from the end of MLE)."""
    return any(get_value(cfg, key) != get_value(seqgan, key) for key in D_PRETRAINING)


def run_seconds(cfg: SeqGANConfig, times: dict[str, float], from_scratch: bool, own_d: bool = False) -> float:
    """At most how long a run trains: runs x epochs x the probe's epoch times (early stopping can end MLE sooner).
    ``own_d``: a fork that pre-trains its own D (another D architecture or pre-training) pays those D rounds too."""
    adv = cfg.adversarial
    per_epoch = times["mle_epoch_s"] if adv.mode in ("mle", "ss") else times["adv_epoch_s"]
    total = adv.epochs * per_epoch
    if from_scratch:
        total += cfg.pretrain.g_epochs * times["mle_epoch_s"]
    if from_scratch or own_d:
        total += cfg.pretrain.d_steps * times["d_round_s"]
    return total


class Progress:
    """Jobs done out of all, elapsed time and an ETA: the remaining jobs' training estimates scaled by how the
    finished ones compared with theirs, plus their measurements at the mean time of those done so far, divided
    among the workers."""

    def __init__(self, jobs: list[Job], done: list[Job], workers: int, say: Callable[[str], None]) -> None:
        self.total, self.done = len(jobs), len(done)
        self.left = {(j.seed, j.name): (j.estimate_s, len(j.measures)) for j in jobs if j not in done}
        self.spent, self.estimated, self.measure_s, self.measured = 0.0, 0.0, 0.0, 0
        self.workers, self.say, self.t0 = max(1, workers), say, time.perf_counter()

    def finished(self, job: Job, result: dict[str, Any]) -> None:
        self.done += 1
        est, measures = self.left.pop((job.seed, job.name), (0.0, 0))
        if result["trained"]:
            self.spent += result["train_s"]
            self.estimated += est
        self.measure_s += result["measure_s"]
        self.measured += measures
        ratio = self.spent / self.estimated if self.estimated > 0 else 1.0
        per_measure = self.measure_s / self.measured if self.measured else 0.0
        eta = sum(e * ratio + m * per_measure for e, m in self.left.values()) / self.workers
        what = f"trained {clock(result['train_s'])}, " if result["trained"] else ""
        self.say(
            f"[{time.strftime('%H:%M:%S')}] {self.done}/{self.total} jobs done (seed {job.seed} {job.name}: "
            f"{what}measured {clock(result['measure_s'])}); elapsed {clock(time.perf_counter() - self.t0)}, "
            f"about {clock(eta)} left"
        )
