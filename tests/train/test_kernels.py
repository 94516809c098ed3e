"""The compiled roll-out path (numba): D's filter banks as table look-ups equal the eager convolutions."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from seqgan import kernels
from seqgan.config import SeqGANConfig
from seqgan.env import env_snapshot
from seqgan.errors import UserError
from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.train import rollout
from seqgan.train.rollout import kernel_table, rollout_completions, rollout_rewards, score_completions

pytest.importorskip("numba")
from seqgan.kernels import cnn_table  # noqa: E402

CPU = torch.device("cpu")
FILTERS = ((1, 5), (2, 7), (3, 4), (5, 6), (8, 3))


def models(vocab: int = 13, eos: int | None = None, labels: int = 0, seed: int = 0) -> tuple[Generator, Discriminator]:
    torch.manual_seed(seed)
    g = Generator(vocab, 8, 8, init_std=1.0, eos_token=eos, pad_token=0, num_labels=labels)
    d = Discriminator(vocab + labels, FILTERS, emb_dim=6)
    with torch.no_grad():
        d.out.weight.mul_(10.0)  # P(real) spread over (0, 1)
    return g, d


def test_table_windows_by_hand() -> None:
    # One bank, width 2, one filter; embedding rows e0 = (1, 0), e1 = (0, 1), e2 = (1, 1); weight offsets
    # j = 0: (1, 2), j = 1: (3, 4). Window (a, b) = e_a . (1, 2) + e_b . (3, 4).
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    weight = torch.tensor([[[1.0, 3.0], [2.0, 4.0]]])  # Conv1d layout (n 1, E 2, w 2)
    table = cnn_table.Table(emb, [weight])
    assert table.table.tolist() == [1.0, 3.0, 2.0, 4.0, 3.0, 7.0]  # row v: (e_v . W[:, 0], e_v . W[:, 1])
    y = np.array([[0, 1, 2, 0]])
    # windows (0, 1) = 1 + 4 = 5, (1, 2) = 2 + 7 = 9, (2, 0) = 3 + 3 = 6: running max 5, 9, 9, 9 (no window at 3)
    assert table.prefix_max(y)[0, :, 0].tolist() == [5.0, 9.0, 9.0, 9.0]
    assert table.pad_windows(2).tolist() == [3.0 + 7.0]
    # completions of the prefix (0, 1) (shared 2): windows at 0 inside it (5), at 1 straddling (2 + e_c . (3, 4))
    block = np.array([[[0, 1, 0, 0]], [[0, 1, 2, 2]]])  # N 2, L 1
    content = np.array([[4], [4]])
    raw = table.pooled(y, block, np.array([0]), 2, content, table.prefix_max(y), table.pad_windows(0))
    # c = (0, 1, 0, 0): windows 5, 2 + 3 = 5, 1 + 3 = 4 -> 5; c = (0, 1, 2, 2): 5, 2 + 7 = 9, 3 + 7 = 10 -> 10
    assert raw[:, 0, 0].tolist() == [5.0, 10.0]


@pytest.mark.parametrize("eos", [None, 3])
def test_kernel_scores_equal_the_eager_path(eos: int | None) -> None:
    g, d = models(eos=eos)
    tokens, states = g.sample(6, 10, rng=torch.Generator().manual_seed(1), return_states=True)
    comp = rollout_completions(g, tokens, 4, states, rng=torch.Generator().manual_seed(2))
    ended = None if eos is None else rollout.ended_prefixes(tokens, eos)[:, :-1]
    if eos is not None:
        assert bool(ended.any()) and not bool(ended.all())  # both kinds of prefix are exercised
    full = rollout.score(d, tokens)
    pad = None if eos is None else 0
    eager = score_completions(d, tokens, comp, ended=ended, full=full, pad=pad)
    table = kernel_table(d, "numba", 2048, CPU)
    compiled = score_completions(d, tokens, comp, ended=ended, full=full, pad=pad, table=table)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-5)
    assert float(eager.std()) > 0.05  # rewards differ, so equality is not vacuous


def test_kernel_rewards_equal_eager_with_labels_bf16_and_dropout() -> None:
    g, d = models(eos=3, labels=2)
    labels = torch.tensor([0, 1, 1, 0, 1])
    tokens, states = g.sample(5, 9, rng=torch.Generator().manual_seed(3), labels=labels, return_states=True)
    u = rollout.rollout_uniforms(5, 9, 4, torch.Generator().manual_seed(4), "cpu")
    for bf16 in (False, True):
        args = {"states": states, "uniforms": u, "labels": labels, "bf16": bf16}
        eager = rollout_rewards(g, d, tokens, 4, kernels="eager", **args)
        compiled = rollout_rewards(g, d, tokens, 4, kernels="numba", **args)
        torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-5 if not bf16 else 2e-2)
    # With D's dropout on, every completion draws its own mask (the rows come in another order than on the eager
    # path, so other masks): the rewards move away from eval mode's, both ways.
    torch.manual_seed(5)
    eval_mode = rollout_rewards(g, d, tokens, 4, states=states, uniforms=u, labels=labels, kernels="numba")
    dropped = rollout_rewards(g, d, tokens, 4, states=states, uniforms=u, labels=labels, dropout=True, kernels="numba")
    assert float((dropped - eval_mode).abs().max()) > 0.01 and bool(((dropped > 0) & (dropped < 1)).all())


def test_prefix_max_equals_a_plain_convolution() -> None:
    _, d = models(vocab=17)
    tokens = torch.randint(0, 17, (3, 12), generator=torch.Generator().manual_seed(6))
    table = cnn_table.Table(d.embedding.weight, [c.weight for c in d.convs])
    got = table.prefix_max(tokens.numpy())
    x = d.embedding(tokens).transpose(1, 2)
    col = 0
    for conv, (w, n) in zip(d.convs, FILTERS, strict=True):
        plain = torch.nn.functional.conv1d(x, conv.weight).detach()  # (B, n, T - w + 1), no bias
        running = plain.cummax(dim=2).values.transpose(1, 2)  # (B, T - w + 1, n)
        np.testing.assert_allclose(got[:, : 12 - w + 1, col : col + n], running.numpy(), atol=1e-5)
        np.testing.assert_allclose(got[:, -1, col : col + n], running[:, -1].numpy(), atol=1e-5)
        col += n


def test_the_cap_falls_back_to_eager_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    g, d = models()
    assert cnn_table.table_bytes(13, list(FILTERS)) == 4 * 13 * (5 + 14 + 12 + 30 + 24)
    rollout._TOO_LARGE.clear()
    with caplog.at_level(logging.WARNING, logger="seqgan"):
        assert kernel_table(d, "auto", 0, CPU) is None
    assert "kernel_table_mb 0" in caplog.text
    assert kernel_table(d, "auto", 1, CPU) is not None  # 4 KiB fits in 1 MiB
    tokens, states = g.sample(4, 8, rng=torch.Generator().manual_seed(7), return_states=True)
    u = rollout.rollout_uniforms(4, 8, 3, torch.Generator().manual_seed(8), "cpu")
    capped = rollout_rewards(g, d, tokens, 3, states, uniforms=u, kernels="auto", table_mb=0)
    assert torch.equal(capped, rollout_rewards(g, d, tokens, 3, states, uniforms=u, kernels="eager"))


def test_other_discriminators_and_dtypes_stay_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    _, d = models()
    assert kernel_table(d, "eager", 2048, CPU) is None
    assert kernel_table(d.double(), "auto", 2048, CPU) is None  # the table path is fp32
    assert kernel_table(torch.nn.Linear(2, 2), "auto", 2048, CPU) is None
    monkeypatch.setattr(kernels, "numba_version", lambda: None)
    assert kernel_table(d.float(), "auto", 2048, CPU) is None
    with pytest.raises(UserError, match=r"pip install 'seqgan\[kernels\]'"):
        kernel_table(d, "numba", 2048, CPU)
    assert "numba not installed" in kernels.status("auto")


def test_config_and_env_name_the_path() -> None:
    cfg = SeqGANConfig()
    cfg.adversarial.kernels = "fast"
    with pytest.raises(UserError, match="adversarial.kernels must be one of auto, numba, eager"):
        cfg.validate()
    env = env_snapshot(CPU, "auto", 2048)
    assert env["rollout_path"].startswith("numba ") and "2048 MiB" in env["rollout_path"]
    assert env_snapshot(CPU, "eager")["rollout_path"] == "eager PyTorch (adversarial.kernels=eager)"


def test_a_kernel_call_leaves_torch_threads_alone() -> None:
    # numba's OpenMP layer would reset torch's thread count (the same OpenMP runtime); later sums would change
    _, d = models()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        table = kernel_table(d, "numba", 2048, CPU)
        table.prefix_max(np.zeros((2, 9), dtype=np.int64))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_run_that_requires_numba_without_it_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqgan import presets
    from seqgan.train.trainer import SeqGANTrainer

    monkeypatch.setattr(kernels, "numba_version", lambda: None)
    cfg = presets.get("tiny")
    cfg.adversarial.kernels = "numba"
    with pytest.raises(UserError, match=r"adversarial.kernels=numba needs numba"):
        SeqGANTrainer(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
