"""``seqgan oracle new|sample|score``: the synthetic oracle LSTM from the command line (argument parsing only)."""

from __future__ import annotations

import argparse
import sys

from seqgan.cli.common import Parser, add_force, add_json, emit, output_file, seed_type, subcommand
from seqgan.errors import UserError


def _oracle_fits(vocab_size: int, emb_dim: int, hidden_dim: int) -> None:
    """Refuse an oracle whose parameters (float64 while drawn) do not fit in the memory this machine has."""
    from seqgan.env import available_memory

    need = 8 * (vocab_size * (emb_dim + hidden_dim + 1) + 4 * hidden_dim * (emb_dim + hidden_dim + 1))
    available = available_memory()
    if available is not None and need > 0.5 * available:
        raise UserError(
            f"an oracle of vocabulary {vocab_size:,}, embedding {emb_dim} and hidden size {hidden_dim} "
            f"needs about {need / 2**30:.1f} GiB while drawn, but {available / 2**30:.1f} GiB are "
            "available: lower --vocab-size, --emb-dim or --hidden-dim"
        )


def cmd_oracle_new(args: argparse.Namespace) -> None:
    from seqgan.models.oracle_file import random_oracle_params, save_oracle_params

    for flag in ("vocab_size", "emb_dim", "hidden_dim"):
        if getattr(args, flag) <= 0:
            raise UserError(f"--{flag.replace('_', '-')} must be > 0")
    _oracle_fits(args.vocab_size, args.emb_dim, args.hidden_dim)
    out = output_file(args.out, args.force)
    save_oracle_params(random_oracle_params(args.vocab_size, args.emb_dim, args.hidden_dim, args.seed), out)
    emit({"out": str(out), "vocab_size": args.vocab_size, "seed": args.seed}, args.json)


MAX_ORACLE_SEQ_LEN = 10_000  # a typo (1000000000) would otherwise hold the machine for days


def cmd_oracle_sample(args: argparse.Namespace) -> None:
    import torch
    from tqdm import tqdm

    from seqgan.data.decode import render_rows
    from seqgan.files import atomic_writer
    from seqgan.models import build_oracle
    from seqgan.models.oracle_file import load_oracle_params
    from seqgan.models.sampling import check_sampling

    check_sampling(args.num_samples)
    if not 1 <= args.seq_len <= MAX_ORACLE_SEQ_LEN:
        raise UserError(f"--seq-len must be in 1..{MAX_ORACLE_SEQ_LEN:,}, got {args.seq_len}")
    out = output_file(args.out, args.force)
    oracle = build_oracle(load_oracle_params(args.params))
    rng = torch.Generator().manual_seed(args.seed)
    chunk = 16 * 1024  # whole sampling batches: the same seed, the same lines, however many are asked for
    bar = tqdm(total=args.num_samples, unit="seq", file=sys.stderr, disable=None, leave=False)
    with atomic_writer(out) as f:
        for lo in range(0, args.num_samples, chunk):
            rows = oracle.generate(min(chunk, args.num_samples - lo), args.seq_len, rng)
            f.write("".join(line + "\n" for line in render_rows(rows, None)).encode())
            bar.update(len(rows))
    bar.close()
    emit({"out": str(out), "num_samples": args.num_samples, "seq_len": args.seq_len}, args.json)


def cmd_oracle_score(args: argparse.Namespace) -> None:
    import torch

    from seqgan.data.lines import read_id_lines
    from seqgan.eval.metrics import sequence_nll
    from seqgan.models import build_oracle
    from seqgan.models.oracle_file import load_oracle_params

    oracle = build_oracle(load_oracle_params(args.params))
    rows = torch.tensor(read_id_lines(args.input, oracle.vocab_size, "--input"))
    per_seq = sequence_nll(oracle, rows)
    emit(
        {"nll_oracle": float(per_seq.double().mean()), "num_sequences": len(rows), "seq_len": rows.shape[1]}, args.json
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = subcommand(
        sub,
        "oracle",
        "make, sample and score with a synthetic oracle LSTM",
        "seqgan oracle new --seed 1 --out oracle.npz",
    )
    osub = p.add_subparsers(dest="oracle_command", metavar="ACTION", parser_class=Parser)
    osub.required = True
    q = subcommand(
        osub,
        "new",
        "draw a fresh oracle with every parameter N(0, 1), as in the paper",
        "seqgan oracle new --seed 1 --out oracle.npz",
    )
    q.add_argument("--seed", type=seed_type, default=0, help="numpy seed of the draw (default 0)")
    q.add_argument("--out", required=True, help="output .npz file")
    add_force(q)
    q.add_argument("--vocab-size", type=int, default=5000, help="vocabulary (default 5000, authors' code)")
    q.add_argument("--emb-dim", type=int, default=32, help="embedding size (default 32, authors' code)")
    q.add_argument("--hidden-dim", type=int, default=32, help="hidden size (default 32, authors' code)")
    add_json(q)
    q.set_defaults(func=cmd_oracle_new)
    q = subcommand(
        osub,
        "sample",
        "write oracle samples, one sequence of space-separated ids per line",
        "seqgan oracle sample --params oracle.npz --num-samples 9984 --seed 1 --out real.txt",
    )
    q.add_argument("--params", required=True, help="oracle file (.npz or the authors' .pkl)")
    q.add_argument("--num-samples", type=int, default=9984, help="how many sequences (default 9984, authors' code)")
    q.add_argument("--seq-len", type=int, default=20, help="tokens per sequence (default 20)")
    q.add_argument("--seed", type=seed_type, default=0, help="sampling seed (default 0)")
    q.add_argument("--out", required=True, help="output text file (written as the lines come, complete or not at all)")
    add_force(q)
    add_json(q)
    q.set_defaults(func=cmd_oracle_sample)
    q = subcommand(
        osub,
        "score",
        "NLL_oracle of sequences: mean per-token negative log-likelihood in nats",
        "seqgan oracle score --params oracle.npz --input samples.txt --json",
    )
    q.add_argument("--params", required=True, help="oracle file (.npz or the authors' .pkl)")
    q.add_argument("--input", required=True, help="text file, one sequence of space-separated ids per line")
    add_json(q)
    q.set_defaults(func=cmd_oracle_score)
