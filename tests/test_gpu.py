"""Checks that need a CUDA GPU: skipped everywhere else (CI has none). Run them on a machine with a CUDA GPU with
``bash benchmarks/perf/gpu_check.sh`` (which also runs the GPU benchmark) or ``pytest -m gpu tests/test_gpu.py``.

What they hold the GPU path to: the same draws as the CPU from the same random numbers (bar the rare draw that
lands within rounding of a boundary), D's rewards within fp32 rounding of the CPU's, the bf16 rewards within the
bound the CPU's bf16 path is held to, D learning in bf16, and a run trained on the GPU that the CPU forks from
and samples from.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from seqgan import cli
from seqgan.models import Discriminator, Generator
from seqgan.models.sampling import sample_from_logits
from seqgan.train.losses import discriminator_loss
from seqgan.train.rollout import rollout_completions, rollout_uniforms, score_completions

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

FILTERS = ((1, 20), (2, 20), (3, 20), (5, 20), (8, 16))


def test_sampler_draws_the_cpus_tokens_from_the_same_uniforms() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4096, 5000, generator=gen) * 3
    logits[:64, 4992:] += 30.0  # rows whose mass sits in the partial last block (always checked on a GPU)
    u = torch.rand(4096, generator=gen)
    cpu = sample_from_logits(logits, u)
    gpu = sample_from_logits(logits.cuda(), u.cuda()).cpu()
    assert bool((gpu < 5000).all())
    assert bool((gpu[:64] >= 4992).all())
    # Softmax sums differ in the last bits between devices, which moves a draw only when its uniform lies within
    # rounding of a boundary between two tokens.
    assert float((cpu == gpu).float().mean()) >= 0.999


def test_rollouts_and_rewards_match_the_cpu() -> None:
    torch.manual_seed(0)
    V, T, B, N = 300, 12, 16, 4
    g, d = Generator(V), Discriminator(V, FILTERS)
    rng = torch.Generator().manual_seed(1)
    tokens, states = g.sample(B, T, rng, return_states=True)
    u = rollout_uniforms(B, T, N, rng, "cpu")
    comp_cpu = rollout_completions(g, tokens, N, states, uniforms=u)
    g_cuda, d_cuda = Generator(V).cuda(), Discriminator(V, FILTERS).cuda()
    g_cuda.load_state_dict(g.state_dict())
    d_cuda.load_state_dict(d.state_dict())
    comp_gpu = rollout_completions(g_cuda, tokens.cuda(), N, uniforms=u.cuda()).cpu()
    rows_equal = (comp_cpu == comp_gpu).all(dim=-1)
    assert float(rows_equal.float().mean()) >= 0.99
    # D on the same completions: fp32 within rounding of the CPU, bf16 within the bound the bench reports on CPU.
    q_cpu = score_completions(d, tokens, comp_cpu)
    q_gpu = score_completions(d_cuda, tokens.cuda(), comp_cpu.cuda()).cpu()
    assert float((q_cpu - q_gpu).abs().max()) < 1e-4
    q_bf16 = score_completions(d_cuda, tokens.cuda(), comp_cpu.cuda(), dtype=torch.bfloat16).float().cpu()
    assert float((q_cpu - q_bf16).abs().max()) < 0.02


def test_discriminator_learns_in_bf16_on_the_gpu() -> None:
    torch.manual_seed(0)
    V, T = 200, 12
    d = Discriminator(V, FILTERS).cuda().train()
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, fused=True)
    real = torch.randint(0, V // 2, (256, T), device="cuda")  # real text uses the lower half of the vocabulary
    fake = torch.randint(V // 2, V, (256, T), device="cuda")
    x, y = torch.cat([real, fake]), torch.cat([torch.ones(256), torch.zeros(256)]).long().cuda()
    losses = []
    for _ in range(30):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss, _ = discriminator_loss(d, x, y, l2_reg=0.2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert all(map(math.isfinite, losses))
    assert losses[-1] < 0.5 * losses[0]


def test_a_run_trained_on_the_gpu_forks_and_samples_on_the_cpu(tmp_path, capsys) -> None:
    run = tmp_path / "run"
    assert cli.main(["train", "--preset", "tiny", "--device", "cuda", "--out-dir", str(run), "--no-progress"]) == 0
    env = json.loads((run / "env.json").read_text())
    assert env["device"].startswith("cuda") and env.get("gpu")
    # The CPU forks a run from the GPU's pre-training checkpoint (tensors saved on the GPU, loaded on the CPU).
    assert (
        cli.main(
            [
                "train",
                "--preset",
                "tiny",
                "--init-from",
                str(run),
                "--device",
                "cpu",
                "--out-dir",
                str(tmp_path / "fork"),
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert cli.main(["sample", str(run), "--num-samples", "5", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and all(line.split() for line in lines)
