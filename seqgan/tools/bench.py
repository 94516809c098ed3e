"""Speed figures at the paper's sizes (B 64, N 16, T 20, V 5,000, the paper's D), one run.

Every figure is measured here, in this process; ratios compare figures from the same run.
"""

from __future__ import annotations

import copy
import math
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import torch

from seqgan import kernels
from seqgan.config import SeqGANConfig, paper_filters
from seqgan.env import allocator, native_bf16, resolve_device
from seqgan.eval.bleu import bleu, self_bleu
from seqgan.models import Discriminator, Generator
from seqgan.models.sampling import sequence_mask
from seqgan.models.transformer import TransformerGenerator
from seqgan.train.losses import discriminator_loss, mle_loss
from seqgan.train.rollout import (
    frozen_cnn,
    kernel_table,
    naive_rollout_rewards,
    probs_from_raw,
    rollout_completions,
    rollout_rewards,
    score,
    score_completions,
)


def median_time(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """Median seconds of ``fn`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def discriminator_flops(d: Discriminator, seq_len: int) -> int:
    """Multiply-adds x 2 of one forward pass on one sequence (convolutions, highway, output)."""
    emb = d.embedding.embedding_dim
    conv = sum(n * w * emb * (seq_len - w + 1) for w, n in d.filters)
    total = sum(n for _, n in d.filters)
    return 2 * (conv + 2 * total * total + 2 * total)


def eos_rollout_figures(
    g: Generator,
    d: Discriminator,
    tokens: torch.Tensor,
    states: object,
    rollout_num: int,
    rng: torch.Generator,
    dev: torch.device,
    reps: int,
    bf16: bool,
) -> dict[str, float]:
    """One G step's rewards for sequences with EOS: every roll-out row kept to the end and every completion scored
    in fp32 (``all_rows_s``), against the roll-outs that drop ended rows, skip ended prefixes and compute windows of
    PAD only once, in fp32 (``fp32_s``) and in the precision ``bf16`` says (``s``); the same rewards."""

    def all_rows() -> torch.Tensor:
        comp = rollout_completions(g, tokens, rollout_num, states, rng=rng, drop_ended=False)
        return score_completions(d, tokens, comp)

    out = {
        "all_rows_s": median_time(all_rows, dev, reps),
        "fp32_s": median_time(lambda: rollout_rewards(g, d, tokens, rollout_num, states, rng=rng), dev, reps),
        "s": median_time(lambda: rollout_rewards(g, d, tokens, rollout_num, states, rng=rng, bf16=bf16), dev, reps),
    }
    out["speedup"] = out["all_rows_s"] / out["s"]
    return out


def kernel_figures(
    g: Generator,
    d: Discriminator,
    tokens: torch.Tensor,
    states: object,
    completions: torch.Tensor,
    rollout_num: int,
    rng: torch.Generator,
    dev: torch.device,
    reps: int,
    bf16: bool,
) -> dict[str, float | str]:
    """The compiled roll-out path (:mod:`seqgan.kernels.cnn_table`) beside the eager one, in this run: which path the
    default configuration takes, one G step's rewards, D's part alone (table built included), the table alone, the
    highway and output layer alone (what the kernel leaves to PyTorch), the largest difference from the eager
    rewards, the table's size at V 20,000 and the kernels' first-use time in a fresh process (cold and cached)."""
    out: dict[str, float | str] = {"rollout_path": kernels.status("auto", SeqGANConfig().adversarial.kernel_table_mb)}
    if kernels.numba_version() is None:
        return out
    from seqgan.kernels import cnn_table

    table_mb = SeqGANConfig().adversarial.kernel_table_mb
    out["rollout_kernel_fp32_s"] = median_time(
        lambda: rollout_rewards(g, d, tokens, rollout_num, states, rng=rng, kernels="numba"), dev, reps
    )
    out["rollout_kernel_s"] = median_time(
        lambda: rollout_rewards(g, d, tokens, rollout_num, states, rng=rng, bf16=bf16, kernels="numba"), dev, reps
    )
    out["d_scoring_kernel_s"] = median_time(
        lambda: score_completions(d, tokens, completions, table=kernel_table(d, "numba", table_mb, dev)), dev, reps
    )
    out["kernel_table_s"] = median_time(lambda: kernel_table(d, "numba", table_mb, dev), dev, reps)
    pooled = torch.randn(
        completions.shape[0] * completions.shape[1] * completions.shape[2], sum(n for _, n in d.filters)
    )
    cnn = frozen_cnn(d, torch.bfloat16 if bf16 else torch.float32)
    out["highway_output_s"] = median_time(lambda: probs_from_raw(d, cnn, pooled), dev, reps)
    eager = score_completions(d, tokens, completions)
    compiled = score_completions(d, tokens, completions, table=kernel_table(d, "numba", table_mb, dev))
    out["kernel_max_abs_diff"] = float((eager - compiled).abs().max())
    out["kernel_table_mb_v20000"] = cnn_table.table_bytes(20_000, list(d.filters)) / 2**20
    out["kernel_table_mb_v5000"] = cnn_table.table_bytes(d.embedding.num_embeddings, list(d.filters)) / 2**20
    with tempfile.TemporaryDirectory() as cache:  # first use in a fresh process: compiled, then loaded from disk
        for name in ("cold", "cached"):
            script = (
                "import time, torch; from seqgan.config import paper_filters; from seqgan.models import Discriminator;"
                "from seqgan.train.rollout import kernel_table; d = Discriminator(50, paper_filters(20));"
                "t = kernel_table(d, 'numba', 64, torch.device('cpu')); import numpy as np; s = time.perf_counter();"
                "y = np.zeros((2, 20), dtype=np.int64); m = t.prefix_max(y);"
                "t.pooled(y, np.zeros((2, 2, 20), dtype=np.int64), np.arange(2), 3, np.full((2, 2), 20), m,"
                " t.pad_windows(0)); print(time.perf_counter() - s)"
            )
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            out[f"kernel_first_use_{name}_s"] = float(done.stdout.strip().splitlines()[-1])
    return out


def run_bench(device: str = "cpu", quick: bool = False, seed: int = 0) -> dict[str, float | str]:
    """All figures as a flat dict (seconds, per-second rates, ratios)."""
    dev = resolve_device(device)
    torch.manual_seed(seed)
    B, N, T, V = (16, 4, 20, 5000) if quick else (64, 16, 20, 5000)
    reps = 1 if quick else 3
    g = Generator(V).to(dev)
    d = Discriminator(V, paper_filters(T)).to(dev)
    rng = torch.Generator(dev).manual_seed(seed)
    out: dict[str, float | str] = {
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or "cpu"),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": B,
        "rollout_num": N,
        "seq_len": T,
        "vocab_size": V,
        "allocator": allocator(),
    }

    # Reference throughput of the machine: a large fp32 matrix product.
    n = 1024 if quick else 2048
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    out["matmul_gflops"] = 2 * n**3 / median_time(lambda: a @ b, dev, 5) / 1e9

    tokens, states = g.sample(B, T, rng, return_states=True)
    rows = (T - 1) * N * B + B
    defaults = SeqGANConfig()
    defaults.resolve_auto(native_bf16(dev))  # the precision a run with the default configuration gets here
    reward_bf16 = bool(defaults.adversarial.reward_bf16)
    out["reward_bf16_default"] = str(reward_bf16).lower()
    out["rollout_batched_fp32_s"] = median_time(lambda: rollout_rewards(g, d, tokens, N, states, rng=rng), dev, reps)
    out["rollout_batched_bf16_s"] = median_time(
        lambda: rollout_rewards(g, d, tokens, N, states, rng=rng, bf16=True), dev, reps
    )
    out["rollout_batched_s"] = out["rollout_batched_bf16_s" if reward_bf16 else "rollout_batched_fp32_s"]
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt  # fresh memory the OS had to map (what allocator
    rollout_rewards(g, d, tokens, N, states, rng=rng, bf16=reward_bf16)  # says decides how many)
    out["rollout_page_faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    fake = torch.randint(0, V, (rows, T), generator=rng, device=dev)
    # "D scoring alone": every row scored from scratch, the cost of the rewards without any sampling.
    out["d_scoring_alone_s"] = median_time(lambda: score(d, fake), dev, reps)
    # The part of the batched roll-out that is D: completions scored with prefix windows shared.
    completions = rollout_completions(g, tokens, N, states, rng=rng)
    out["d_scoring_prefix_shared_s"] = median_time(lambda: score_completions(d, tokens, completions), dev, reps)

    # D in bf16 only (the sampled tokens stay the same): its speed, and how far the rewards move.
    def d_bf16() -> torch.Tensor:
        return score_completions(d, tokens, completions, dtype=torch.bfloat16)

    out["d_scoring_prefix_shared_bf16_s"] = median_time(d_bf16, dev, reps)
    out["d_bf16_speedup"] = out["d_scoring_prefix_shared_s"] / out["d_scoring_prefix_shared_bf16_s"]
    q32, q16 = score_completions(d, tokens, completions).mean(dim=1), d_bf16().float().mean(dim=1)
    out["d_bf16_max_abs_q_diff"] = float((q32 - q16).abs().max())
    out["d_bf16_mean_abs_q_diff"] = float((q32 - q16).abs().mean())
    out["q_std"] = float(q32.std())
    # The authors' loop: 16 x 19 serial roll-outs, prefix re-encoded, torch.multinomial.
    out["rollout_naive_s"] = median_time(lambda: naive_rollout_rewards(g, d, tokens, N, rng=rng), dev, 1, warmup=0)
    out["rollout_speedup"] = out["rollout_naive_s"] / out["rollout_batched_s"]
    out["rollout_speedup_fp32"] = out["rollout_naive_s"] / out["rollout_batched_fp32_s"]
    out["rollout_speedup_bf16"] = out["rollout_naive_s"] / out["rollout_batched_bf16_s"]
    out["rollout_over_d_scoring"] = out["rollout_batched_s"] / out["d_scoring_alone_s"]
    if dev.type == "cpu":
        out.update(kernel_figures(g, d, tokens, states, completions, N, rng, dev, reps, reward_bf16))
        if "rollout_kernel_s" in out:
            out["rollout_speedup_kernel"] = out["rollout_naive_s"] / out["rollout_kernel_s"]
            out["rollout_speedup"] = out["rollout_naive_s"] / out["rollout_kernel_s"]  # the default configuration

    # Text-like lengths (T 38 as COCO captions, EOS drawn with probability about 1/12 at each position): rows
    # leave the roll-out batch once they end, prefixes that already ended are not scored and windows of PAD only
    # are computed once, against keeping every row to the end and scoring every completion in fp32 (the same
    # rewards): in fp32, and in the default configuration's precision.
    T_text = 38
    g_text = Generator(V, eos_token=2, pad_token=0, start_token=1).to(dev)
    with torch.no_grad():
        g_text.out.bias[2] += math.log((V - 1) / 11)
    d_text = Discriminator(V, paper_filters(T_text)).to(dev)
    text_tokens, text_states = g_text.sample(B, T_text, rng, return_states=True)
    out["text_mean_length"] = float(sequence_mask(text_tokens, 2).sum(dim=1).float().mean())
    text = eos_rollout_figures(g_text, d_text, text_tokens, text_states, N, rng, dev, reps, reward_bf16)
    out.update({f"text_rollout_{key}": value for key, value in text.items()})

    # The Transformer generator at the LSTM's parameter budget (width 32, 2 layers, feed-forward 64): roll-outs
    # continued from the key/value caches, batched, against the per-prefix loop that re-encodes every prefix.
    tg = TransformerGenerator(V, 32, 2, 2, 64, max_len=T).to(dev)
    t_tokens, t_states = tg.sample(B, T, rng, return_states=True)
    out["transformer_rollout_batched_s"] = median_time(
        lambda: rollout_rewards(tg, d, t_tokens, N, t_states, rng=rng), dev, reps
    )
    out["transformer_rollout_naive_s"] = median_time(
        lambda: naive_rollout_rewards(tg, d, t_tokens, N, rng=rng), dev, 1, warmup=0
    )
    out["transformer_rollout_speedup"] = out["transformer_rollout_naive_s"] / out["transformer_rollout_batched_s"]
    # The largest cache of the staircase: (T-1) N B rows x layers x keys and values x T positions x width.
    out["transformer_rollout_cache_mb"] = (T - 1) * N * B * 2 * 2 * T * 32 * 4 / 2**20

    flops = discriminator_flops(d, T)
    out["d_infer_seqs_per_s"] = rows / out["d_scoring_alone_s"]
    out["d_infer_gflops"] = out["d_infer_seqs_per_s"] * flops / 1e9
    out["d_infer_fraction_of_matmul"] = out["d_infer_gflops"] / out["matmul_gflops"]

    # D training, three ways, interleaved so that the machine's noise hits them alike: today's fp32 path (the
    # per-tensor Adam loop), the vectorised Adam (bit-identical), bf16 autocast with the fused Adam.
    x = torch.randint(0, V, (64, T), generator=rng, device=dev)
    y = torch.randint(0, 2, (64,), generator=rng, device=dev)
    paths = {
        "fp32": ({"foreach": False}, False),
        "foreach": ({"foreach": True}, False),
        "bf16": ({"fused": True}, True),
    }

    def d_path(kwargs: dict, bf16: bool) -> Callable[[], None]:
        model = copy.deepcopy(d).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4, **kwargs)

        def step() -> None:
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                loss, _ = discriminator_loss(model, x, y, 0.2)
            opt.zero_grad()
            loss.backward()
            opt.step()

        return step

    steps = 3 if quick else 10
    runners = {name: d_path(*args) for name, args in paths.items()}
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(1 if quick else 3):
        for name, step in runners.items():
            rates[name].append(64 * steps / median_time(lambda s=step: [s() for _ in range(steps)], dev, 1))
    for name, values in rates.items():
        out[f"d_train_seqs_per_s_{name}"] = sorted(values)[len(values) // 2]
    default = "bf16" if defaults.discriminator.train_bf16 else "fp32"
    out["d_train_seqs_per_s"] = out[f"d_train_seqs_per_s_{default}"]
    out["d_train_speedup"] = out["d_train_seqs_per_s"] / out["d_train_seqs_per_s_fp32"]

    g_opt = torch.optim.Adam([p for p in g.parameters() if p.requires_grad], lr=0.01)

    def g_step() -> None:
        loss = mle_loss(g(x), x)
        g_opt.zero_grad()
        loss.backward()
        g_opt.step()

    out["mle_tokens_per_s"] = 64 * T * steps * 5 / median_time(lambda: [g_step() for _ in range(steps * 5)], dev, 1)
    num = 256 if quick else 4096
    out["sampling_tokens_per_s"] = num * T / median_time(lambda: g.sample(num, T, rng), dev, reps)

    # BLEU / Self-BLEU at 10k: Zipfian words, 8-14 tokens a sentence (COCO-like), BLEU-2..5.
    words = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    weights = [1.0 / (i + 1) for i in range(5000)]
    n_sent = 1000 if quick else 10000

    def corpus() -> list[list[str]]:
        return [words.choices(vocab, weights, k=words.randint(8, 14)) for _ in range(n_sent)]

    hyps, refs = corpus(), corpus()
    out["bleu_sentences"] = n_sent
    out["bleu2to5_s"] = median_time(lambda: bleu(hyps, refs), dev, 1, warmup=0)
    out["self_bleu2to5_s"] = median_time(lambda: self_bleu(hyps), dev, 1, warmup=0)
    if dev.type == "cuda":
        out["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated(dev) / 2**20
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}
