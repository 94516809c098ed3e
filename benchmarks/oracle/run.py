"""Table 1 of the paper on the synthetic oracle, measured: every column for several seeds, the controls that
separate D's information from the sharpening of the policy, the ablations, the g-steps / d-steps / k settings of
Fig. 3 and every system's quality-diversity frontier.

    python benchmarks/oracle/run.py --out runs/oracle [--preset demo] [--seeds 1 2 3]
        [--oracle-params target_params_py3.pkl] [--parts table controls ablations sweep fig3]
    python benchmarks/oracle/report.py --runs runs/oracle     # -> benchmarks/oracle/results.md + PNGs

Every column is an option of the one trainer. Per seed, the SeqGAN run is trained from scratch; its MLE
pre-training stops early on the validation NLL (the preset's ``pretrain.patience``) and keeps the best-validation
generator, which is the **early-stopped MLE** baseline (``mle_es``: its ``checkpoints/pretrained.pt``, evaluated,
not trained further). MLE on the paper's fixed schedule, scheduled sampling, PG-BLEU, the controls and every
ablation start from that pre-training (``seqgan train --init-from``, tested equal to training from scratch), so all
columns of a seed share one pre-trained G and D and differ only in what follows. Random is the untrained generator
(and uniform tokens). Model selection reads the validation split only; the test split is read here, once per
system, for the reported numbers (``final_eval.json``). Runs are resumable: run the same command again after an
interruption and finished runs are skipped, unfinished ones resumed. Each run directory holds its exact command.

``--workers K`` trains K runs at once (each in its own process with one torch thread, its output in
``OUT/logs/``): the seeds' SeqGAN runs are queued first, and a fork waits for the run it forks from.
On a machine with K cores this is the fastest use of it (torch's own threads scale worse than separate
processes at these sizes, docs/LOG.md 2026-12-02).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import load_manifest, run_jobs, train  # noqa: E402

from seqgan import presets  # noqa: E402
from seqgan.env import env_snapshot
from seqgan.eval.metrics import mean_entropy, mean_nll, sequence_nll, temperature_sweep  # noqa: E402
from seqgan.files import write_json  # noqa: E402
from seqgan.models.build import build_models
from seqgan.train.portable import load_run  # noqa: E402

# Table 1 columns after pre-training: the --set overrides of each (SeqGAN itself: the preset).
# Scheduled sampling: P(true token) falls by ss_decay per epoch (paper: 0.002 over 200 epochs, i.e. to 0.6);
# the decay is scaled to the preset's number of adversarial epochs so that it ends at 0.6 as well.
COLUMNS = {
    "seqgan": [],
    "mle": ["adversarial.mode=mle"],
    "ss": ["adversarial.mode=ss", "adversarial.ss_decay={ss_decay}"],
    "pg_bleu": ["adversarial.reward=bleu"],
}
# Controls (Caccia et al. 2020; evaluation-protocol.md section 4): each keeps SeqGAN's training and changes one
# thing. Shuffled and constant rewards carry no information about the sequence; the mean baseline removes the
# all-positive push; plain SGD removes Adam's per-parameter normalisation (its learning rate: SGD_LR).
CONTROLS = {
    "shuffled_reward": ["adversarial.reward_shuffle=true"],
    "constant_reward": ["adversarial.reward=constant"],
    "baseline_mean": ["adversarial.reward_baseline=mean"],
    "sgd": ["adversarial.g_optimizer=sgd", "adversarial.g_lr={sgd_lr}"],
}
# Plain SGD's step size (--sgd-lr): the clip (5.0) is always active in the policy-gradient step (g/grad_norm
# 85-140), so an SGD step has norm lr x 5. The default makes the generator move as far from its pre-trained weights
# over 5 adversarial epochs of the demo preset as Adam at 0.01 does (L2 distance 18.0; SGD at 0.1 and 1.0 moved it
# 1.12 and 10.5, docs/LOG.md 2026-12-03).
SGD_LR = 1.7
ABLATIONS = {
    "rollout_n1": ["adversarial.rollout_num=1"],
    "rollout_n4": ["adversarial.rollout_num=4"],
    "rollout_n32": ["adversarial.rollout_num=32"],
    "delayed_policy": ["adversarial.rollout_policy=delayed"],
    "reward_dropout": ["adversarial.reward_dropout=true"],
}
# Fig. 3 of the paper: (g-steps, d-steps, k); (d) is the authors' default.
FIG3 = {"g100_d1_k10": (100, 1, 10), "g30_d1_k30": (30, 1, 30), "g1_d1_k10": (1, 1, 10), "g1_d5_k3": (1, 5, 3)}


def fig3_epochs(g_steps: int, epochs: int, max_g_steps: int | None) -> int:
    """Adversarial epochs of a Fig. 3 run: ``epochs``, cut so that it takes at most ``max_g_steps`` G steps
    (g-steps 100 for 40 epochs is 100x the roll-outs of the default run)."""
    return epochs if max_g_steps is None else max(1, min(epochs, math.ceil(max_g_steps / g_steps)))


ALPHAS = [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0]  # inverse temperatures (Caccia et al. 2020)


def final_eval(
    run: Path, num_samples: int, seed: int, sweep: bool, source: Path | None = None, checkpoint: str = "last"
) -> None:
    """The reported numbers of a system, on the test split: per-sequence NLL_oracle of fresh samples (the t-test's
    unit), NLL_test, entropy and, with ``sweep``, the temperature sweep; stored in ``run``/final_eval.json.
    ``source``/``checkpoint``: evaluate another run's checkpoint (the early-stopped MLE: pretrained.pt)."""
    out = run / "final_eval.json"
    if out.exists() and (not sweep or "sweep" in json.loads(out.read_text())):
        return
    r = load_run(source or run, checkpoint)
    rng = torch.Generator().manual_seed(seed)
    samples = r.generator.generate(num_samples, r.config.data.seq_len, rng)
    per_seq = sequence_nll(r.oracle, samples)
    result = {
        "nll_oracle": float(per_seq.double().mean()),
        "nll_test": mean_nll(r.generator, r.test),
        "entropy": mean_entropy(r.generator, samples),
        "per_sequence": [round(v, 5) for v in per_seq.tolist()],
        "num_samples": num_samples,
        "seed": seed,
        "checkpoint": checkpoint,
    }
    if sweep:
        result["sweep"] = temperature_sweep(r.generator, r.oracle, r.test, ALPHAS, num_samples, seed)
    run.mkdir(parents=True, exist_ok=True)
    write_json(out, result)


def random_eval(source: Path, num_samples: int, seed: int) -> None:
    """The Random column: the untrained generator of ``source`` (its init, before MLE) and uniform tokens."""
    out = source.parent / "random.json"
    if out.exists():
        return
    r = load_run(source, "last")
    cfg = r.config
    torch.manual_seed(cfg.run.seed)  # the trainer builds the models after this seed: the same initial weights
    g = build_models(cfg).generator
    rng = torch.Generator().manual_seed(seed)
    untrained = sequence_nll(r.oracle, g.generate(num_samples, cfg.data.seq_len, rng))
    tokens = torch.randint(0, cfg.data.vocab_size, (num_samples, cfg.data.seq_len), generator=rng)
    uniform = sequence_nll(r.oracle, tokens)
    write_json(
        out,
        {
            "untrained": {
                "nll_oracle": float(untrained.double().mean()),
                "per_sequence": [round(v, 5) for v in untrained.tolist()],
            },
            "uniform": {
                "nll_oracle": float(uniform.double().mean()),
                "per_sequence": [round(v, 5) for v in uniform.tolist()],
            },
        },
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    ap.add_argument("--out", required=True, help="folder for the runs (created)")
    ap.add_argument(
        "--preset",
        default="demo",
        help="preset of every run (default demo: the CPU-scale schedule; paper: the authors' full schedule, a GPU job)",
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="run seeds of the Table 1 columns")
    ap.add_argument("--ablation-seeds", type=int, nargs="+", default=[1], help="seeds of the ablations and Fig. 3")
    ap.add_argument(
        "--oracle-params",
        help="oracle file (the authors' target_params_py3.pkl); default: a fresh "
        "N(0, 1) oracle of the preset (data.oracle_seed)",
    )
    ap.add_argument(
        "--parts",
        nargs="+",
        default=["table", "controls", "sweep"],
        choices=["table", "controls", "ablations", "sweep", "fig3"],
        help="what to run (default table controls sweep)",
    )
    ap.add_argument("--fig3-epochs", type=int, help="adversarial epochs of the Fig. 3 runs (default: the preset's)")
    ap.add_argument(
        "--fig3-max-g-steps",
        type=int,
        help="cut each Fig. 3 run to at most this many G steps in all "
        "(default: no cut); the runs are evaluated every epoch",
    )
    ap.add_argument(
        "--sgd-lr",
        type=float,
        default=SGD_LR,
        help=f"learning rate of the plain-SGD control (default {SGD_LR}: as far a move as Adam's on the demo preset)",
    )
    ap.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="train only these systems of the chosen parts (e.g. "
        "seqgan shuffled_reward: SeqGAN, its early-stopped MLE and one control); default: all",
    )
    ap.add_argument("--workers", type=int, default=1, help="runs trained at once, one torch thread each (default 1)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    args = ap.parse_args()

    t_start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = presets.get(args.preset)
    ss_decay = round(0.4 / max(cfg.adversarial.epochs, 1), 6)
    common = ["--preset", args.preset, "--device", args.device]
    manifest = load_manifest(
        out,
        {
            "preset": args.preset,
            "seeds": args.seeds,
            "ablation_seeds": args.ablation_seeds,
            "oracle_params": args.oracle_params,
            "ss_decay": ss_decay,
            "alphas": ALPHAS,
            "controls": CONTROLS,
            "sgd_lr": args.sgd_lr,
            "parts": args.parts,
            "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
            "env": env_snapshot(torch.device("cpu")),
            "columns": COLUMNS,
            "ablations": ABLATIONS,
            "fig3": {k: list(v) for k, v in FIG3.items()},
            "fig3_epochs": args.fig3_epochs,
            "fig3_max_g_steps": args.fig3_max_g_steps,
            "workers": args.workers,
        },
    )

    overrides: dict[str, list[str]] = {**COLUMNS, **CONTROLS, **ABLATIONS}
    jobs: list[tuple[int, str]] = []  # (seed, run name); Table 1 of every seed first
    if "table" in args.parts:
        jobs += [(seed, name) for seed in args.seeds for name in COLUMNS]
    if "controls" in args.parts:
        jobs += [(seed, name) for seed in args.seeds for name in ["seqgan", *CONTROLS]]
    if "ablations" in args.parts:
        jobs += [(seed, name) for seed in args.ablation_seeds for name in ["seqgan", *ABLATIONS]]
    if "fig3" in args.parts:
        jobs += [(seed, "seqgan") for seed in args.ablation_seeds]
        for name, (g, d, k) in FIG3.items():
            e = fig3_epochs(g, args.fig3_epochs or cfg.adversarial.epochs, args.fig3_max_g_steps)
            manifest.setdefault("fig3_run_epochs", {})[name] = e
            overrides[f"fig3_{name}"] = [
                f"adversarial.g_steps={g}",
                f"adversarial.d_steps={d}",
                f"adversarial.k_epochs={k}",
                f"adversarial.epochs={e}",
            ] + (["eval.every=1"] if args.fig3_max_g_steps else [])
            jobs += [(seed, f"fig3_{name}") for seed in args.ablation_seeds]
    if args.only:
        jobs = [(seed, name) for seed, name in jobs if name in args.only or name == "seqgan"]
    n = cfg.eval.num_samples

    def job(seed: int, name: str) -> None:
        source, run = out / f"seed{seed}" / "seqgan", out / f"seed{seed}" / name
        log_file = out / "logs" / f"seed{seed}_{name}.log" if args.workers > 1 else None
        if name == "seqgan":  # the seed's SeqGAN run, trained from scratch; every other run forks from it
            first = ["--seed", str(seed)] + (["--oracle-params", args.oracle_params] if args.oracle_params else [])
            train(source, [*common, *first], manifest, log_file)
            random_eval(source, n, seed)
            # The early-stopped MLE baseline: the generator pre-training ended with, before any adversarial step.
            final_eval(
                out / f"seed{seed}" / "mle_es",
                n,
                seed,
                "sweep" in args.parts and seed in args.seeds,
                source=source,
                checkpoint=str(source / "checkpoints" / "pretrained.pt"),
            )
        else:
            sets = [x for o in overrides[name] for x in ("--set", o.format(ss_decay=ss_decay, sgd_lr=args.sgd_lr))]
            train(run, [*common, "--init-from", str(source), *sets], manifest, log_file)
        sweep = "sweep" in args.parts and name in ("seqgan", *COLUMNS, *CONTROLS) and seed in args.seeds
        final_eval(run, n, seed, sweep)

    if args.workers > 1:
        torch.set_num_threads(1)  # the evaluations run in this process beside the workers
    run_jobs(out, jobs, job, args.workers, manifest, t_start)
    print(f"done: python benchmarks/oracle/report.py --runs {out}")


if __name__ == "__main__":
    main()
