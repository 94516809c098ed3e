"""COCO captions: MLE vs SeqGAN, BLEU-2..5 against the test set, Self-BLEU-2..5, NLL_test.

    python benchmarks/text/run.py --coco ../shared/data/coco --preset coco-cpu --out runs/coco-cpu

Prepares the data (`seqgan prepare image_coco.txt --test-file test_coco.txt --level punct`), trains,
then writes benchmarks/text/results.md from the run's metrics.jsonl (report.py). The MLE row is the
evaluation at the end of MLE pre-training of the same run (same seed, same data); the SeqGAN row the
evaluation at the end of adversarial training.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coco", required=True, help="folder with image_coco.txt and test_coco.txt")
    parser.add_argument("--preset", default="coco-cpu", help="coco-cpu (2 CPU cores) or coco-gpu (full schedule)")
    parser.add_argument("--out", required=True, help="folder for the prepared data and the run")
    parser.add_argument("--seed", type=int, default=88)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    coco, out = Path(args.coco), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seqgan = [sys.executable, "-m", "seqgan"]
    if not (out / "data" / "manifest.json").exists():
        subprocess.run([*seqgan, "prepare", str(coco / "image_coco.txt"), "--test-file", str(coco / "test_coco.txt"),
                        "--level", "punct", "--out", str(out / "data"), "--json"], check=True)  # fmt: skip
    run = out / "run"
    t0 = time.time()
    if (run / "config.json").exists():
        cmd = [*seqgan, "train", "--resume", str(run), "--no-progress"]
    else:
        cmd = [*seqgan, "train", "--preset", args.preset, "--data", str(out / "data"), "--seed", str(args.seed),
               "--device", args.device, "--out-dir", str(run), "--no-progress"]  # fmt: skip
    subprocess.run(cmd, check=True)
    (run / "benchmark_wall_s.txt").write_text(f"{time.time() - t0:.0f}\n")
    subprocess.run([sys.executable, str(HERE / "report.py"), str(run), "--command", " ".join(sys.argv)], check=True)


if __name__ == "__main__":
    main()
