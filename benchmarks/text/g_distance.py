"""How far each system moved the generator from the pre-trained one it forked from: the L2 distance of G's
parameters between the SeqGAN run's ``checkpoints/pretrained.pt`` and each run's ``checkpoints/last.pt``, per seed.

    python benchmarks/text/g_distance.py --runs runs/coco-evidence [--systems seqgan sgd constant_reward]

A diagnostic for the optimiser control: it tells whether plain SGD moved G less or more than Adam did.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from seqgan.train.checkpoint import load_file


def distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """L2 norm of the difference of two state dicts over their floating-point tensors."""
    return float(sum(((b[k].double() - a[k].double()) ** 2).sum() for k in a if a[k].is_floating_point()) ** 0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", required=True, help="the benchmark's output folder (seed1/, seed2/, ...)")
    ap.add_argument(
        "--systems", nargs="+", default=["seqgan", "constant_reward", "shuffled_reward", "baseline_mean", "sgd", "mle"]
    )
    args = ap.parse_args()
    print("| seed | " + " | ".join(args.systems) + " |")
    print("|---" * (len(args.systems) + 1) + "|")
    for seed_dir in sorted(Path(args.runs).glob("seed*")):
        base = load_file(seed_dir / "seqgan" / "checkpoints" / "pretrained.pt")["generator"]
        cells = []
        for name in args.systems:
            last = seed_dir / name / "checkpoints" / "last.pt"
            cells.append(f"{distance(base, load_file(last)['generator']):.1f}" if last.exists() else "n/a")
        print(f"| {seed_dir.name[4:]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
