"""Discriminator: the paper's filter tables, parameter count, forward pass by hand, dropout, L2."""

from __future__ import annotations

import math

import pytest
import torch

from seqgan.config import paper_filters
from seqgan.models.discriminator import Discriminator

T20_WINDOWS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
T20_COUNTS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)
SMALL_FILTERS = ((1, 3), (2, 4), (3, 2), (5, 3))


def small(seed: int = 0, dropout_keep: float = 0.75) -> Discriminator:
    torch.manual_seed(seed)
    return Discriminator(17, SMALL_FILTERS, emb_dim=6, dropout_keep=dropout_keep).double()


def tokens(batch: int = 6, seq_len: int = 5, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 17, (batch, seq_len), generator=torch.Generator().manual_seed(seed))


def test_paper_filters_t20() -> None:
    f = paper_filters(20)
    assert tuple(w for w, _ in f) == T20_WINDOWS
    assert tuple(n for _, n in f) == T20_COUNTS
    assert sum(n for _, n in f) == 1720


def test_paper_filters_t32() -> None:
    f = paper_filters(32)
    assert tuple(w for w, _ in f) == (*range(1, 11), 16, 24, 32)
    assert tuple(n for _, n in f) == T20_COUNTS[:10] + (160, 160, 160)
    assert sum(n for _, n in f) == 1880


def test_paper_filters_other_lengths() -> None:
    # shorter: only the T = 20 windows that fit; longer than 20: plus a whole-sequence window
    assert paper_filters(12) == tuple(zip(range(1, 11), T20_COUNTS[:10], strict=True))
    assert paper_filters(25) == tuple(zip(T20_WINDOWS, T20_COUNTS, strict=True)) + ((25, 160),)


def test_paper_size_parameter_count() -> None:
    f = paper_filters(20)
    torch.manual_seed(0)
    d = Discriminator(5000, f)
    n = sum(p.numel() for p in d.parameters())
    total = 1720
    by_formula = 5000 * 64 + sum(w * 64 * k + k for w, k in f) + 2 * (total * total + total) + total * 2 + 2
    assert n == by_formula == 7_045_402
    assert all(p.requires_grad for p in d.parameters())
    assert d.dropout.p == pytest.approx(0.25)
    # initialisation ranges of the authors' code
    w = d.embedding.weight.detach()
    assert float(w.min()) >= -1.0 and float(w.max()) <= 1.0
    assert float(w.std()) == pytest.approx(1 / math.sqrt(3), abs=0.01)  # U(-1, 1)
    for conv in d.convs:
        assert float(conv.weight.detach().abs().max()) <= 0.2
        assert torch.equal(conv.bias.detach(), torch.full_like(conv.bias, 0.1))
    conv_w = torch.cat([c.weight.detach().flatten() for c in d.convs])
    assert float(conv_w.std()) == pytest.approx(0.0880, abs=0.002)  # N(0, 0.1^2) truncated at 2 sigma
    bound = math.sqrt(6.0 / (2 * total))
    for lin in (d.highway_transform, d.highway_gate):
        for p in (lin.weight, lin.bias):
            m = float(p.detach().abs().max())
            assert 0.95 * bound < m <= bound * (1 + 1e-6)  # float32 rounding of the bound
    assert torch.equal(d.out.bias.detach(), torch.full((2,), 0.1))


def reference_logits(d: Discriminator, toks: torch.Tensor) -> torch.Tensor:
    """Kim CNN by hand: VALID windows, ReLU, max over time, highway, linear (dropout off)."""
    x = d.embedding.weight[toks]  # (B, T, E)
    B, T, _ = x.shape
    pooled = []
    for conv, (w, n) in zip(d.convs, d.filters, strict=True):
        per_pos = []
        for s in range(T - w + 1):
            window = x[:, s : s + w, :]  # (B, w, E)
            # conv.weight (n, E, w): out[b, j] = sum_{e,k} W[j, e, k] x[b, s+k, e] + bias[j]
            per_pos.append(torch.einsum("bke,jek->bj", window, conv.weight) + conv.bias)
        pooled.append(torch.relu(torch.stack(per_pos, dim=2)).amax(dim=2))
        assert pooled[-1].shape == (B, n)
    p = torch.cat(pooled, dim=1)
    gate = torch.sigmoid(p @ d.highway_gate.weight.T + d.highway_gate.bias)
    feat = gate * torch.relu(p @ d.highway_transform.weight.T + d.highway_transform.bias) + (1 - gate) * p
    return feat @ d.out.weight.T + d.out.bias


def test_forward_matches_hand_computation() -> None:
    d = small().eval()
    x = tokens()
    with torch.no_grad():
        logits = d(x)
        assert logits.shape == (6, 2)
        torch.testing.assert_close(logits, reference_logits(d, x), rtol=0, atol=1e-12)
        prob = d.prob_real(x)
        assert prob.shape == (6,)
        torch.testing.assert_close(prob, torch.softmax(logits, dim=-1)[:, 1], rtol=0, atol=1e-15)
        assert bool(((prob > 0) & (prob < 1)).all())
        assert float(prob.max() - prob.min()) > 1e-4  # depends on the input


def test_window_equal_to_length_and_batch_independence() -> None:
    d = small().eval()
    x = tokens(batch=4, seq_len=5)  # window 5 has exactly one position
    with torch.no_grad():
        whole = d(x)
        rows = torch.cat([d(x[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(whole, rows, rtol=0, atol=1e-12)


def test_eval_deterministic_train_dropout_random() -> None:
    d = small(dropout_keep=0.5)
    x = tokens()
    with torch.no_grad():
        d.eval()
        a, b = d(x), d(x)
        assert torch.equal(a, b)
        d.train()
        c, e = d(x), d(x)
        assert not torch.equal(c, e)
        assert not torch.equal(c, a)
        # prob_real follows the current mode
        assert not torch.equal(d.prob_real(x), d.prob_real(x))


def test_dropout_keep_probability() -> None:
    torch.manual_seed(0)
    d = Discriminator(17, ((1, 400), (2, 600)), emb_dim=6, dropout_keep=0.75).double().train()
    captured: list[torch.Tensor] = []
    d.dropout.register_forward_hook(lambda _m, _i, out: captured.append(out))
    x = tokens(batch=8, seq_len=4)
    with torch.no_grad():
        d(x)
        feat = d.features(x)
    out = captured[0]
    dropped = out == 0
    kept = ~dropped & (feat != 0)
    n = feat.numel()
    frac = float(dropped.double().mean())
    assert abs(frac - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n)  # P(drop) = 1 - keep
    torch.testing.assert_close(out[kept], feat[kept] / 0.75, rtol=0, atol=1e-12)  # inverted dropout


def test_l2_penalty() -> None:
    d = small()
    with torch.no_grad():
        d.out.weight.copy_(torch.arange(d.out.weight.numel(), dtype=torch.float64).view_as(d.out.weight) * 0.1)
        d.out.bias.copy_(torch.tensor([3.0, -4.0], dtype=torch.float64))
    w = d.out.weight.detach()
    expected = 0.5 * (float(w.square().sum()) + 9.0 + 16.0)
    assert float(d.l2_penalty().detach()) == pytest.approx(expected, abs=1e-12)
    # 12 features -> 24 weights 0.0, 0.1, ..., 2.3: sum of squares 0.01 * sum k^2 (k < 24) = 43.24
    assert float(d.l2_penalty().detach()) == pytest.approx(0.5 * (43.24 + 25.0), abs=1e-9)


def test_window_products_equal_the_convolution() -> None:
    """The im2col layout (row j * E + e = weight[:, e, j]) gives each window's convolution output, float64."""
    from seqgan.models.discriminator import window_products

    torch.manual_seed(3)
    x = torch.randn(5, 9, 4, dtype=torch.float64)
    for width in (1, 3, 9):
        conv = torch.nn.Conv1d(4, 6, width, bias=False).double()
        want = conv(x.transpose(1, 2)).transpose(1, 2)  # (B, T - w + 1, n)
        got = window_products(x, conv.weight.permute(2, 1, 0).flatten(0, 1))
        assert got.shape == (5, 9 - width + 1, 6)
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    # one window by hand: position 2 of width 3, filter 1
    conv = torch.nn.Conv1d(4, 6, 3, bias=False).double()
    by_hand = sum(float(conv.weight[1, e, j].detach() * x[0, 2 + j, e]) for e in range(4) for j in range(3))
    assert float(window_products(x, conv.weight.permute(2, 1, 0).flatten(0, 1))[0, 2, 1]) == pytest.approx(by_hand)


def test_bf16_autocast_forward_and_gradients_stay_close_to_fp32() -> None:
    """Under bf16 autocast (discriminator.train_bf16) the filters run as matrix products over the windows: the
    logits and every parameter's gradient stay within bf16's precision of the fp32 ones."""
    torch.manual_seed(0)
    d = Discriminator(50, ((1, 8), (2, 8), (3, 8), (5, 8)), emb_dim=16, dropout_keep=1.0)
    tokens = torch.randint(0, 50, (32, 7))
    target = torch.randint(0, 2, (32,))

    def run(bf16: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        d.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = d(tokens)
        torch.nn.functional.cross_entropy(logits.float(), target).backward()
        return logits.float().detach(), {n: p.grad.clone() for n, p in d.named_parameters()}

    logits32, grads32 = run(False)
    logits16, grads16 = run(True)
    assert not torch.equal(logits16, logits32)  # the bf16 path really ran
    torch.testing.assert_close(logits16, logits32, rtol=0, atol=0.05 * float(logits32.abs().max()))
    for name, g32 in grads32.items():
        # relative error of the whole gradient: up to 0.17 where a filter bank's gradient is tiny and cancels
        # (bf16's convolution gave up to 0.12 there); a wrong window layout gives errors near or above 1
        assert float(g32.norm()) > 0, name
        assert float((grads16[name] - g32).norm() / g32.norm()) <= 0.25, name
