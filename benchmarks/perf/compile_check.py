"""Does torch.compile pay off for SeqGAN's hot paths? Eager against compiled, one run, written to
benchmarks/perf/compile.md (generated; never edit by hand).

    python benchmarks/perf/compile_check.py [--device cpu|cuda] [--quick] [--out benchmarks/perf/compile.md]

Measured at the paper's sizes (V 5,000, T 20, the paper's D): D scoring of the 19,520 roll-out
completions of one G step (the largest cost of adversarial training), one D training step
(batch 64, Adam) and one MLE step of G (batch 64). For each: the first compiled call (compilation
included), the median of the later calls, eager's median, and the largest difference of the outputs.
A path is worth compiling when compiled beats eager and the compilation is paid back within the
calls of one run of the paper preset (counted from its config).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from seqgan import presets
from seqgan.config import paper_filters
from seqgan.env import cpu_name, git_sha, resolve_device
from seqgan.models import Discriminator, Generator
from seqgan.tools.bench import median_time
from seqgan.train.losses import discriminator_loss, mle_loss
from seqgan.train.rollout import score

HERE = Path(__file__).resolve().parent
# A fresh kernel cache: the compilation times are those of a first run, not of kernels cached by an earlier one.
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="seqgan-inductor-")


def compare(
    name: str,
    eager: Callable[[], torch.Tensor],
    compiled: Callable[[], torch.Tensor],
    dev: torch.device,
    reps: int,
    calls_per_run: int,
) -> dict[str, float | str]:
    """Times of one path eager and compiled; ``calls_per_run``: how often a training run calls it."""
    first = median_time(compiled, dev, repeats=1, warmup=0)  # the first call: compilation included
    eager()  # the same number of calls on both sides: the training paths stay comparable step for step
    t_compiled = median_time(compiled, dev, reps)
    t_eager = median_time(eager, dev, reps)
    saved = (t_eager - t_compiled) * calls_per_run
    return {
        "path": name,
        "eager_s": t_eager,
        "compiled_s": t_compiled,
        "speedup": t_eager / t_compiled,
        "first_compiled_call_s": first,
        "net_saving_per_run_s": saved - (first - t_compiled),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat (a smoke test)")
    ap.add_argument("--out", default=str(HERE / "compile.md"))
    args = ap.parse_args()
    dev = resolve_device(args.device)
    torch.manual_seed(0)
    V, T = 5000, 20
    rows = 1952 if args.quick else 19520  # (T-1) x N 16 x B 64 + B: the completions of one G step
    reps = 1 if args.quick else 3
    rng = torch.Generator(dev).manual_seed(0)
    d = Discriminator(V, paper_filters(T)).to(dev)
    g = Generator(V).to(dev)
    fake = torch.randint(0, V, (rows, T), generator=rng, device=dev)
    # How often one run of the paper preset calls each path (D: real and as many generated rows per epoch).
    paper = presets.get("paper")
    pre, adv, batch = paper.pretrain, paper.adversarial, paper.pretrain.batch_size
    d_batches = -(-2 * paper.data.num_train // batch)
    calls = {
        "score": adv.epochs * adv.g_steps,
        "d": (pre.d_steps * pre.k_epochs + adv.epochs * adv.d_steps * adv.k_epochs) * d_batches,
        "mle": pre.g_epochs * -(-paper.data.num_train // batch),
    }
    t0 = time.perf_counter()
    results, diffs = [], {}

    # D scoring (eval mode, no grad), 4,096 rows a call as the trainer does.
    d_c = copy.deepcopy(d)
    d_c.compile(dynamic=False)
    results.append(
        compare(
            "D scoring of one G step's completions",
            lambda: score(d, fake),
            lambda: score(d_c, fake),
            dev,
            reps,
            calls["score"],
        )
    )
    diffs["D scoring of one G step's completions"] = float((score(d, fake) - score(d_c, fake)).abs().max())

    # D training step, batch 64.
    # Dropout off in this pair only: compiled dropout draws other masks, and the outputs should compare.
    x = torch.randint(0, V, (64, T), generator=rng, device=dev)
    y = torch.randint(0, 2, (64,), generator=rng, device=dev)

    def d_step(model: Discriminator, opt: torch.optim.Optimizer) -> torch.Tensor:
        loss, _ = discriminator_loss(model, x, y, 0.2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    d_e = Discriminator(V, paper_filters(T), dropout_keep=1.0).to(dev).train()
    d_t = copy.deepcopy(d_e)
    d_t.compile(dynamic=False)
    opt_e, opt_t = torch.optim.Adam(d_e.parameters(), 1e-4), torch.optim.Adam(d_t.parameters(), 1e-4)
    name = "D training step, batch 64 (dropout off)"
    results.append(compare(name, lambda: d_step(d_e, opt_e), lambda: d_step(d_t, opt_t), dev, reps * 10, calls["d"]))
    # Both took the same number of steps from the same weights on the same batch: compare the next loss.
    diffs[name] = float((d_step(d_e, opt_e) - d_step(d_t, opt_t)).abs())

    # MLE step of G, batch 64 x 20.
    g_e, g_t = copy.deepcopy(g), copy.deepcopy(g)
    g_t.compile(dynamic=False)
    go_e = torch.optim.Adam([p for p in g_e.parameters() if p.requires_grad], lr=0.01)
    go_t = torch.optim.Adam([p for p in g_t.parameters() if p.requires_grad], lr=0.01)

    def g_step(model: Generator, opt: torch.optim.Optimizer) -> torch.Tensor:
        loss = mle_loss(model(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    name = "MLE step of G, batch 64"
    results.append(compare(name, lambda: g_step(g_e, go_e), lambda: g_step(g_t, go_t), dev, reps * 10, calls["mle"]))
    diffs[name] = float((g_step(g_e, go_e) - g_step(g_t, go_t)).abs())

    cmd = " ".join(["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    machine = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{cpu_name()}, {os.cpu_count()} cores"
    lines = [
        "# torch.compile against eager",
        "",
        "Generated by `benchmarks/perf/compile_check.py`; do not edit by hand.",
        "",
        f"- Command: `{cmd}`",
        f"- Machine: {machine}, device {dev.type}, torch {torch.__version__} with {torch.get_num_threads()} threads; "
        f"commit {git_sha()}; {time.strftime('%Y-%m-%d')}; took {time.perf_counter() - t0:.0f} s",
        "- Net saving per run: (eager - compiled) x the calls of one paper-schedule run, less the compilation "
        f"(first compiled call - compiled); calls per run: {calls['score']} D scorings, {calls['d']:,} D steps, "
        f"{calls['mle']:,} MLE steps. Negative: compiling costs more than it saves. Output diff: largest "
        "|eager - compiled| of the P(real) scores; for the training steps, of the loss after the same steps from "
        "the same weights.",
        "",
        "| path | eager s | compiled s | speed-up | first compiled call s | net saving per run s | output diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['path']} | {r['eager_s']:.4g} | {r['compiled_s']:.4g} | {r['speedup']:.3g}x | "
            f"{r['first_compiled_call_s']:.3g} | {r['net_saving_per_run_s']:.4g} | "
            f"{diffs[r['path']]:.2g} |"
        )
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
