"""``seqgan sample`` and ``seqgan eval``: sequences and metrics of a trained run (argument parsing only)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from seqgan.cli.common import add_force, add_json, emit, output_file, seed_type, subcommand
from seqgan.errors import UserError

RESAMPLE_HELP = (
    "each sample chosen among K candidates of G in proportion to D/(1-D) (discriminator-guided sampling, Azadi et "
    "al. 2019; Deng et al. 2020); best with --checkpoint pretrained: the early-stopped MLE G and the D trained "
    "against it"
)


def cmd_sample(args: argparse.Namespace) -> None:
    import torch
    from tqdm import tqdm

    from seqgan.data.decode import render_rows
    from seqgan.files import atomic_writer, write_atomic
    from seqgan.models.sampling import check_sampling
    from seqgan.train.portable import load_run

    check_sampling(
        args.num_samples, args.temperature, args.top_k, args.top_p, max_num=10**8 if not args.midi_out else 10_000
    )
    out = output_file(args.out, args.force) if args.out else None
    run = load_run(args.run, args.checkpoint)
    if args.midi_out:
        from seqgan.extras import require

        require("mido", "seqgan sample --midi-out")
        from seqgan.data.midi import check_midi_out, write_midi_samples

        if run.kind != "music":
            kind = "the oracle task" if run.kind == "oracle" else "a text run"
            raise UserError(
                f"--midi-out needs a music run (trained on `seqgan prepare-midi` data); {args.run} is "
                f"{kind}: drop --midi-out"
            )
        check_midi_out(args.midi_out, args.num_samples, args.force)
    chunks = run.iter_sample_ids(
        args.num_samples,
        args.temperature,
        args.top_k,
        args.top_p,
        args.prefix,
        args.seed,
        label=args.label,
        resample=args.resample,
    )
    next_chunk = next(chunks)  # the prefix, the labels and the options are checked before anything is written
    # A conditional run writes LABEL<TAB>text, the format `seqgan prepare --labels tab` reads.
    labels, done = run.label_ids(args.num_samples, args.label), 0
    kept, bar = [], tqdm(total=args.num_samples, unit="seq", file=sys.stderr, disable=None, leave=False)
    with atomic_writer(out) if out is not None else contextlib.nullcontext(sys.stdout.buffer) as sink:
        while next_chunk is not None:
            lines = render_rows(next_chunk, run.vocab, tokens=args.tokens)
            if labels is not None:
                names = [run.labels[k] for k in labels[done : done + len(lines)].tolist()]
                lines = [f"{name}\t{line}" for name, line in zip(names, lines, strict=True)]
            sink.write("".join(line + "\n" for line in lines).encode())
            done += len(lines)
            bar.update(len(next_chunk))
            if args.midi_out:
                kept.append(next_chunk)
            next_chunk = next(chunks, None)
    bar.close()
    if args.midi_out:  # the checks above ran before sampling
        rows = torch.cat(kept)
        write_midi_samples(rows, run.vocab.pitch, args.midi_out)
        text = "".join(line + "\n" for line in render_rows(rows, run.vocab, tokens=args.tokens))
        write_atomic(Path(args.midi_out) / "samples.txt", text.encode())


def cmd_eval(args: argparse.Namespace) -> None:
    from seqgan.train.portable import load_run

    if args.num_samples is not None and args.num_samples < 2:
        raise UserError("--num-samples must be >= 2 (Self-BLEU compares samples with each other)")
    run = load_run(args.run, args.checkpoint)
    num = args.num_samples or run.config.eval.num_samples
    data = None
    if args.data:  # another prepared directory's splits (an exported model has none of its own)
        from seqgan.data.prepared import load_prepared

        prepared = load_prepared(args.data)
        if run.vocab is None or prepared.vocab.tokens != run.vocab.tokens:
            raise UserError(
                f"--data {args.data} has another vocabulary than {args.run}: give the data the model was "
                "trained on (or prepared with the same vocabulary)"
            )
        data = {"train": prepared.train, "valid": prepared.valid, "test": prepared.test}
        if prepared.labels:
            data.update(
                train_labels=prepared.train_labels, valid_labels=prepared.valid_labels, test_labels=prepared.test_labels
            )
    metrics = run.evaluate(
        num,
        args.seed,
        args.temperature,
        args.split,
        lm=args.lm,
        data=data,
        lm_cache=None if args.lm_cache is None else Path(args.lm_cache),
        resample=args.resample,
    )
    emit(
        {
            "run": args.run,
            "checkpoint": run.checkpoint,
            "phase": run.phase,
            "epoch": run.epoch,
            "split": args.split,
            "num_samples": num,
            "seed": args.seed,
            "temperature": args.temperature,
            **({"resample": args.resample} if args.resample > 1 else {}),
            **metrics,
        },
        args.json,
    )


def cmd_export(args: argparse.Namespace) -> None:
    from seqgan.train.portable import export_run

    emit(export_run(args.run, args.out, args.checkpoint, args.force), args.json)


def register(sub: argparse._SubParsersAction) -> None:
    p = subcommand(
        sub,
        "export",
        "write a run's models to a portable folder (safetensors, config, vocabulary, model "
        "card; no data, no pickle) that `seqgan sample`, `seqgan eval` and `seqgan.load_run` open",
        "seqgan export runs/caps --checkpoint best --out models/caps\n"
        "  seqgan sample models/caps --num-samples 5 --temperature 0.8",
    )
    p.add_argument("run", help="run directory written by `seqgan train`")
    p.add_argument("--out", required=True, metavar="DIR", help="new (or empty) folder")
    p.add_argument("--checkpoint", default="last", choices=["last", "best"], help="which checkpoint (default last)")
    p.add_argument("--force", action="store_true", help="replace DIR if it holds an exported model")
    add_json(p)
    p.set_defaults(func=cmd_export)

    p = subcommand(
        sub,
        "sample",
        "generate sequences from a trained run: text for prepared data (spaced as written text, subword pieces "
        "decoded; --tokens: the tokens), ids for the oracle task",
        "seqgan sample runs/demo --num-samples 100 --seed 1 --out samples.txt",
    )
    p.add_argument("run", help="run directory written by `seqgan train`, or an exported model (`seqgan export`)")
    p.add_argument("--checkpoint", default="last", help="last (default), best, prev, or a checkpoint file")
    p.add_argument("--top-k", type=int, help="sample only among the k most likely tokens at each step")
    p.add_argument("--top-p", type=float, help="nucleus sampling: the smallest set of tokens with probability >= p")
    p.add_argument("--prefix", help="text (or ids, oracle task) every sample starts with")
    p.add_argument(
        "--label",
        action="append",
        metavar="NAME",
        help="runs trained on labelled data: generate text of "
        "this label (repeat it for equal shares of several; all, the default: an equal share of every "
        "label); lines are written as LABEL<TAB>text",
    )
    p.add_argument("--resample", type=int, default=0, metavar="K", help=RESAMPLE_HELP)
    p.add_argument("--num-samples", type=int, default=20, help="how many sequences (default 20)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (default 1.0)")
    p.add_argument("--seed", type=seed_type, default=0, help="sampling seed (default 0); same seed, same output")
    p.add_argument("--out", help="output file (default: stdout); written as the samples come, complete or not at all")
    p.add_argument(
        "--tokens",
        action="store_true",
        help='write the vocabulary\'s tokens apart ("a man , sitting .", subword pieces) instead of text as it is '
        'written ("a man, sitting.")',
    )
    add_force(p)
    p.add_argument(
        "--midi-out",
        metavar="DIR",
        help="music runs (`seqgan prepare-midi`): also write one MIDI file "
        "per sample, DIR/sample-0000.mid ... (one token lasts the data's --step seconds, steady tempo), and "
        "DIR/samples.txt",
    )
    p.set_defaults(func=cmd_sample)

    p = subcommand(
        sub,
        "eval",
        "all metrics of a run's checkpoint on fresh samples, as JSON",
        "seqgan eval runs/demo --checkpoint best --json\n\n"
        "Prepared data: BLEU-n of each sample against the whole test set, averaged; Self-BLEU; distinct-n.\n"
        "Music runs (seqgan prepare-midi) add eval/mse: for each generated melody, the mean over its T\n"
        "positions of the squared pitch difference (semitones^2) to the nearest test window (the one\n"
        "that minimises it), averaged over the generated melodies; a rest token counts as the note\n"
        "last heard. BLEU there is over the pitch-token sequences.\n"
        "Runs trained on labelled data ask for every label in turn and add every metric per label\n"
        "(eval/label<k>/..., k in the order of the reported labels) and eval/label_acc: the share of samples\n"
        "a judge assigns to the label asked for (the exact Bayes classifier on the conditional oracle\n"
        "task; on text, a CNN trained here on the real training split), beside eval/label_acc_real, the\n"
        "same judge on the real split (its accuracy, the ceiling).",
    )
    p.add_argument("run", help="run directory written by `seqgan train`, or an exported model (`seqgan export`)")
    p.add_argument("--checkpoint", default="last", help="last (default), best, prev, or a checkpoint file")
    p.add_argument("--resample", type=int, default=0, metavar="K", help=RESAMPLE_HELP + "; NLL: the residual model's")
    p.add_argument("--num-samples", type=int, help="generated samples (default: the run's eval.num_samples)")
    p.add_argument("--seed", type=seed_type, default=0, help="sampling seed (default 0)")
    p.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="sample at this softmax temperature and score "
        "NLL_test under the same softmax: one point of the quality-diversity curve of Caccia et al. "
        "(2020) (default 1.0)",
    )
    p.add_argument(
        "--split",
        choices=["test", "valid"],
        default="test",
        help="the held-out split scored against: "
        "test (default; the reported numbers) or valid (what model selection reads)",
    )
    p.add_argument(
        "--lm",
        action="store_true",
        help="text runs: also eval/lm_score (NLL of the samples under an "
        "LSTM LM of the real training split) and eval/reverse_lm_score (NLL of the split under an LSTM LM "
        "trained on the samples); trains the LMs here (minutes on a CPU)",
    )
    p.add_argument("--lm-cache", metavar="DIR", help="where the real-text LM is kept and reused (default RUN/lm)")
    p.add_argument(
        "--data",
        metavar="DIR",
        help="score against this prepared directory's split instead of the run's "
        "own (an exported model carries no data)",
    )
    add_json(p)
    p.set_defaults(func=cmd_eval)
