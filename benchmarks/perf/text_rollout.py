"""One G step's roll-out rewards on a trained text run's own G and D: every roll-out row kept to the end and every
completion scored in fp32, against the roll-outs with EOS levers (ended rows dropped, ended prefixes skipped,
windows of PAD only computed once) in fp32 and in bf16; the same rewards.

    python benchmarks/perf/text_rollout.py --run runs/coco/seed1/seqgan [--batch 64] [--rollout-num 16]

Prints one JSON object: seconds of each path (median of 3), the ratios, and the largest change of a reward on a
real position between the every-row path and the default one.
"""

from __future__ import annotations

import argparse
import json

import torch

from seqgan.models.sampling import sequence_mask
from seqgan.tools.bench import eos_rollout_figures
from seqgan.train.portable import load_run
from seqgan.train.rollout import rollout_completions, rollout_rewards, rollout_uniforms, score, score_completions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a run directory of text data (its last checkpoint is used)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rollout-num", type=int, default=16)
    args = parser.parse_args()
    run = load_run(args.run, "last")
    g, d, T = run.generator, run.discriminator, run.config.data.seq_len
    if g.eos_token is None:
        raise SystemExit("error: the run's data has no EOS token (the oracle task); give a run of text data")
    rng = torch.Generator().manual_seed(0)
    tokens, states = g.sample(args.batch, T, rng, return_states=True)
    dev = tokens.device
    out = {
        "run": args.run,
        "seq_len": T,
        "batch": args.batch,
        "rollout_num": args.rollout_num,
        "threads": torch.get_num_threads(),
        "mean_length": float(sequence_mask(tokens, g.eos_token).sum(dim=1).float().mean()),
    }
    figures = eos_rollout_figures(g, d, tokens, states, args.rollout_num, rng, dev, 3, bf16=True)
    out.update(
        all_rows_s=figures["all_rows_s"],
        fp32_s=figures["fp32_s"],
        bf16_s=figures["s"],
        fp32_speedup=figures["all_rows_s"] / figures["fp32_s"],
        bf16_speedup=figures["speedup"],
    )
    # The same random numbers through both paths: the rewards must agree on every real position.
    u = rollout_uniforms(args.batch, T, args.rollout_num, torch.Generator().manual_seed(1), dev)
    comp = rollout_completions(g, tokens, args.rollout_num, states, uniforms=u, drop_ended=False)
    every_row = torch.cat([score_completions(d, tokens, comp).mean(dim=1).T, score(d, tokens).unsqueeze(1)], dim=1)
    default = rollout_rewards(g, d, tokens, args.rollout_num, states, uniforms=u)
    real = sequence_mask(tokens, g.eos_token)
    out["max_reward_change"] = float((every_row - default)[real].abs().max())
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
