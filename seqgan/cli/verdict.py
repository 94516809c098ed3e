"""``seqgan verdict``: argument parsing only; the work is :mod:`seqgan.tools.verdict`."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from seqgan.cli.common import add_json, seed_type, subcommand
from seqgan.errors import UserError

EXAMPLE = (
    "seqgan verdict --data data/speeches --preset text --seeds 1 2 3 --out runs/speeches-verdict\n"
    "  seqgan verdict --oracle --preset demo --seeds 1 2 3 --workers 2 --out runs/oracle-verdict\n"
    "  seqgan verdict --data data/caps --preset text --seeds 1 2 --out runs/v --system lr001 adversarial.g_lr=0.001\n"
    "  seqgan verdict --resume runs/speeches-verdict              # after an interruption (or the same command)\n"
    "  seqgan verdict --runs runs/speeches-verdict --report report/  # the report again from the runs\n"
    "  seqgan verdict --report-from benchmarks/text/verdict.json --report report/   # from verdict.json alone\n"
    "  seqgan verdict --report-from a/verdict.json b/verdict.json --report both/   # one verdict of two folders"
)


def _summary(v: dict) -> dict:
    """What --json prints: every verdict, frontier by frontier."""
    out: dict = {"seeds": v["seeds"], "frontiers": {}}
    for f in v["frontiers"]:
        out["frontiers"][f["name"]] = [
            {k: r[k] for k in ("a", "b", "gaps", "mean", "p", "verdict")} for r in f["comparisons"]
        ]
    if "label_accuracy" in v:
        out["label_accuracy"] = [{k: r[k] for k in ("a", "b", "gaps", "p", "verdict")} for r in v["label_accuracy"]]
    return out


def _print(v: dict, as_json: bool, where: Path) -> None:
    if as_json:
        print(json.dumps(_summary(v), allow_nan=False))
        return
    titles = {n: s["title"] for n, s in v["systems"].items()}
    for f in v["frontiers"]:
        print(f"{f['name']}:")
        for r in f["comparisons"]:
            p = "n/a" if r["p"] is None else f"{r['p']:.2g}"
            gap = "n/a" if r["mean"] is None else f"{r['mean']:+.3f}"
            print(f"  {titles[r['a']]} against {titles[r['b']]}: {r['verdict']} (gap {gap}, p {p})")
    print(f"wrote {where / 'results.md'}")


def cmd_verdict(args: argparse.Namespace) -> None:
    from seqgan.tools import verdict

    if args.report_from:
        if not args.report:
            raise UserError("--report-from needs --report DIR: where results.md and the PNGs go")
        command = shlex.join(["seqgan", *args.command_line]) if len(args.report_from) > 1 else None
        v = verdict.report_from_json([Path(f) for f in args.report_from], Path(args.report), command)
        return _print(v, args.json, Path(args.report))
    if args.runs:
        report = Path(args.report or args.runs[0])
        command = shlex.join(["seqgan", *args.command_line])
        v = verdict.report_from_runs([Path(r) for r in args.runs], report, command)
        return _print(v, args.json, report)
    if args.resume:
        manifest = Path(args.resume) / "manifest.json"
        if not manifest.is_file():
            raise UserError(f"--resume {args.resume}: no verdict there (no manifest.json); give its --out folder")
        stored = json.loads(manifest.read_text())
        argv = [a for a in shlex.split(stored["command"])[2:] if a != "--dry-run"]  # resuming means training
        args = _parser_args(argv, args.json)
        for key in ("data", "out", "oracle_params", "report"):  # relative to where the command first ran
            if getattr(args, key) and "cwd" in stored:
                setattr(args, key, str(Path(stored["cwd"]) / getattr(args, key)))
        args.cwd = stored.get("cwd")
    if args.data is None and not args.oracle:
        raise UserError("give --data DIR (a folder from `seqgan prepare`) or --oracle (the synthetic task)")
    if args.data is not None and args.oracle:
        raise UserError("give --data DIR or --oracle, not both")
    if not args.out or not args.preset:
        raise UserError("give --out DIR (the runs' folder) and --preset NAME (see `seqgan presets`)")
    opts = verdict.Options(
        out=Path(args.out),
        preset=args.preset,
        seeds=args.seeds,
        data=args.data,
        oracle_params=args.oracle_params,
        systems=args.systems,
        user=args.system or [],
        sets=args.set or [],
        workers=args.workers,
        num_samples=args.num_samples,
        lm=args.lm,
        sgd_lr=args.sgd_lr,
        device=args.device,
        allow_one_seed=args.allow_one_seed,
        dry_run=args.dry_run,
        report=Path(args.report) if args.report else None,
        command=shlex.join(["seqgan", "verdict", *(args.argv or args.command_line[1:])]),
        cwd=args.cwd,
    )
    v = verdict.run(opts, say=lambda line: print(line, flush=True))
    if args.dry_run:
        return print(json.dumps(v)) if args.json else None
    _print(v, args.json, opts.report or opts.out)


def _parser_args(argv: list[str], as_json: bool) -> argparse.Namespace:
    """The stored command's options (``--resume``)."""
    from seqgan.cli.common import Parser

    p = Parser(prog="seqgan verdict")
    _add_arguments(p)
    args = p.parse_args(argv)
    args.argv, args.json = argv, as_json or args.json
    return args


def _add_arguments(p: argparse.ArgumentParser) -> None:
    from seqgan.tools.verdict.systems import OPTIONAL, SGD_LR

    p.add_argument("--data", metavar="DIR", help="a prepared data folder (`seqgan prepare`, `prepare-midi`)")
    p.add_argument("--oracle", action="store_true", help="the synthetic oracle task instead of --data")
    p.add_argument("--oracle-params", metavar="FILE", help="with --oracle: the oracle's file (default: a fresh one)")
    p.add_argument("--preset", help="preset of every run (e.g. text, coco-cpu, demo, tiny)")
    p.add_argument("--seeds", type=seed_type, nargs="+", default=[1, 2, 3], help="run seeds (default 1 2 3; >= 2)")
    p.add_argument("--out", metavar="DIR", help="folder of the runs, verdict.json and (default) the report")
    p.add_argument(
        "--systems",
        nargs="*",
        metavar="NAME",
        help=f"built-in systems beside SeqGAN and its early-stopped MLE, among {', '.join(OPTIONAL)} "
        "(default: mle shuffled_reward constant_reward)",
    )
    p.add_argument(
        "--system",
        nargs="+",
        action="append",
        metavar=("NAME", "KEY=VALUE"),
        help="your own system, forked from the same pre-training: a name, then its config overrides "
        "(repeatable), e.g. --system lr001 adversarial.g_lr=0.001",
    )
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key of every run")
    p.add_argument("--workers", type=int, default=1, help="runs trained at once, one torch thread each (default 1)")
    p.add_argument("--num-samples", type=int, help="samples per measured point (default: the preset's, text <= 5000)")
    p.add_argument(
        "--lm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="LM and reverse LM scores (default: on for text and melodies)",
    )
    p.add_argument("--sgd-lr", type=float, default=SGD_LR, help=f"learning rate of the plain-SGD system ({SGD_LR})")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="where to train (default cpu)")
    p.add_argument(
        "--allow-one-seed", action="store_true", help="with one seed: report the per-seed gaps without a test"
    )
    p.add_argument("--dry-run", action="store_true", help="check the inputs, print the plan and the budget, stop")
    p.add_argument("--report", metavar="DIR", help="where results.md and the PNGs go (default: the runs' folder)")
    p.add_argument("--resume", metavar="DIR", help="continue the verdict in DIR with its stored options")
    p.add_argument("--runs", nargs="+", metavar="DIR", help="no training: the report again from verdict folders")
    p.add_argument(
        "--report-from",
        nargs="+",
        metavar="FILE",
        help="no runs needed: the report again from a verdict.json; from several (seeds or systems run in other "
        "folders), one verdict of them all, written to the report's folder (each comparison pairs a seed's "
        "systems within one file)",
    )
    add_json(p, "the verdicts")


def register(sub: argparse._SubParsersAction) -> None:
    p = subcommand(
        sub,
        "verdict",
        "does the discriminator help on this data? SeqGAN against early-stopped MLE and uninformative rewards, "
        "every system over temperature, seeds paired, a t-test per comparison",
        EXAMPLE,
    )
    _add_arguments(p)
    p.set_defaults(func=cmd_verdict, argv=None, cwd=None)
