"""The ``seqgan`` command: argument parsing only; every algorithm lives in the library.

User errors (bad flags, missing or malformed files) print one line ``error: ...`` on stderr and
exit with code 2, without a traceback. ``--json`` results are one JSON object on the last line
of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from seqgan.errors import Interrupted, TrainingError, UserError

if TYPE_CHECKING:
    from seqgan.train.trainer import SeqGANTrainer as SeqGANTrainerType


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        err = UserError(f"{message} (see `{self.prog} --help`)")
        err.mirrored = True  # the same command line on every rank (torchrun): rank 0 alone reports it
        raise err


def _sub(subparsers: argparse._SubParsersAction, name: str, help: str, example: str) -> argparse.ArgumentParser:
    return subparsers.add_parser(name, help=help, description=help, epilog=f"example:\n  {example}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip


def _emit(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


def _ensure_writable(path: str) -> Path:
    out = Path(path)
    if out.is_dir():
        raise UserError(f"--out {path} is a directory: give a file name")
    if not out.parent.exists():
        raise UserError(f"the folder of --out {path} does not exist: create it first")
    return out


# ------------------------------------------------------------------ train
def cmd_train(args: argparse.Namespace) -> None:
    from seqgan.train import distributed

    try:
        trainer = _make_trainer(args)
        t0 = time.perf_counter()
        trainer.fit()
    finally:
        distributed.shutdown()  # several processes (torchrun): leave the group; nothing in one process
    if trainer.rank != 0:  # rank 0 reports for all
        return
    from seqgan.train.logbook import read_metrics

    evals = [e for e in read_metrics(trainer.out / "metrics.jsonl") if any(k.startswith("eval/") for k in e)]
    result = {"run_dir": str(trainer.out), "wall_s": round(time.perf_counter() - t0, 1)}
    if evals:
        result.update({k: v for k, v in evals[-1].items() if k.startswith("eval/")})
    _emit(result, args.json)


def _make_trainer(args: argparse.Namespace) -> SeqGANTrainerType:
    """The trainer of a new, forked or resumed run (under torchrun, on every rank alike)."""
    from seqgan import presets
    from seqgan.config import apply_overrides
    from seqgan.train import distributed
    from seqgan.train.trainer import SeqGANTrainer

    if args.resume:
        if (args.preset or args.set or args.oracle_params or args.data or args.seed is not None or args.out_dir
                or args.init_from):  # fmt: skip
            raise distributed.mirrored(UserError(
                "--resume continues a run with its stored config: drop --preset/--set/--seed/--oracle-params/--out-dir/"
                "--init-from"
            ))
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
            raise UserError("--init-from takes the data, oracle and seed of its source run: drop --data, "
                            "--oracle-params and --seed")  # fmt: skip
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
    from seqgan.config import all_keys, get_value

    if args.keys:
        cfg = presets.get(args.preset or "paper")
        for key in all_keys(cfg):
            print(f"{key} = {get_value(cfg, key)!r}")
        return
    for name in presets.PRESETS:
        print(f"{name:10s} {presets.describe(name)}")


# ----------------------------------------------------------------- oracle
def cmd_oracle_new(args: argparse.Namespace) -> None:
    from seqgan.models.oracle_file import random_oracle_params, save_oracle_params

    for flag in ("vocab_size", "emb_dim", "hidden_dim"):
        if getattr(args, flag) <= 0:
            raise UserError(f"--{flag.replace('_', '-')} must be > 0")
    if args.seed < 0:
        raise UserError("--seed must be >= 0")
    out = _ensure_writable(args.out)
    save_oracle_params(random_oracle_params(args.vocab_size, args.emb_dim, args.hidden_dim, args.seed), out)
    _emit({"out": str(out), "vocab_size": args.vocab_size, "seed": args.seed}, args.json)


def cmd_oracle_sample(args: argparse.Namespace) -> None:
    import torch

    from seqgan.files import write_atomic
    from seqgan.models import build_oracle
    from seqgan.models.oracle_file import load_oracle_params

    if args.num_samples <= 0 or args.seq_len <= 0:
        raise UserError("--num-samples and --seq-len must be > 0")
    out = _ensure_writable(args.out)
    oracle = build_oracle(load_oracle_params(args.params))
    rng = torch.Generator().manual_seed(args.seed)
    rows = oracle.generate(args.num_samples, args.seq_len, rng)
    write_atomic(out, "".join(" ".join(map(str, r)) + "\n" for r in rows.tolist()).encode())
    _emit({"out": str(out), "num_samples": args.num_samples, "seq_len": args.seq_len}, args.json)


def read_id_lines(path: str, vocab_size: int) -> list[list[int]]:
    """Lines of space-separated integer ids, all of one length, each id in [0, vocab_size)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"input file {path} does not exist (or is not a file)")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text: give one sequence of space-separated ids per line") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = [int(tok) for tok in line.split()]
        except ValueError:
            raise UserError(f"{path} line {n}: not integer ids ({line[:40]!r}); give space-separated ids") from None
        bad = [i for i in row if not 0 <= i < vocab_size]
        if bad:
            raise UserError(f"{path} line {n}: id {bad[0]} is outside the oracle's vocabulary 0..{vocab_size - 1}")
        if rows and len(row) != len(rows[0]):
            raise UserError(f"{path} line {n}: {len(row)} ids but line 1 has {len(rows[0])}; give lines of one length")
        rows.append(row)
    if not rows:
        raise UserError(f"{path} holds no sequences: give one sequence of space-separated ids per line")
    return rows


def cmd_oracle_score(args: argparse.Namespace) -> None:
    import torch

    from seqgan.eval.metrics import sequence_nll
    from seqgan.models import build_oracle
    from seqgan.models.oracle_file import load_oracle_params

    oracle = build_oracle(load_oracle_params(args.params))
    rows = torch.tensor(read_id_lines(args.input, oracle.vocab_size))
    per_seq = sequence_nll(oracle, rows)
    _emit({"nll_oracle": float(per_seq.double().mean()), "num_sequences": len(rows),
           "seq_len": rows.shape[1]}, args.json)  # fmt: skip


# ------------------------------------------------------- sample, plot, bench
def cmd_sample(args: argparse.Namespace) -> None:
    import torch

    from seqgan.files import write_atomic
    from seqgan.train.rundir import load_run

    if args.num_samples <= 0:
        raise UserError("--num-samples must be > 0")
    if args.temperature <= 0:
        raise UserError("--temperature must be > 0 (1.0 samples the model as trained)")
    if args.top_k is not None and args.top_k < 1:
        raise UserError("--top-k must be >= 1")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise UserError("--top-p must be in (0, 1]")
    run = load_run(args.run, args.checkpoint)
    if args.midi_out:
        from seqgan.data.midi import check_midi_out, write_midi_samples

        if run.vocab is None or run.vocab.pitch is None:
            kind = "the oracle task" if run.vocab is None else f"{run.vocab.level}-level text"
            raise UserError(f"--midi-out needs a music run (trained on `seqgan prepare-midi` data); {args.run} is "
                            f"{kind}: drop --midi-out")  # fmt: skip
        check_midi_out(args.midi_out)
    rng = torch.Generator().manual_seed(args.seed)
    g, T = run.generator, run.config.data.seq_len
    prefix = None
    if args.prefix:
        ids = run.vocab.encode(args.prefix) if run.vocab is not None else _int_ids(args.prefix, g.vocab_size)
        if len(ids) >= T:
            raise UserError(f"--prefix has {len(ids)} tokens but sequences hold {T}: give a shorter prefix")
        prefix = torch.tensor(ids, dtype=torch.long)
    rows = g.generate(args.num_samples, T, rng, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                      prefix=prefix)  # fmt: skip
    if run.vocab is not None:
        text = "".join(run.vocab.decode(r) + "\n" for r in rows.tolist())
    else:
        text = "".join(" ".join(map(str, r)) + "\n" for r in rows.tolist())
    if args.out:
        write_atomic(_ensure_writable(args.out), text.encode())
    else:
        sys.stdout.write(text)
    if args.midi_out:  # the checks above ran before sampling
        write_midi_samples(rows, run.vocab.pitch, args.midi_out)
        write_atomic(Path(args.midi_out) / "samples.txt", text.encode())


def _int_ids(text: str, vocab_size: int) -> list[int]:
    try:
        ids = [int(tok) for tok in text.split()]
    except ValueError:
        raise UserError("this run has no vocabulary (oracle task): give --prefix as space-separated ids") from None
    if any(not 0 <= i < vocab_size for i in ids):
        raise UserError(f"--prefix ids must be in 0..{vocab_size - 1}")
    return ids


def cmd_eval(args: argparse.Namespace) -> None:
    import torch

    from seqgan.eval.metrics import evaluate_samples
    from seqgan.train.rundir import load_run

    if args.num_samples is not None and args.num_samples < 2:
        raise UserError("--num-samples must be >= 2 (Self-BLEU compares samples with each other)")
    run = load_run(args.run, args.checkpoint)
    cfg = run.config
    num = args.num_samples or cfg.eval.num_samples
    rng = torch.Generator().manual_seed(args.seed)
    g = run.generator
    if args.temperature <= 0:
        raise UserError("--temperature must be > 0 (1.0 evaluates the model as trained)")
    samples = g.generate(num, cfg.data.seq_len, rng, temperature=args.temperature)
    pitch = run.vocab.pitch if run.vocab is not None else None  # music runs add eval/mse
    metrics = evaluate_samples(g, samples, run.test, run.oracle, cfg.eval.bleu_orders, run.vocab is not None,
                               pitch=pitch, temperature=args.temperature)  # fmt: skip
    _emit({"run": args.run, "checkpoint": args.checkpoint, "phase": run.phase, "epoch": run.epoch,
           "num_samples": num, "seed": args.seed, "temperature": args.temperature, **metrics}, args.json)  # fmt: skip


def cmd_plot(args: argparse.Namespace) -> None:
    from seqgan.tools.plotting import plot_run

    out = plot_run(args.run, args.out)
    _emit({"out": str(out)}, args.json)


def cmd_bench(args: argparse.Namespace) -> None:
    from seqgan.tools.bench import run_bench

    result = run_bench(device=args.device, quick=args.quick)
    _emit(result, args.json)


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    from seqgan.version import __version__

    parser = _Parser(prog="seqgan", description="SeqGAN (Yu et al., AAAI 2017): train, sample, evaluate.")
    parser.add_argument("--version", action="version", version=f"seqgan {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = _sub(sub, "train", "train SeqGAN on the synthetic oracle (or resume a run)",
             "seqgan train --preset demo --out-dir runs/demo\n  seqgan train --resume runs/demo\n"
             "  seqgan train --preset demo --init-from runs/demo --set adversarial.mode=mle --out-dir runs/demo-mle")
    p.add_argument("--preset", help="named configuration: paper, demo, tiny or text (see `seqgan presets`)")
    p.add_argument("--data", metavar="DIR", help="train on a prepared data directory (`seqgan prepare`) "
                   "instead of the synthetic oracle")  # fmt: skip
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its latest checkpoint")
    p.add_argument("--init-from", metavar="RUN_DIR", help="start from the end of RUN_DIR's pre-training (its data, "
                   "oracle, seed and pre-trained G and D); --preset/--set choose what follows, e.g. a baseline: "
                   "--set adversarial.mode=mle")  # fmt: skip
    p.add_argument("--oracle-params", metavar="FILE", help="oracle parameters: .npz or the authors' "
                   "target_params(_py3).pkl (default: a fresh N(0,1) oracle)")  # fmt: skip
    p.add_argument("--seed", type=int, help="run seed (default 88, the authors' seed)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], help="where to train (default cpu)")
    p.add_argument("--out-dir", help="run directory (default runs/PRESET-seedS-TIME)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config key, e.g. --set adversarial.rollout_num=8 (repeatable; "
                        "`seqgan presets --keys` lists the keys)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_train)

    p = _sub(sub, "presets", "list the presets (or, with --keys, every config key and its value)",
             "seqgan presets --keys --preset demo")  # fmt: skip
    p.add_argument("--keys", action="store_true", help="list every config key with its value")
    p.add_argument("--preset", help="with --keys: the preset whose values to show (default paper)")
    p.set_defaults(func=cmd_presets)

    p = _sub(sub, "oracle", "make, sample and score with a synthetic oracle LSTM",
             "seqgan oracle new --seed 1 --out oracle.npz")  # fmt: skip
    osub = p.add_subparsers(dest="oracle_command", metavar="ACTION", parser_class=_Parser)
    osub.required = True
    q = _sub(osub, "new", "draw a fresh oracle with every parameter N(0, 1), as in the paper",
             "seqgan oracle new --seed 1 --out oracle.npz")  # fmt: skip
    q.add_argument("--seed", type=int, default=0, help="numpy seed of the draw (default 0)")
    q.add_argument("--out", required=True, help="output .npz file")
    q.add_argument("--vocab-size", type=int, default=5000, help="vocabulary (default 5000, authors' code)")
    q.add_argument("--emb-dim", type=int, default=32, help="embedding size (default 32, authors' code)")
    q.add_argument("--hidden-dim", type=int, default=32, help="hidden size (default 32, authors' code)")
    q.add_argument("--json", action="store_true", help="print the result as one JSON object")
    q.set_defaults(func=cmd_oracle_new)
    q = _sub(osub, "sample", "write oracle samples, one sequence of space-separated ids per line",
             "seqgan oracle sample --params oracle.npz --num-samples 9984 --seed 1 --out real.txt")  # fmt: skip
    q.add_argument("--params", required=True, help="oracle file (.npz or the authors' .pkl)")
    q.add_argument("--num-samples", type=int, default=9984, help="how many sequences (default 9984, authors' code)")
    q.add_argument("--seq-len", type=int, default=20, help="tokens per sequence (default 20)")
    q.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    q.add_argument("--out", required=True, help="output text file")
    q.add_argument("--json", action="store_true", help="print the result as one JSON object")
    q.set_defaults(func=cmd_oracle_sample)
    q = _sub(osub, "score", "NLL_oracle of sequences: mean per-token negative log-likelihood in nats",
             "seqgan oracle score --params oracle.npz --input samples.txt --json")  # fmt: skip
    q.add_argument("--params", required=True, help="oracle file (.npz or the authors' .pkl)")
    q.add_argument("--input", required=True, help="text file, one sequence of space-separated ids per line")
    q.add_argument("--json", action="store_true", help="print the result as one JSON object")
    q.set_defaults(func=cmd_oracle_score)

    p = _sub(sub, "sample", "generate sequences from a trained run: text for prepared data, ids for the oracle task",
             "seqgan sample runs/demo --num-samples 100 --seed 1 --out samples.txt")  # fmt: skip
    p.add_argument("run", help="run directory written by `seqgan train`")
    p.add_argument("--checkpoint", default="last", help="last (default), best, prev, or a checkpoint file")
    p.add_argument("--top-k", type=int, help="sample only among the k most likely tokens at each step")
    p.add_argument("--top-p", type=float, help="nucleus sampling: the smallest set of tokens with probability >= p")
    p.add_argument("--prefix", help="text (or ids, oracle task) every sample starts with")
    p.add_argument("--num-samples", type=int, default=20, help="how many sequences (default 20)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default 1.0)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0); same seed, same output")
    p.add_argument("--out", help="output file (default: stdout)")
    p.add_argument("--midi-out", metavar="DIR", help="music runs (`seqgan prepare-midi`): also write one MIDI file "
                   "per sample, DIR/sample-0000.mid ... (one token lasts the data's --step seconds, steady tempo), and "
                   "DIR/samples.txt")  # fmt: skip
    p.set_defaults(func=cmd_sample)

    p = _sub(sub, "eval", "all metrics of a run's checkpoint on fresh samples, as JSON",
             "seqgan eval runs/demo --checkpoint best --json\n\n"
             "Prepared data: BLEU-n of each sample against the whole test set, averaged; Self-BLEU; distinct-n.\n"
             "Music runs (seqgan prepare-midi) add eval/mse: for each generated melody, the mean over its T\n"
             "positions of the squared pitch difference (semitones^2) to the nearest test window (the one\n"
             "that minimises it), averaged over the generated melodies; a rest token counts as the note\n"
             "last heard. BLEU there is over the pitch-token sequences.")  # fmt: skip
    p.add_argument("run", help="run directory written by `seqgan train`")
    p.add_argument("--checkpoint", default="last", help="last (default), best, prev, or a checkpoint file")
    p.add_argument("--num-samples", type=int, help="generated samples (default: the run's eval.num_samples)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--temperature", type=float, default=1.0, help="sample at this softmax temperature and score "
                   "NLL_test under the same softmax: one point of the quality-diversity curve of Caccia et al. "
                   "(2020) (default 1.0)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_eval)

    p = _sub(sub, "plot", "draw a run's curves (NLL_oracle, NLL_test, rewards, D accuracy) to a PNG",
             "seqgan plot runs/demo")  # fmt: skip
    p.add_argument("run", help="run directory written by `seqgan train`")
    p.add_argument("--out", help="PNG path (default RUN/curves.png)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_plot)

    p = _sub(sub, "bench", "time roll-outs (naive vs batched vs D alone), D, MLE and sampling at paper sizes",
             "seqgan bench --device cpu --json")  # fmt: skip
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="device (default cpu)")
    p.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test (not paper sizes)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_bench)

    from seqgan.cli import bleu as cli_bleu
    from seqgan.cli import midi as cli_midi
    from seqgan.cli import prepare as cli_data
    from seqgan.cli import turing as cli_turing

    cli_data.add_parsers(sub)
    cli_midi.add_parsers(sub)
    cli_bleu.add_parsers(sub)
    cli_turing.add_parsers(sub)
    return parser


def _report(kind: str, message: str, err: BaseException) -> None:
    """Print ``kind: message`` on stderr. Under torchrun an error that every rank raises alike (marked
    ``mirrored``) is printed by rank 0 only; other errors carry the rank that raised them."""
    rank = int(os.environ.get("RANK", "0"))
    if rank != 0 and getattr(err, "mirrored", False):
        return
    sys.stdout.flush()
    print(f"{kind}: [rank {rank}] {message}" if rank else f"{kind}: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        args.func(args)
    except UserError as e:
        _report("error", str(e), e)
        return 2
    except TrainingError as e:
        _report("error", str(e), e)
        return 1
    except OSError as e:  # a full or read-only disk, a vanished folder: name it instead of a traceback
        where = f" ({e.filename})" if e.filename else ""
        _report("error", f"cannot read or write a file{where}: {e.strerror or e}; free disk space or choose a writable "
                "location, then run again (a run continues with --resume)", e)  # fmt: skip
        return 2
    except (Interrupted, KeyboardInterrupt) as e:
        if str(e):
            _report("interrupted", str(e), e)
        elif int(os.environ.get("RANK", "0")) == 0:
            print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
