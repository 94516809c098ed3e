"""``seqgan train`` and ``seqgan presets``: argument parsing only; the work is :mod:`seqgan.train.trainer`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from seqgan.cli.common import add_json, emit, seed_type, subcommand
from seqgan.errors import UserError

if TYPE_CHECKING:
    from seqgan.train.trainer import SeqGANTrainer


def cmd_train(args: argparse.Namespace) -> None:
    import os

    from seqgan.train import distributed
    from seqgan.train.logbook import TENSORBOARD_ENV

    mirror = args.tensorboard and os.environ.get(TENSORBOARD_ENV) != "1"
    if mirror:  # every metrics log of this training mirrors its events (seqgan.train.logbook)
        from seqgan.extras import require

        require("tensorboard", "seqgan train --tensorboard")
        os.environ[TENSORBOARD_ENV] = "1"
    finished = False
    try:
        trainer = _make_trainer(args)
        t0 = time.perf_counter()
        trainer.fit()
        finished = True
    finally:
        distributed.shutdown(finished)  # several processes (torchrun): leave the group; nothing in one process
        if mirror:
            os.environ.pop(TENSORBOARD_ENV, None)
    if trainer.rank != 0:  # rank 0 reports for all
        return
    from seqgan.train.logbook import read_metrics

    evals = [e for e in read_metrics(trainer.run.metrics_file) if any(k.startswith("eval/") for k in e)]
    result = {"run_dir": str(trainer.out), "wall_s": round(time.perf_counter() - t0, 1)}
    if evals:
        result.update({k: v for k, v in evals[-1].items() if k.startswith("eval/")})
    emit(result, args.json)


def _make_trainer(args: argparse.Namespace) -> SeqGANTrainer:
    """The trainer of a new, forked or resumed run (under torchrun, on every rank alike)."""
    from seqgan import presets
    from seqgan.config import apply_overrides
    from seqgan.train import distributed
    from seqgan.train.trainer import SeqGANTrainer

    if args.resume:
        if (
            args.preset
            or args.set
            or args.oracle_params
            or args.data
            or args.seed is not None
            or args.out_dir
            or args.init_from
        ):
            raise distributed.mirrored(
                UserError(
                    "--resume continues a run with its stored config: drop "
                    "--preset/--set/--seed/--oracle-params/--out-dir/--init-from"
                )
            )
        trainer = SeqGANTrainer.resume(args.resume, device=args.device)
        if args.no_progress:
            trainer.cfg.run.progress = False
        return trainer
    with distributed.same_on_all_ranks():  # the same command line on every rank: rank 0 reports its mistakes
        if not args.preset:
            raise UserError("give --preset NAME (see `seqgan presets`) or --resume RUN_DIR")
        cfg = presets.get(args.preset)
        overrides = list(args.set or [])
        if args.seed is not None:
            overrides.append(f"run.seed={args.seed}")
        if args.oracle_params:
            overrides.append(f"data.oracle_params={args.oracle_params}")
        if args.data:
            overrides.append(f"data.path={args.data}")
        if args.device:
            overrides.append(f"run.device={args.device}")
        if args.no_progress:
            overrides.append("run.progress=false")
        if args.init_from and (args.data or args.oracle_params or args.seed is not None):
            raise UserError(
                "--init-from takes the data, oracle and seed of its source run: drop --data, --oracle-params and --seed"
            )
        apply_overrides(cfg, overrides)
    if args.out_dir:
        out_dir = args.out_dir
    else:  # the ranks may start a second apart: rank 0's clock names the directory
        distributed.init_from_env()
        stamp = distributed.broadcast_object(time.strftime("%Y%m%d-%H%M%S"))
        out_dir = f"runs/{args.preset}-seed{cfg.run.seed}-{stamp}"
    return SeqGANTrainer(cfg, out_dir, command=" ".join(["seqgan", *sys.argv[1:]]), init_from=args.init_from)


def cmd_presets(args: argparse.Namespace) -> None:
    from seqgan import presets
    from seqgan.config import all_keys, field_notes, get_value

    if args.keys:
        cfg = presets.get(args.preset or "paper")
        notes = field_notes()
        for key in all_keys(cfg):
            note = f"  # {notes[key]}" if key in notes else ""
            print(f"{key} = {get_value(cfg, key)!r}{note}")
        return
    for name in presets.PRESETS:
        print(f"{name:10s} {presets.describe(name)}")


def register(sub: argparse._SubParsersAction) -> None:
    from seqgan.presets import PRESETS

    names = ", ".join(PRESETS)
    p = subcommand(
        sub,
        "train",
        "train SeqGAN on the synthetic oracle (or resume a run)",
        "seqgan train --preset demo --out-dir runs/demo\n  seqgan train --resume runs/demo\n"
        "  seqgan train --preset demo --init-from runs/demo --set adversarial.mode=mle --out-dir runs/demo-mle",
    )
    p.add_argument("--preset", help=f"named configuration, one of: {names} (see `seqgan presets`)")
    p.add_argument(
        "--data",
        metavar="DIR",
        help="train on a prepared data directory (`seqgan prepare`) instead of the synthetic oracle",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its latest checkpoint")
    p.add_argument(
        "--init-from",
        metavar="RUN_DIR",
        help="start from the end of RUN_DIR's pre-training (its data, "
        "oracle, seed and pre-trained G and D); --preset/--set choose what follows, e.g. a baseline: "
        "--set adversarial.mode=mle",
    )
    p.add_argument(
        "--oracle-params",
        metavar="FILE",
        help="oracle parameters: .npz or the authors' target_params(_py3).pkl (default: a fresh N(0,1) oracle)",
    )
    p.add_argument("--seed", type=seed_type, help="run seed (default 88, the authors' seed)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="where to train (default cpu)")
    p.add_argument("--out-dir", help="run directory (default runs/PRESET-seedS-TIME)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set adversarial.rollout_num=8 (repeatable; "
        "`seqgan presets --keys` lists the keys)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write every logged event and the samples to RUN/tensorboard/ as training goes "
        "(`tensorboard --logdir RUN/tensorboard`; needs seqgan[tensorboard]; `seqgan tensorboard RUN` converts "
        "old runs)",
    )
    add_json(p)
    p.set_defaults(func=cmd_train)

    p = subcommand(
        sub,
        "presets",
        "list the presets (or, with --keys, every config key and its value)",
        "seqgan presets --keys --preset demo",
    )
    p.add_argument(
        "--keys", action="store_true", help="list every config key with its value and where its default comes from"
    )
    p.add_argument("--preset", help=f"with --keys: the preset whose values to show, one of: {names} (default paper)")
    p.set_defaults(func=cmd_presets)
