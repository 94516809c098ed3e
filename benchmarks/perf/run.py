"""Measure `seqgan bench` and write benchmarks/perf/results.md (generated; never edit by hand).

    python benchmarks/perf/run.py [--device cpu|cuda] [--out benchmarks/perf/results.md] [--demo]
    python benchmarks/perf/run.py --render raw.json     # results.md again from a measurement's raw JSON

Every figure comes from one run of seqgan.tools.bench.run_bench in this process; ratios compare figures of
that run only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seqgan.env import cpu_name, git_sha, keep_freed_memory
from seqgan.tools.bench import run_bench

HERE = Path(__file__).resolve().parent
ROWS = [
    ("rollout_batched_fp32_s", "batched roll-out rewards, one G step (B 64, N 16, T 20, V 5,000), D in fp32", "s"),
    ("rollout_batched_bf16_s", "  the same with D in bf16 (adversarial.reward_bf16)", "s"),
    ("d_scoring_prefix_shared_s", "  of which D on the completions in fp32 (prefix windows shared)", "s"),
    ("d_scoring_alone_s", "D scoring of the same 19,520 sequences from scratch", "s"),
    ("d_scoring_prefix_shared_bf16_s", "  the same D part in bf16 (weights laid out once per G step)", "s"),
    ("d_bf16_speedup", "  bf16 speed-up of the D part", "x"),
    ("d_bf16_max_abs_q_diff", "  bf16: largest change of a reward Q (fp32 Q std in the next row)", ""),
    ("q_std", "  std of the fp32 rewards Q over prefixes and sequences", ""),
    ("rollout_page_faults", "  page faults of the process during one G step's rewards (the default configuration)", ""),
    ("rollout_naive_s", "naive roll-out: the authors' loop (prefix re-encoded, torch.multinomial)", "s"),
    ("reward_bf16_default", "  the default configuration scores the rewards in bf16 on this machine", ""),
    ("rollout_path", "roll-out path of the default configuration (adversarial.kernels auto)", ""),
    ("rollout_kernel_fp32_s", "batched roll-out rewards, D's banks as compiled table look-ups (fp32)", "s"),
    ("rollout_kernel_s", "  the same in the default precision", "s"),
    ("d_scoring_kernel_s", "  of which D on the completions (table built included)", "s"),
    ("highway_output_s", "  of which the highway and output layer", "s"),
    ("kernel_first_use_cold_s", "  kernels' first use in a fresh process, compiled", "s"),
    ("kernel_first_use_cached_s", "  the same, loaded from numba's disk cache", "s"),
    ("rollout_speedup", "naive / batched, the default configuration (issue 19's goal >= 17)", "x"),
    ("rollout_speedup_fp32", "  D in fp32", "x"),
    ("rollout_speedup_bf16", "  D in bf16", "x"),
    ("rollout_over_d_scoring", "batched / D scoring alone (goal <= 1.3)", "x"),
    ("text_rollout_all_rows_s", "text-like lengths (T 38, mean length in the next row): every row to the end", "s"),
    ("text_mean_length", "  mean length of the sampled sequences", "tokens"),
    ("text_rollout_fp32_s", "  ended rows leave the batch, ended prefixes not scored, PAD windows once (fp32)", "s"),
    ("text_rollout_s", "  the same in the default configuration (bf16 where native)", "s"),
    ("text_rollout_speedup", "  every row in fp32 / default", "x"),
    ("transformer_rollout_batched_s", "Transformer generator (width 32, 2 layers): roll-outs from the caches", "s"),
    ("transformer_rollout_naive_s", "  the per-prefix loop, every prefix encoded again", "s"),
    ("transformer_rollout_speedup", "  naive / batched", "x"),
    ("transformer_rollout_cache_mb", "  largest key/value cache of the staircase", "MiB"),
    ("matmul_gflops", "fp32 matmul, the machine's reference throughput", "GFLOP/s"),
    ("d_infer_seqs_per_s", "D inference (paper D)", "seq/s"),
    ("d_infer_fraction_of_matmul", "D inference as a fraction of matmul throughput", ""),
    ("d_train_seqs_per_s_fp32", "D training, batch 64: fp32, the per-tensor Adam loop (before issue 19)", "seq/s"),
    ("d_train_seqs_per_s_foreach", "  fp32, vectorised (foreach) Adam: bit-identical results", "seq/s"),
    ("d_train_seqs_per_s_bf16", "  bf16 autocast, filter banks as products, fused Adam (train_bf16)", "seq/s"),
    ("d_train_seqs_per_s", "  the default configuration's path", "seq/s"),
    ("d_train_speedup", "  default / fp32 (goal >= 2)", "x"),
    ("demo_fp32_s", "`seqgan train --preset demo` end to end, D in fp32", "s"),
    ("demo_default_s", "  the same in the default precision (bf16 where native)", "s"),
    ("demo_speedup", "  fp32 / default", "x"),
    ("demo_fp32_nll_oracle", "  last NLL_oracle, fp32", "nats"),
    ("demo_default_nll_oracle", "  last NLL_oracle, default precision", "nats"),
    ("mle_tokens_per_s", "MLE training, batch 64 x 20", "tokens/s"),
    ("sampling_tokens_per_s", "generator sampling, 4,096 x 20", "tokens/s"),
    ("bleu2to5_s", "BLEU-2..5, 10,000 hypotheses x 10,000 references", "s"),
    ("self_bleu2to5_s", "Self-BLEU-2..5 over 10,000 hypotheses", "s"),
    ("peak_rss_mb", "peak resident memory of the process", "MiB"),
    ("peak_gpu_memory_mb", "peak GPU memory", "MiB"),
]


def where_the_time_goes(r: dict) -> list[str]:
    """The split of one G step's roll-out rewards, from this run's figures."""
    lines = ["## Where the time of the roll-out rewards goes", ""]
    for name, total_key, d_key in (
        ("fp32", "rollout_batched_fp32_s", "d_scoring_prefix_shared_s"),
        ("bf16", "rollout_batched_bf16_s", "d_scoring_prefix_shared_bf16_s"),
    ):
        if total_key in r and d_key in r:
            total, d = r[total_key], r[d_key]
            rest = total - d
            lines.append(
                f"- D in {name}: {total:.2f} s in all; D on the completions {d:.2f} s "
                f"({100 * d / total:.0f} %), sampling the continuations and the rest {rest:.2f} s "
                f"({100 * rest / total:.0f} %)."
            )
    if "rollout_naive_s" in r:
        lines.append(
            f"- For 17x the naive loop ({r['rollout_naive_s']:.1f} s) one G step may take "
            f"{r['rollout_naive_s'] / 17:.2f} s."
        )
    return lines


def demo_end_to_end(device: str) -> dict[str, float]:
    """Wall seconds of `seqgan train --preset demo` (a fresh process each), D in fp32 and in the default precision
    (bf16 where the device computes it natively), and each run's last NLL_oracle."""
    out: dict[str, float] = {}
    for name, sets in (("fp32", ["discriminator.train_bf16=false", "adversarial.reward_bf16=false"]), ("default", [])):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                "-m",
                "seqgan",
                "train",
                "--preset",
                "demo",
                "--device",
                device,
                "--no-progress",
                "--out-dir",
                str(Path(tmp) / "run"),
                *[x for s in sets for x in ("--set", s)],
            ]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            out[f"demo_{name}_s"] = time.perf_counter() - start
            events = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
            out[f"demo_{name}_nll_oracle"] = [e for e in events if "eval/nll_oracle" in e][-1]["eval/nll_oracle"]
    out["demo_speedup"] = out["demo_fp32_s"] / out["demo_default_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also train the demo preset end to end, with D in fp32 and in the default precision "
        "(two runs of several minutes each, in a temporary folder)",
    )
    parser.add_argument(
        "--render",
        metavar="JSON",
        help="write results.md from the raw JSON of an earlier measurement (its figures, command, "
        "commit and date) instead of measuring",
    )
    args = parser.parse_args()
    if args.render:
        result = json.loads(Path(args.render).read_text())
    else:
        t0 = time.time()
        keep_freed_memory()  # as the seqgan command does
        result = run_bench(device=args.device)
        if args.demo:
            result.update(demo_end_to_end(args.device))
        result.update(
            command=f"python {' '.join(sys.argv)}",
            commit=git_sha(),
            date=time.strftime("%Y-%m-%d"),
            machine=f"{cpu_name()}, {os.cpu_count()} cores",
            measure_s=round(time.time() - t0),
        )
    Path(args.out).write_text("\n".join(render(result)) + "\n")
    print(json.dumps(result))


def figure_table(result: dict, rows: list[tuple[str, str, str]]) -> list[str]:
    """The markdown table of the ``rows`` (key, label, unit) that ``result`` holds."""

    def fmt(v: float | str) -> str:
        return v if isinstance(v, str) else f"{v:,.0f}" if v >= 1000 else f"{v:.4g}"

    head = ["| figure | value | unit |", "|---|---|---|"]
    return head + [f"| {label} | {fmt(result[key])} | {unit} |" for key, label, unit in rows if key in result]


def render(result: dict) -> list[str]:
    """results.md from one measurement's figures."""
    lines = [
        "# Performance",
        "",
        "Generated by `benchmarks/perf/run.py`; do not edit by hand.",
        "",
        f"- Command: `{result['command']}`",
        f"- Machine: {result['machine']}, device {result['device']}, torch {result['torch']} with {result['threads']} "
        f"threads; commit {result['commit']}; {result['date']}; the whole measurement took {result['measure_s']} s",
        f"- Allocator: {result.get('allocator', 'system default')}",
        "",
        *figure_table(result, ROWS),
    ]
    lines += ["", *where_the_time_goes(result)]
    return [*lines, "", "Raw JSON:", "", "```json", json.dumps(result, indent=1), "```"]


if __name__ == "__main__":
    main()
