"""Text: does the discriminator help? `seqgan verdict` on a pair of train and test files (COCO captions by default),
SeqGAN against early-stopped, temperature-tuned MLE and against the controls, on the BLEU-4 / Self-BLEU-4 and
LM / reverse LM frontiers.

    python benchmarks/text/run.py --coco ../shared/data/coco --out runs/coco [--preset coco-cpu] [--seeds 1 2 3]
    python benchmarks/text/run.py --train my_train.txt --test my_test.txt --out runs/mine --results runs/mine

Steps: `seqgan prepare TRAIN --test-file TEST --level punct --out OUT/data` (a tenth of the training lines held out
for validation; the vocabulary from the training lines alone), then `seqgan verdict` with the fixed-schedule MLE and
every control (shuffled reward, constant reward, mean baseline, plain SGD), which writes OUT/verdict.json and
results.md with the frontier PNGs (default: beside this script; committed with their verdict.json, from which
`seqgan verdict --report-from benchmarks/text/verdict.json --report DIR` regenerates them). Resumable: run the same
command again. A thin caller: the experiment is the package's (seqgan/tools/verdict/).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqgan.errors import UserError  # noqa: E402
from seqgan.tools import verdict  # noqa: E402

SYSTEMS = ["mle", "shuffled_reward", "constant_reward", "baseline_mean", "sgd"]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    ap.add_argument("--coco", help="folder with image_coco.txt and test_coco.txt (the same as --train/--test)")
    ap.add_argument("--train", help="training text, one sequence per line")
    ap.add_argument("--test", help="test text, one sequence per line (read only by the final measurements)")
    ap.add_argument("--out", required=True, help="folder for the prepared data and the runs (created)")
    ap.add_argument("--preset", default="coco-cpu", help="coco-cpu (2 CPU cores, default), coco-gpu, text, tiny")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--systems", nargs="*", default=SYSTEMS, help=f"beside SeqGAN (default {' '.join(SYSTEMS)})")
    ap.add_argument("--num-samples", type=int, default=5000, help="samples per measured point (default 5000)")
    ap.add_argument("--workers", type=int, default=1, help="runs trained at once, one torch thread each")
    ap.add_argument("--no-lm", action="store_true", help="skip the LM scores (the LM frontier)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config key of every run")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--results", default=str(Path(__file__).resolve().parent), help="where results.md goes")
    args = ap.parse_args()
    if args.coco:
        train, test = Path(args.coco) / "image_coco.txt", Path(args.coco) / "test_coco.txt"
    elif args.train and args.test:
        train, test = Path(args.train), Path(args.test)
    else:
        ap.error("give --coco DIR, or --train FILE and --test FILE")
    out = Path(args.out)
    data = out / "data"
    if not (data / "manifest.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        prepare = [sys.executable, "-m", "seqgan", "prepare", str(train), "--test-file", str(test), "--level", "punct"]
        subprocess.run([*prepare, "--out", str(data), "--json"], check=True, cwd=ROOT)
    results = Path(args.results)
    opts = verdict.Options(
        out=out,
        preset=args.preset,
        seeds=args.seeds,
        data=str(data),
        systems=args.systems,
        sets=args.set,
        workers=args.workers,
        num_samples=args.num_samples,
        lm=not args.no_lm,
        device=args.device,
        report=results,
        command="python benchmarks/text/run.py " + shlex.join(sys.argv[1:]),
    )
    try:
        verdict.run(opts, say=print)
    except UserError as e:
        sys.exit(f"error: {e}")
    (results / "verdict.json").write_bytes((out / "verdict.json").read_bytes())
    print(f"wrote {results / 'results.md'} and {results / 'verdict.json'}")


if __name__ == "__main__":
    main()
