"""The three losses: policy gradient (values and gradients by hand), MLE, discriminator + L2."""

from __future__ import annotations

import math

import pytest
import torch

from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.train.losses import discriminator_loss, mle_loss, policy_gradient_loss

LN3, LN4 = math.log(3.0), math.log(4.0)

# B = 2 sequences, T = 2 steps, V = 2 tokens. Softmax of each row, chosen token y, reward Q:
#   (b0, t0): logits [0, ln3] -> p = [1/4, 3/4], y = 0, Q = 0.5
#   (b0, t1): logits [0, 0]   -> p = [1/2, 1/2], y = 1, Q = 1.0
#   (b1, t0): logits [ln3, 0] -> p = [3/4, 1/4], y = 0, Q = 0.2
#   (b1, t1): logits [0, ln4] -> p = [1/5, 4/5], y = 1, Q = 0.8
LOGITS = [[[0.0, LN3], [0.0, 0.0]], [[LN3, 0.0], [0.0, LN4]]]
TOKENS = [[0, 1], [0, 1]]
REWARDS = [[0.5, 1.0], [0.2, 0.8]]


def _leaf_logits() -> torch.Tensor:
    return torch.tensor(LOGITS, dtype=torch.float64, requires_grad=True)


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, dim=-1).gather(-1, torch.tensor(TOKENS).unsqueeze(-1)).squeeze(-1)


def test_policy_gradient_loss_value_and_gradient_by_hand() -> None:
    logits = _leaf_logits()
    loss = policy_gradient_loss(_log_probs(logits), torch.tensor(REWARDS, dtype=torch.float64))
    # -(0.5 ln 1/4 + 1.0 ln 1/2 + 0.2 ln 3/4 + 0.8 ln 4/5): a sum, not a mean
    expected = -(0.5 * math.log(0.25) + 1.0 * math.log(0.5) + 0.2 * math.log(0.75) + 0.8 * math.log(0.8))
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-12)
    assert float(loss.detach()) == pytest.approx(1.6223, abs=1e-4)  # 0.6931 + 0.6931 + 0.0575 + 0.1785
    loss.backward()
    # d loss / d logits = -Q * (onehot(y) - p). E.g. (b0, t0): -0.5 * ([1, 0] - [1/4, 3/4]) = [-0.375, 0.375]
    expected_grad = torch.tensor(
        [
            [[-0.375, 0.375], [0.5, -0.5]],  # -1.0 * ([0, 1] - [1/2, 1/2])
            [[-0.05, 0.05], [0.16, -0.16]],  # -0.2 * ([1, 0] - [3/4, 1/4]); -0.8 * ([0, 1] - [1/5, 4/5])
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(logits.grad, expected_grad, rtol=0, atol=1e-12)


def test_policy_gradient_loss_mean_baseline_by_hand() -> None:
    logits = _leaf_logits()
    loss = policy_gradient_loss(_log_probs(logits), torch.tensor(REWARDS, dtype=torch.float64), baseline="mean")
    # mean Q = 0.625 -> Q' = [[-0.125, 0.375], [-0.425, 0.175]]
    expected = -(-0.125 * math.log(0.25) + 0.375 * math.log(0.5) - 0.425 * math.log(0.75) + 0.175 * math.log(0.8))
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-12)
    loss.backward()
    expected_grad = torch.tensor(
        [
            [[0.09375, -0.09375], [0.1875, -0.1875]],  # 0.125 * [3/4, -3/4]; -0.375 * [-1/2, 1/2]
            [[0.10625, -0.10625], [0.035, -0.035]],  # 0.425 * [1/4, -1/4]; -0.175 * [-1/5, 1/5]
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(logits.grad, expected_grad, rtol=0, atol=1e-12)


def test_policy_gradient_rewards_get_no_gradient() -> None:
    logits = _leaf_logits()
    rewards = torch.tensor(REWARDS, dtype=torch.float64, requires_grad=True)
    for baseline in ("none", "mean"):
        policy_gradient_loss(_log_probs(logits), rewards, baseline=baseline).backward()
        assert rewards.grad is None
    assert torch.equal(rewards.detach(), torch.tensor(REWARDS, dtype=torch.float64))  # not modified in place


def test_policy_gradient_unknown_baseline() -> None:
    with pytest.raises(ValueError, match="baseline"):
        policy_gradient_loss(torch.zeros(1, 1), torch.zeros(1, 1), baseline="median")


def test_policy_gradient_through_generator_equals_sum_of_per_term_gradients() -> None:
    torch.manual_seed(0)
    g = Generator(7, 4, 4, init_std=0.5).double()
    params = [p for p in g.parameters() if p.requires_grad]
    tokens = g.sample(3, 4, rng=torch.Generator().manual_seed(1))
    q = torch.rand(3, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    got = torch.autograd.grad(policy_gradient_loss(g.log_probs(tokens), q), params)

    # Reference: log p(y_t) re-computed step by step (not through Generator.log_probs), one
    # autograd call per term, summed as -sum_{b,t} Q_bt * grad log p(y_bt).
    expected = [torch.zeros_like(p) for p in params]
    for b in range(3):
        state = g.initial_state(1)
        inputs = torch.tensor([g.start_token])
        for t in range(4):
            logits, state = g.step(inputs, state)
            logp = torch.log_softmax(logits[0], dim=-1)[tokens[b, t]]
            grads = torch.autograd.grad(logp, params, retain_graph=True)
            for acc, gr in zip(expected, grads, strict=True):
                acc.add_(-q[b, t] * gr)
            inputs = tokens[b, t : t + 1]
    for p_got, p_exp in zip(got, expected, strict=True):
        torch.testing.assert_close(p_got, p_exp, rtol=0, atol=1e-10)
    assert float(sum(e.abs().sum() for e in expected)) > 1e-3


def test_mle_loss_equals_mean_token_nll() -> None:
    logits = torch.randn(3, 4, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    targets = torch.randint(0, 6, (3, 4), generator=torch.Generator().manual_seed(1))
    expected = -torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).mean()
    assert float(mle_loss(logits, targets)) == pytest.approx(float(expected), abs=1e-12)
    # a hand case: one token with logits [0, ln3] and target 1 costs -ln(3/4)
    one = torch.tensor([[[0.0, LN3]]], dtype=torch.float64)
    assert float(mle_loss(one, torch.tensor([[1]]))) == pytest.approx(-math.log(0.75), abs=1e-12)


def test_discriminator_loss_is_cross_entropy_plus_l2_of_output_layer() -> None:
    torch.manual_seed(0)
    d = Discriminator(13, ((1, 3), (2, 4), (4, 2)), emb_dim=6).double().eval()
    tokens = torch.randint(0, 13, (5, 4), generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([1, 0, 1, 1, 0])
    loss, logits = discriminator_loss(d, tokens, labels, l2_reg=0.2)
    assert logits.shape == (5, 2)
    torch.testing.assert_close(logits, d(tokens), rtol=0, atol=1e-12)
    ce = -torch.log_softmax(logits, dim=-1)[torch.arange(5), labels].mean()
    l2 = 0.5 * (d.out.weight.square().sum() + d.out.bias.square().sum())
    assert float(loss.detach()) == pytest.approx(float((ce + 0.2 * l2).detach()), abs=1e-12)
    # the penalty is the output layer only: W (2 x 9) and b (2,) with init bias 0.1 (float32 0.1)
    assert d.out.weight.shape == (2, 9)
    torch.testing.assert_close(d.out.bias.detach(), torch.full((2,), 0.1, dtype=torch.float64), rtol=0, atol=1e-8)
    b2 = float(d.out.bias.detach().square().sum())
    loss0, _ = discriminator_loss(d, tokens, labels, l2_reg=0.0)
    w2 = float(d.out.weight.detach().square().sum())
    assert float((loss - loss0).detach()) == pytest.approx(0.2 * 0.5 * (w2 + b2), abs=1e-12)
    assert w2 > 0.01
    # gradient of the penalty reaches the output bias: d/db (0.2 * 0.5 * b^2) = 0.2 * b
    g_with = torch.autograd.grad(loss, d.out.bias)[0]
    g_without = torch.autograd.grad(discriminator_loss(d, tokens, labels, l2_reg=0.0)[0], d.out.bias)[0]
    torch.testing.assert_close(g_with - g_without, 0.2 * d.out.bias.detach(), rtol=0, atol=1e-12)


def test_bf16_d_training_keeps_the_accuracy_curve(tmp_path) -> None:
    """discriminator.train_bf16 (autocast and the fused Adam) against fp32 from the same pre-trained G: D's
    accuracy on real and generated sequences moves by at most 0.03 in any round (measured: 0.004 on tiny)."""
    from helpers import events, tiny_config

    from seqgan.train.trainer import SeqGANTrainer

    curves = {}
    for flag in ("false", "true"):
        run = tmp_path / flag
        SeqGANTrainer(
            tiny_config("pretrain.d_steps=8", "adversarial.epochs=2", f"discriminator.train_bf16={flag}"), run
        ).fit()
        curves[flag] = [(e["d/acc_real"], e["d/acc_fake"]) for e in events(run) if "d/acc_real" in e]
    assert len(curves["true"]) == len(curves["false"]) == 10
    pairs = zip(curves["true"], curves["false"], strict=True)
    diffs = [abs(a - b) for x, y in pairs for a, b in zip(x, y, strict=True)]
    assert max(diffs) <= 0.03 and curves["true"] != curves["false"]  # close, and really the bf16 path


def test_bf16_switches_default_to_the_hardware_and_are_saved(tmp_path, monkeypatch) -> None:
    """discriminator.train_bf16 and adversarial.reward_bf16 left at None (auto) become what the device runs
    natively when a run starts, and the run's config.json records the resolved value (a resume on another
    machine keeps it); explicit values stay; a config.json written before the switches existed means fp32."""
    import json

    from helpers import tiny_config

    from seqgan.train.trainer import SeqGANTrainer

    for native in (True, False):
        monkeypatch.setattr("seqgan.train.setup.native_bf16", lambda device, native=native: native)
        cfg = tiny_config("pretrain.g_epochs=0", "pretrain.d_steps=0", "adversarial.epochs=0")
        assert cfg.discriminator.train_bf16 is None and cfg.adversarial.reward_bf16 is None
        run = tmp_path / f"auto-{native}"
        SeqGANTrainer(cfg, run).fit()
        saved = json.loads((run / "config.json").read_text())
        assert saved["discriminator"]["train_bf16"] is native and saved["adversarial"]["reward_bf16"] is native
    monkeypatch.setattr("seqgan.train.setup.native_bf16", lambda device: True)
    run = tmp_path / "explicit"
    SeqGANTrainer(
        tiny_config(
            "pretrain.g_epochs=0", "pretrain.d_steps=0", "adversarial.epochs=0", "adversarial.reward_bf16=false"
        ),
        run,
    ).fit()
    saved = json.loads((run / "config.json").read_text())
    assert saved["adversarial"]["reward_bf16"] is False and saved["discriminator"]["train_bf16"] is True
