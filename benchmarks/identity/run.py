"""Fingerprints of training runs, to check that a change of the code keeps every number: trains the `tiny` preset
under each training path (the paper's reward, PG-BLEU, the controls, the baselines of Table 1, the delayed roll-out
policy, labels, the Transformer, text data) and optionally the `demo` preset, and writes every logged number except
wall times to one JSON file per run. Compare two such folders with --compare.

    python benchmarks/identity/run.py --out /tmp/before [--demo]     # on the old code
    python benchmarks/identity/run.py --out /tmp/after [--demo]      # on the new code
    python benchmarks/identity/run.py --compare /tmp/before /tmp/after

Run both with the same thread count (OMP_NUM_THREADS): a different count may change the last bits of a sum.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from seqgan import presets
from seqgan.config import apply_overrides
from seqgan.train.logbook import read_metrics
from seqgan.train.trainer import SeqGANTrainer

TINY = {
    "tiny": [],
    "tiny-shuffled": ["adversarial.reward_shuffle=true"],
    "tiny-constant": ["adversarial.reward=constant"],
    "tiny-bleu": ["adversarial.reward=bleu"],
    "tiny-mean-sgd": ["adversarial.reward_baseline=mean", "adversarial.g_optimizer=sgd"],
    "tiny-delayed-dropout": ["adversarial.rollout_policy=delayed", "adversarial.reward_dropout=true"],
    "tiny-mle": ["adversarial.mode=mle"],
    "tiny-ss": ["adversarial.mode=ss", "adversarial.ss_decay=0.1"],
    "tiny-early": ["pretrain.patience=1", "pretrain.g_epochs=8", "eval.every=1"],
    "tiny-labels": ["data.num_labels=3"],
    "tiny-transformer": ["generator.kind=transformer", "generator.emb_dim=16"],
    "tiny-bf16": ["adversarial.reward_bf16=true", "discriminator.train_bf16=true"],
    "tiny-text": [],  # prepared text: EOS, PAD, sequences of different lengths
}


def text_data(folder: Path) -> str:
    """A small corpus of lines of different lengths, prepared at the word level."""
    from seqgan.cli import main as cli

    words = "the a cat dog sat ran on under mat tree big small red".split()
    lines = [" ".join(words[(i * k) % len(words)] for k in range(1, 3 + i % 9)) for i in range(600)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.txt").write_text("\n".join(lines) + "\n")
    if cli(["prepare", str(folder / "corpus.txt"), "--out", str(folder / "data")]) != 0:
        raise SystemExit("prepare failed")
    return str(folder / "data")


def fingerprint(run: Path) -> dict:
    events = [{k: v for k, v in e.items() if not k.startswith("time/")} for e in read_metrics(run / "metrics.jsonl")]
    samples = {p.name: p.read_text() for p in sorted((run / "samples").glob("*.txt"))}
    return {"events": events, "samples": samples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for the runs and their fingerprints")
    parser.add_argument("--demo", action="store_true", help="also the demo preset (minutes)")
    parser.add_argument("--only", nargs="*", help="names of the runs to train (default: all)")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        before, after = args.compare
        names = sorted(p.name for p in before.glob("*.json"))
        bad = 0
        for name in names:
            a, b = json.loads((before / name).read_text()), json.loads((after / name).read_text())
            same = a == b
            bad += not same
            print(f"{name[:-5]:24s} {'identical' if same else 'DIFFERENT'} ({len(a['events'])} events)")
        return 1 if bad or not names else 0
    runs = dict(TINY)
    if args.demo or (args.only and "demo" in args.only):
        runs["demo"] = []
    for name, sets in runs.items():
        if args.only and name not in args.only:
            continue
        cfg = presets.get("demo" if name == "demo" else "tiny")
        apply_overrides(cfg, sets)
        if name == "tiny-text":
            cfg.data.path = text_data(args.out / "text")
        cfg.run.progress = False
        run_dir = args.out / name
        torch.manual_seed(0)
        SeqGANTrainer(cfg, run_dir, command=f"identity {name}").fit()
        (args.out / f"{name}.json").write_text(json.dumps(fingerprint(run_dir), indent=1))
        print(name, "done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
