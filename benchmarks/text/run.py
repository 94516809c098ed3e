"""COCO captions: does the discriminator help on text? SeqGAN against early-stopped, temperature-tuned MLE and
against the controls, each on its quality-diversity frontiers (BLEU-4 / Self-BLEU-4, LM / reverse LM score).

    python benchmarks/text/run.py --coco ../shared/data/coco --out runs/coco [--preset coco-cpu]
        [--seeds 1 2 3] [--parts table controls sweep lm] [--workers 2]
    python benchmarks/text/report.py --runs runs/coco          # -> benchmarks/text/results.md + PNGs

Data: `seqgan prepare image_coco.txt --test-file test_coco.txt --level punct` (a tenth of the training captions
held out for validation; the vocabulary from the training captions alone). Per seed, the SeqGAN run is trained from
scratch; its MLE pre-training stops early on the validation NLL and keeps the best-validation generator, which is
the early-stopped MLE baseline (``mle_es``: its pretrained.pt). MLE on a fixed schedule (as many more MLE epochs as
there are adversarial epochs) and the controls (shuffled reward, constant reward, mean baseline, plain SGD) fork
from that pre-training. The test captions are read once per system, by the final evaluation: at every inverse
temperature of ALPHAS, BLEU-2..5 against all test captions, Self-BLEU-2..5, NLL_test, entropy and the LM score;
the reverse LM score at REVERSE_ALPHAS (it trains an LM per point). Resumable: rerun the same command.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import ROOT, load_manifest, run_jobs, train  # noqa: E402

from seqgan.env import env_snapshot  # noqa: E402
from seqgan.eval.lm import LMSettings  # noqa: E402
from seqgan.files import write_json  # noqa: E402
from seqgan.train.portable import load_run  # noqa: E402

# Fixed-schedule MLE: the adversarial epochs spent on maximum likelihood instead (the paper's MLE column).
COLUMNS = {"seqgan": [], "mle": ["adversarial.mode=mle"]}
CONTROLS = {
    "shuffled_reward": ["adversarial.reward_shuffle=true"],
    "constant_reward": ["adversarial.reward=constant"],
    "baseline_mean": ["adversarial.reward_baseline=mean"],
    "sgd": ["adversarial.g_optimizer=sgd", "adversarial.g_lr={sgd_lr}"],
}
SGD_LR = 1.7  # as in benchmarks/oracle: as far a move of G over 5 epochs as Adam's at 0.01 (docs/LOG.md)
ALPHAS = [0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0]  # inverse temperatures of the BLEU / LM-score sweep
REVERSE_ALPHAS = [0.8, 1.0, 1.25, 1.5]  # where the reverse LM score is measured (one LM trained per point)
REVERSE_LM = LMSettings(max_epochs=10)  # the LM trained on each system's samples (the same for every system)


def final_eval(run: Path, out: Path, seed: int, num: int, parts: list[str], checkpoint: str = "last") -> None:
    """The reported numbers of a system on the test captions (stored in ``out``/final_eval.json, resumable point by
    point): every metric at temperature 1 and, with "sweep", at every alpha; "lm" adds the LM scores."""
    path = out / "final_eval.json"
    result = (
        json.loads(path.read_text())
        if path.exists()
        else {"checkpoint": checkpoint, "num_samples": num, "seed": seed, "sweep": {}}
    )
    alphas = ALPHAS if "sweep" in parts else [1.0]
    r = None
    for alpha in alphas:
        key = f"{alpha:g}"
        want_lm = "lm" in parts
        want_reverse = want_lm and alpha in REVERSE_ALPHAS
        have = result["sweep"].get(key, {})
        if have and (not want_lm or "eval/lm_score" in have) and (not want_reverse or "eval/reverse_lm_score" in have):
            continue
        r = r or load_run(run, checkpoint)
        metrics = r.evaluate(
            num, seed, 1.0 / alpha, "test", lm=want_lm, reverse_lm=want_reverse, lm_cache=out.parent.parent / "lm"
        )
        result["sweep"][key] = {"alpha": alpha, **metrics}
        out.mkdir(parents=True, exist_ok=True)
        write_json(path, result)
        print(f"[{time.strftime('%H:%M:%S')}] evaluated {out.name} of seed {seed} at alpha {alpha:g}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    ap.add_argument("--coco", required=True, help="folder with image_coco.txt and test_coco.txt")
    ap.add_argument("--out", required=True, help="folder for the prepared data and the runs (created)")
    ap.add_argument("--preset", default="coco-cpu", help="coco-cpu (2 CPU cores, default) or coco-gpu")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument(
        "--parts",
        nargs="+",
        default=["table", "controls", "sweep", "lm"],
        choices=["table", "controls", "sweep", "lm"],
        help="what to run (default: all)",
    )
    ap.add_argument("--num-samples", type=int, default=5000, help="samples per evaluation point (default 5000)")
    ap.add_argument(
        "--sgd-lr", type=float, default=SGD_LR, help=f"learning rate of the plain-SGD control (default {SGD_LR})"
    )
    ap.add_argument("--workers", type=int, default=1, help="runs trained at once, one torch thread each (default 1)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    args = ap.parse_args()

    t_start = time.perf_counter()
    coco, out = Path(args.coco), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    if not (data / "manifest.json").exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "seqgan",
                "prepare",
                str(coco / "image_coco.txt"),
                "--test-file",
                str(coco / "test_coco.txt"),
                "--level",
                "punct",
                "--out",
                str(data),
                "--json",
            ],
            check=True,
            cwd=ROOT,
        )
    manifest = load_manifest(
        out,
        {
            "preset": args.preset,
            "seeds": args.seeds,
            "parts": args.parts,
            "controls": CONTROLS,
            "sgd_lr": args.sgd_lr,
            "alphas": ALPHAS,
            "reverse_alphas": REVERSE_ALPHAS,
            "reverse_lm": REVERSE_LM.to_dict(),
            "lm": LMSettings().to_dict(),
            "num_samples": args.num_samples,
            "workers": args.workers,
            "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "data": str(data),
            "env": env_snapshot(torch.device("cpu")),
        },
    )
    common = ["--preset", args.preset, "--device", args.device]
    overrides = {**COLUMNS, **CONTROLS}
    jobs = [(seed, name) for seed in args.seeds for name in COLUMNS if "table" in args.parts]
    # control-major: every seed of a control before the next control, so a run cut short has whole controls
    jobs += [(seed, "seqgan") for seed in args.seeds if "controls" in args.parts]
    jobs += [(seed, name) for name in CONTROLS for seed in args.seeds if "controls" in args.parts]

    def job(seed: int, name: str) -> None:
        source, run = out / f"seed{seed}" / "seqgan", out / f"seed{seed}" / name
        log_file = out / "logs" / f"seed{seed}_{name}.log" if args.workers > 1 else None
        if name == "seqgan":
            train(source, [*common, "--data", str(data), "--seed", str(seed)], manifest, log_file)
            final_eval(
                source, out / f"seed{seed}" / "mle_es", seed, args.num_samples, args.parts, checkpoint="pretrained"
            )
        else:
            sets = [x for o in overrides[name] for x in ("--set", o.format(sgd_lr=args.sgd_lr))]
            train(run, [*common, "--init-from", str(source), *sets], manifest, log_file)
        final_eval(run, run, seed, args.num_samples, args.parts)

    if args.workers > 1:
        torch.set_num_threads(1)  # the evaluations run in this process beside the workers
    run_jobs(out, jobs, job, args.workers, manifest, t_start)
    print(f"done: python benchmarks/text/report.py --runs {out}")


if __name__ == "__main__":
    main()
