"""One G step's rewards: the paper's Monte Carlo roll-outs scored by the CNN against ScratchGAN's dense rewards from
a recurrent D (one pass, no roll-outs), at the demo preset's sizes (B 64, N 16, T 20, V 5,000) or the paper's D.

    python benchmarks/perf/dense_rewards.py [--preset demo] [--repeats 5]

Prints the seconds of each estimator (median of the repeats, after one warm-up) and their ratio, measured in one
run; the models are freshly initialised (the cost does not depend on the weights).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from seqgan import presets
from seqgan.config import apply_overrides
from seqgan.models.build import build_models
from seqgan.train.rewards import REWARDS, RewardInputs


def time_estimator(name: str, sets: list[str], preset: str, repeats: int) -> float:
    cfg = apply_overrides(presets.get(preset), [f"adversarial.reward={name}", *sets])
    cfg.resolve_auto(False)  # fp32 everywhere: the two estimators compared on the same arithmetic
    torch.manual_seed(0)
    g, d, _ = build_models(cfg)
    rng = torch.Generator().manual_seed(0)
    estimator = REWARDS[name]()
    times = []
    for i in range(repeats + 1):
        tokens, states = g.sample(cfg.adversarial.batch_size, cfg.data.seq_len, rng, return_states=True)
        batch = RewardInputs(tokens, states, None, g, d, rng, cfg.adversarial, tokens)
        t0 = time.perf_counter()
        estimator(batch)
        if i:  # the first call warms the kernels up
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    mc = time_estimator("discriminator", [], args.preset, args.repeats)
    dense = time_estimator("dense", ["discriminator.kind=lstm"], args.preset, args.repeats)
    result = {
        "preset": args.preset,
        "threads": torch.get_num_threads(),
        "monte_carlo_s": round(mc, 4),
        "dense_s": round(dense, 4),
        "speedup": round(mc / dense, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
