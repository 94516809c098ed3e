"""Table 1 of the paper on the synthetic oracle, measured: `seqgan verdict` with every column of Table 1 and the
controls that separate D's information from the sharpening of the policy, for several seeds; the ablations and the
g-steps / d-steps / k settings of Fig. 3 on fewer seeds.

    python benchmarks/oracle/run.py --out runs/oracle [--preset demo] [--seeds 1 2 3] [--workers 2]
        [--oracle-params target_params_py3.pkl] [--parts table controls ablations fig3] [--only NAME ...]
    python benchmarks/oracle/report.py --runs runs/oracle     # Table 1 beside the paper, the curves -> results.md

A thin caller of the package's verdict (seqgan/tools/verdict/): per seed, the SeqGAN run is trained from scratch
and its early-stopped MLE pre-training is the MLE baseline (``mle_es``); MLE on the paper's fixed schedule,
scheduled sampling, PG-BLEU and the controls fork from that pre-training, so all columns of a seed share one
pre-trained G and D. Every system is swept over temperature on the test split and compared on the NLL_oracle /
NLL_test frontier (OUT/verdict.json, then results.md and the PNGs in --results, with verdict.json beside them).
The ablations and Fig. 3's settings are user systems of a second verdict in OUT/ablations (seeds --ablation-seeds;
their SeqGAN run is the main one's, copied). Random is the untrained generator (and uniform tokens), per seed in
OUT/seedS/random.json. Resumable: run the same command again and nothing is trained twice.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from seqgan import presets  # noqa: E402
from seqgan.errors import UserError  # noqa: E402
from seqgan.eval.metrics import sequence_nll  # noqa: E402
from seqgan.files import write_json  # noqa: E402
from seqgan.models.build import build_models  # noqa: E402
from seqgan.tools import verdict  # noqa: E402
from seqgan.train.portable import load_run  # noqa: E402

HERE = Path(__file__).resolve().parent
COLUMNS = ["mle", "ss", "pg_bleu"]  # Table 1 beside SeqGAN and the early-stopped MLE
CONTROLS = ["shuffled_reward", "constant_reward", "baseline_mean", "sgd"]
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


def random_eval(source: Path, num_samples: int, seed: int) -> dict:
    """The Random column: the untrained generator of ``source`` (its init, before MLE) and uniform tokens."""
    out = source.parent / "random.json"
    if out.exists():
        return json.loads(out.read_text())
    r = load_run(source, "last")
    cfg = r.config
    torch.manual_seed(cfg.run.seed)  # the trainer builds the models after this seed: the same initial weights
    g = build_models(cfg).generator
    rng = torch.Generator().manual_seed(seed)
    untrained = sequence_nll(r.oracle, g.generate(num_samples, cfg.data.seq_len, rng))
    tokens = torch.randint(0, cfg.data.vocab_size, (num_samples, cfg.data.seq_len), generator=rng)
    result = {
        "untrained": float(untrained.double().mean()),
        "uniform": float(sequence_nll(r.oracle, tokens).double().mean()),
    }
    write_json(out, result)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    ap.add_argument("--out", required=True, help="folder for the runs (created)")
    ap.add_argument("--preset", default="demo", help="preset of every run (default demo; paper: a GPU job)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="run seeds of the Table 1 columns")
    ap.add_argument("--ablation-seeds", type=int, nargs="+", default=[1], help="seeds of the ablations and Fig. 3")
    ap.add_argument("--oracle-params", help="oracle file (the authors' target_params_py3.pkl); default: a fresh one")
    ap.add_argument(
        "--parts",
        nargs="+",
        default=["table", "controls"],
        choices=["table", "controls", "ablations", "fig3", "sweep"],
        help="what to run (default table controls; every system is swept over temperature)",
    )
    ap.add_argument("--only", nargs="+", metavar="NAME", help="only these systems of the chosen parts")
    ap.add_argument("--fig3-epochs", type=int, help="adversarial epochs of the Fig. 3 runs (default: the preset's)")
    ap.add_argument("--fig3-max-g-steps", type=int, help="cut each Fig. 3 run to at most this many G steps")
    ap.add_argument("--sgd-lr", type=float, default=verdict.systems.SGD_LR, help="plain-SGD control's rate")
    ap.add_argument("--num-samples", type=int, help="samples per measured point (default: the preset's)")
    ap.add_argument("--workers", type=int, default=1, help="runs trained at once, one torch thread each (default 1)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config key of every run")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--results", default=str(HERE), help="folder for results.md, verdict.json and the PNGs")
    args = ap.parse_args()
    out, results = Path(args.out), Path(args.results)
    systems = (COLUMNS if "table" in args.parts else []) + (CONTROLS if "controls" in args.parts else [])
    systems = [s for s in systems if not args.only or s in args.only]
    command = "python benchmarks/oracle/run.py " + shlex.join(sys.argv[1:])
    common = {
        "preset": args.preset,
        "oracle_params": args.oracle_params,
        "sets": args.set,
        "workers": args.workers,
        "num_samples": args.num_samples,
        "sgd_lr": args.sgd_lr,
        "device": args.device,
        "command": command,
    }
    try:
        verdict.run(verdict.Options(out=out, seeds=args.seeds, systems=systems, report=results, **common), say=print)
        (results / "verdict.json").write_bytes((out / "verdict.json").read_bytes())
        num = args.num_samples or presets.get(args.preset).eval.num_samples
        randoms = {str(s): random_eval(out / f"seed{s}" / "seqgan", num, s) for s in args.seeds}
        write_json(results / "random.json", randoms)
        user = []
        if "ablations" in args.parts:
            user += [[name, *sets] for name, sets in ABLATIONS.items()]
        if "fig3" in args.parts:
            epochs = args.fig3_epochs or presets.get(args.preset).adversarial.epochs
            for name, (g, d, k) in FIG3.items():
                e = fig3_epochs(g, epochs, args.fig3_max_g_steps)
                sets = [f"adversarial.g_steps={g}", f"adversarial.d_steps={d}", f"adversarial.k_epochs={k}"]
                user.append([f"fig3_{name}", *sets, f"adversarial.epochs={e}"])
        user = [u for u in user if not args.only or u[0] in args.only]
        if user:
            extra = out / "ablations"
            for s in args.ablation_seeds:  # the same SeqGAN run and its measurements: copied, not made again
                for name in ("seqgan", "mle_es"):
                    main_run, copy = out / f"seed{s}" / name, extra / f"seed{s}" / name
                    if main_run.exists() and not copy.exists():
                        shutil.copytree(main_run, copy, ignore=shutil.ignore_patterns(".lock"))
            opts = verdict.Options(
                out=extra,
                seeds=args.ablation_seeds,
                systems=[],
                user=user,
                allow_one_seed=True,
                report=extra,
                **common,
            )
            verdict.run(opts, say=print)
            (results / "ablations.json").write_bytes((extra / "verdict.json").read_bytes())
    except UserError as e:
        sys.exit(f"error: {e}")
    print(f"done: python benchmarks/oracle/report.py --runs {out}" + ("" if results == HERE else f" --out {results}"))


if __name__ == "__main__":
    main()
