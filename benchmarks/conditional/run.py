"""Conditional generation with a known answer: `seqgan verdict` on the conditional oracle task, early-stopped MLE
against SeqGAN and the controls, per label and on label accuracy.

    python benchmarks/conditional/run.py --out runs/conditional [--preset demo] [--labels 4] [--seeds 1 2 3]
        [--workers 1] [--results benchmarks/conditional]     # -> results.md, verdict.json, the frontier PNG

The oracle is one LSTM of the paper's shape whose first input is a label's embedding (N(0, 1), like every oracle
weight) instead of the start token's, so each label has its own distribution over sequences, and both the
per-label NLL_oracle of generated sequences and the best possible judge of their label (the Bayes classifier:
argmax_k P_oracle(sequence | k), equal label shares) are exact. Per seed, one SeqGAN run is trained from scratch on
``--labels`` labels; its early-stopped MLE pre-training is the MLE baseline, and the shuffled and constant rewards
fork from it (the same policy-gradient updates with rewards that say nothing about the sequence or its label). The
verdict compares every system on the NLL_oracle / NLL_test frontier and, at temperature 1, on the label accuracy of
generated sequences under the Bayes judge (beside the judge's accuracy on real test sequences, the ceiling), paired
by seed. Resumable: the same command again trains nothing twice. A thin caller of the package's verdict.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqgan.errors import UserError  # noqa: E402
from seqgan.tools import verdict  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    ap.add_argument("--out", required=True, help="folder for the runs (created)")
    ap.add_argument("--preset", default="demo", help="preset of every run (default demo)")
    ap.add_argument("--labels", type=int, default=4, help="labels of the conditional oracle (default 4)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--num-samples", type=int, default=4992, help="generated sequences per measured point")
    ap.add_argument("--workers", type=int, default=1, help="runs trained at once, one torch thread each")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config key of every run")
    ap.add_argument("--results", default=str(Path(__file__).resolve().parent), help="where results.md goes")
    args = ap.parse_args()
    results = Path(args.results)
    opts = verdict.Options(
        out=Path(args.out),
        preset=args.preset,
        seeds=args.seeds,
        systems=["shuffled_reward", "constant_reward"],
        sets=[f"data.num_labels={args.labels}", *args.set],
        workers=args.workers,
        num_samples=args.num_samples,
        report=results,
        command="python benchmarks/conditional/run.py " + shlex.join(sys.argv[1:]),
    )
    try:
        verdict.run(opts, say=print)
    except UserError as e:
        sys.exit(f"error: {e}")
    (results / "verdict.json").write_bytes((Path(args.out) / "verdict.json").read_bytes())
    print(f"wrote {results / 'results.md'} and {results / 'verdict.json'}")


if __name__ == "__main__":
    main()
