"""``seqgan plot``, ``bench``, ``bleu``, ``self-bleu``, ``turing-test`` and ``tensorboard``: the tools around training
(argument parsing only; the work is in :mod:`seqgan.tools` and :mod:`seqgan.eval.bleu`)."""

from __future__ import annotations

import argparse
import json
import sys

from seqgan.cli.common import Parser, add_force, add_json, emit, output_file, seed_type, subcommand
from seqgan.errors import UserError

PROTOCOL_HELP = (
    "full (the only one): every reference line is a reference for every hypothesis, NLTK "
    "method1 smoothing, uniform weights 1/n, score = mean of NLTK sentence BLEU"
)
SELF_PROTOCOL_HELP = (
    "full (the only one): each hypothesis against all the other lines (itself excluded, "
    "duplicates kept), NLTK method1 smoothing, uniform weights 1/n, "
    "mean of sentence BLEU"
)


SYSTEM_HELP = (
    "LABEL=SOURCE (repeat, at least 2): SOURCE is a run directory (fresh samples of its generator), "
    "RUN_DIR:test (rows of the run's test set, decoded like its samples) or a text file with one "
    "sample per line (e.g. the real test set)"
)


def cmd_plot(args: argparse.Namespace) -> None:
    from seqgan.tools.plotting import plot_run

    out = plot_run(args.run, None if args.out is None else output_file(args.out, args.force))
    emit({"out": str(out)}, args.json)


def cmd_bench(args: argparse.Namespace) -> None:
    from seqgan.tools.bench import run_bench

    result = run_bench(device=args.device, quick=args.quick)
    emit(result, args.json)


def _sentences(path: str, flag: str) -> tuple[list[list[str]], int]:
    from seqgan.data.lines import read_token_lines

    hint = "give one sentence per line, tokens separated by spaces"
    rows, blank = read_token_lines(path, flag, hint)
    if not rows:
        raise UserError(f"{flag} {path} holds no sentences (empty or only blank lines): {hint}")
    return rows, blank


def _orders(values: list[int]) -> list[int]:
    from seqgan.config import MAX_BLEU_ORDER

    bad = [v for v in values if not 1 <= v <= MAX_BLEU_ORDER]
    if bad:
        raise UserError(f"--n {bad[0]} is invalid: BLEU orders are integers in 1..{MAX_BLEU_ORDER} (e.g. --n 2 3 4 5)")
    return sorted(set(values))


def cmd_bleu(args: argparse.Namespace) -> None:
    from seqgan.eval.bleu import bleu

    orders = _orders(args.n)
    hyps, hyp_blank = _sentences(args.hyps, "--hyps")
    refs, ref_blank = _sentences(args.refs, "--refs")
    scores = bleu(hyps, refs, orders)
    result: dict = {f"bleu{n}": scores[n] for n in orders}
    result.update(
        {
            "num_hypotheses": len(hyps),
            "num_references": len(refs),
            "protocol": args.protocol,
            "blank_lines_skipped_hyps": hyp_blank,
            "blank_lines_skipped_refs": ref_blank,
        }
    )
    emit(result, args.json)


def cmd_self_bleu(args: argparse.Namespace) -> None:
    from seqgan.eval.bleu import self_bleu

    orders = _orders(args.n)
    hyps, hyp_blank = _sentences(args.hyps, "--hyps")
    if len(hyps) < 2:
        raise UserError(f"--hyps {args.hyps} holds 1 sentence: Self-BLEU needs at least 2")
    scores = self_bleu(hyps, orders)
    result: dict = {f"self_bleu{n}": scores[n] for n in orders}
    result.update({"num_hypotheses": len(hyps), "protocol": args.protocol, "blank_lines_skipped_hyps": hyp_blank})
    emit(result, args.json)


def _system(value: str) -> tuple[str, str]:
    label, sep, source = value.partition("=")
    if not sep or not label.strip() or not source.strip():
        raise UserError(
            f"--system {value!r} is not LABEL=SOURCE: give e.g. --system real=data/test.txt --system seqgan=runs/poems"
        )
    return label.strip(), source.strip()


def cmd_build(args: argparse.Namespace) -> None:
    from seqgan.tools.turing import build

    systems = [_system(v) for v in args.system or []]
    result = build(systems, args.per_system, args.seed, args.out, checkpoint=args.checkpoint)
    if args.json:
        emit(result, True)
        return
    systems = ", ".join(result["systems"])
    sys.stdout.write(
        f"wrote {result['items']} items ({result['per_system']} of each of {systems}) "
        f"to {result['out_dir']}\n"
        f"give the judges only: {' and '.join(result['for_judges'])}\n"
        f"keep secret: {' and '.join(result['keep_secret'])}\n"
    )


def cmd_score(args: argparse.Namespace) -> None:
    from seqgan.tools.turing import format_report, score

    result = score(args.key, args.sheets, real=args.real, allow_blank=args.allow_blank)
    sys.stdout.write(json.dumps(result) + "\n" if args.json else format_report(result))


def cmd_tensorboard(args: argparse.Namespace) -> None:
    from seqgan.tools.dashboard import convert_runs

    result = convert_runs(args.runs, args.logdir)
    if args.json:
        emit(result, True)
        return
    for r in result["runs"]:
        print(f"{r['run']}: {r['events']} events, {r['scalars']} scalars, {r['samples']} samples files -> {r['dir']}")
    print(f"view: {result['view']}")


def register(sub: argparse._SubParsersAction) -> None:
    p = subcommand(
        sub,
        "tensorboard",
        "write runs' metrics (every event of metrics.jsonl) and samples as TensorBoard event files",
        "seqgan tensorboard runs/caps runs/caps-bpe --logdir tb && tensorboard --logdir tb\n\n"
        "Steps: MLE epochs, then adversarial epochs after the last MLE epoch (the G axis of seqgan plot);\n"
        "D pre-training events go under d_pretrain/KEY at their round. Samples appear as text.\n"
        "Live, while training: seqgan train --tensorboard ... (writes RUN/tensorboard/ as it goes). Needs\n"
        "pip install 'seqgan[tensorboard]'.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories written by `seqgan train`")
    p.add_argument(
        "--logdir",
        metavar="DIR",
        help="write LOGDIR/RUN_NAME/ for each run (default: RUN/tensorboard/); a new conversion replaces the last",
    )
    add_json(p)
    p.set_defaults(func=cmd_tensorboard)

    p = subcommand(
        sub,
        "plot",
        "draw a run's curves (NLL_oracle, NLL_test, rewards, D accuracy) to a PNG (or PDF, SVG)",
        "seqgan plot runs/demo",
    )
    p.add_argument("run", help="run directory written by `seqgan train`")
    p.add_argument(
        "--out",
        help="image path; its extension picks the format (.png, .pdf, .svg, ...; default RUN/curves.png, which a "
        "new plot replaces)",
    )
    add_force(p)
    add_json(p)
    p.set_defaults(func=cmd_plot)

    p = subcommand(
        sub,
        "bench",
        "time roll-outs (naive vs batched vs D alone), D, MLE and sampling at paper sizes",
        "seqgan bench --device cpu --json",
    )
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="device (default cpu)")
    p.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test (not paper sizes)")
    add_json(p)
    p.set_defaults(func=cmd_bench)

    p = subcommand(
        sub,
        "bleu",
        "BLEU-n of generated text against a reference file (SeqGAN/Texygen/RelGAN protocol, exactly NLTK's numbers)",
        "seqgan bleu --hyps samples.txt --refs test_coco.txt --n 2 3 4 5 --json",
    )
    p.add_argument("--hyps", required=True, metavar="FILE", help="generated text: UTF-8, one sentence per line")
    p.add_argument("--refs", required=True, metavar="FILE", help="reference text (e.g. the test set), same format")
    p.add_argument("--n", type=int, nargs="+", default=[2, 3, 4, 5], metavar="N", help="orders (default 2 3 4 5)")
    p.add_argument("--protocol", choices=["full"], default="full", help=PROTOCOL_HELP)
    add_json(p)
    p.set_defaults(func=cmd_bleu)

    p = subcommand(
        sub,
        "self-bleu",
        "Self-BLEU-n of generated text (diversity; higher = less diverse), each line "
        "scored against all the others, exactly NLTK's numbers",
        "seqgan self-bleu --hyps samples.txt --n 2 3 4 5 --json",
    )
    p.add_argument("--hyps", required=True, metavar="FILE", help="generated text: UTF-8, one sentence per line")
    p.add_argument("--n", type=int, nargs="+", default=[2, 3, 4, 5], metavar="N", help="orders (default 2 3 4 5)")
    p.add_argument("--protocol", choices=["full"], default="full", help=SELF_PROTOCOL_HELP)
    add_json(p)
    p.set_defaults(func=cmd_self_bleu)

    p = subcommand(
        sub,
        "turing-test",
        "human evaluation (the paper's Turing test, Table 2): a blind sheet of real and "
        "generated samples, and the human score of filled sheets",
        "seqgan turing-test build --system real=data/test.txt --system seqgan=runs/poems --system "
        "mle=runs/poems-mle --per-system 20 --seed 0 --out turing\n"
        "  seqgan turing-test score --key turing/key.csv judge1.csv judge2.csv --real real",
    )
    tsub = p.add_subparsers(dest="turing_command", metavar="ACTION", parser_class=Parser)
    tsub.required = True

    q = subcommand(
        tsub,
        "build",
        "write a blind sheet (sheet.html to read, sheet.csv to fill) mixing samples of "
        "several systems, and its answer key (key.csv, key.json) separately",
        "seqgan turing-test build --system real=data/test.txt --system seqgan=runs/poems --system "
        "mle=runs/poems-mle --per-system 20 --seed 0 --out turing\n"
        "  seqgan turing-test build --system real=runs/poems:test --system seqgan=runs/poems "
        "--out turing",
    )
    q.add_argument("--system", action="append", metavar="LABEL=SOURCE", help=SYSTEM_HELP)
    q.add_argument(
        "--checkpoint",
        default="last",
        choices=["last", "best", "prev"],
        help="checkpoint the runs are sampled from (default last)",
    )
    q.add_argument("--per-system", type=int, default=20, help="items per system (default 20, as in the paper)")
    q.add_argument(
        "--seed",
        type=seed_type,
        default=0,
        help="seed of every draw and the shuffle (default 0); same arguments, same sheet",
    )
    q.add_argument("--out", required=True, metavar="DIR", help="new or empty output directory (its parent must exist)")
    add_json(q)
    q.set_defaults(func=cmd_build)

    q = subcommand(
        tsub,
        "score",
        "human score per system (mean of the judgements, 1 = judged real) over items and "
        "judges, standard errors, Welch t-tests and Fisher exact tests between systems",
        "seqgan turing-test score --key turing/key.csv judge1.csv judge2.csv --real real --json",
    )
    q.add_argument("--key", required=True, metavar="KEY_CSV", help="the key.csv written by `turing-test build`")
    q.add_argument("sheets", nargs="+", metavar="SHEET_CSV", help="filled sheets, one per judge")
    q.add_argument("--real", metavar="LABEL", help="the system that is real data: also report each judge's accuracy")
    q.add_argument(
        "--allow-blank",
        action="store_true",
        help="skip (and count) blank judgements and deleted rows instead of refusing the sheet",
    )
    add_json(q)
    q.set_defaults(func=cmd_score)
