"""Monte Carlo roll-out rewards (Eq. 4): batched == reference loop, eval-mode D, statistics."""

from __future__ import annotations

import copy
import itertools
import math

import pytest
import torch

from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.train.rollout import (
    naive_rollout_rewards,
    rollout_completions,
    rollout_rewards,
    rollout_uniforms,
    score,
    update_delayed_policy,
)

V, T, B, N = 11, 5, 4, 3
FILTERS = ((1, 3), (2, 4), (3, 3), (5, 2))


def make_models(
    vocab: int = V,
    seq_len: int = T,
    seed: int = 0,
    g_std: float = 0.8,
    dropout_keep: float = 0.75,
    d_scale: float = 10.0,
) -> tuple[Generator, Discriminator]:
    torch.manual_seed(seed)
    g = Generator(vocab, 6, 6, init_std=g_std).double()
    filters = tuple((w, n) for w, n in FILTERS if w <= seq_len)
    d = Discriminator(vocab, filters, emb_dim=8, dropout_keep=dropout_keep).double()
    with torch.no_grad():
        d.out.weight.mul_(d_scale)  # spread P(real) over (0, 1) so rewards differ between sequences
    return g, d


def test_batched_rewards_equal_reference_loop() -> None:
    g, d = make_models()
    tokens, states = g.sample(B, T, rng=torch.Generator().manual_seed(0), return_states=True)
    u = rollout_uniforms(B, T, N, torch.Generator().manual_seed(1), "cpu")
    assert u.shape == (T - 1, N, B, T)
    ref = naive_rollout_rewards(g, d, tokens, N, uniforms=u)
    assert ref.shape == (B, T)
    with_states = rollout_rewards(g, d, tokens, N, states=states, uniforms=u)
    without = rollout_rewards(g, d, tokens, N, states=None, uniforms=u)
    torch.testing.assert_close(with_states, ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(without, ref, rtol=0, atol=1e-12)
    # rewards genuinely vary (else equality would be vacuous)
    assert float(ref.max() - ref.min()) > 0.05


def test_batched_rewards_equal_reference_for_a_different_policy() -> None:
    # The delayed roll-out policy is not the sampler: its states come from its states_of.
    g, d = make_models()
    policy = copy.deepcopy(g)
    with torch.no_grad():
        for p in policy.parameters():
            if p.requires_grad:
                p.add_(0.3 * torch.randn_like(p))
    tokens, g_states = g.sample(B, T, rng=torch.Generator().manual_seed(2), return_states=True)
    u = rollout_uniforms(B, T, N, torch.Generator().manual_seed(3), "cpu")
    ref = naive_rollout_rewards(policy, d, tokens, N, uniforms=u)
    torch.testing.assert_close(rollout_rewards(policy, d, tokens, N, uniforms=u), ref, rtol=0, atol=1e-12)
    # continuing from the sampler's states instead would give other rewards
    assert not torch.allclose(rollout_rewards(policy, d, tokens, N, states=g_states, uniforms=u), ref)


def test_states_of_equal_sample_states() -> None:
    g, _ = make_models()
    tokens, (hs, cs) = g.sample(B, T, rng=torch.Generator().manual_seed(4), return_states=True)
    ph, pc = g.states_of(tokens)
    assert ph.shape == (B, T - 1, 6)
    torch.testing.assert_close(ph, hs, rtol=0, atol=1e-12)
    torch.testing.assert_close(pc, cs, rtol=0, atol=1e-12)


def test_completions_keep_prefix_and_vary() -> None:
    g, _ = make_models()
    n = 8
    tokens = g.sample(B, T, rng=torch.Generator().manual_seed(5))
    comp = rollout_completions(g, tokens, n, rng=torch.Generator().manual_seed(6))
    assert comp.shape == (T - 1, n, B, T) and comp.dtype == torch.long
    for t in range(1, T):
        assert torch.equal(comp[t - 1, :, :, :t], tokens[:, :t].expand(n, B, t)), t
    assert int(comp.min()) >= 0 and int(comp.max()) < V
    # for the shortest prefix some row has at least two different completions among the n
    differs = (comp[0] != comp[0, :1]).any(dim=-1).any(dim=0)  # (B,)
    assert bool(differs.any())
    # and the continuations are not simply the sampled sequence
    assert not torch.equal(comp[0], tokens.expand(n, B, T))


def test_final_reward_is_eval_mode_prob_real() -> None:
    g, d = make_models()
    tokens = g.sample(B, T, rng=torch.Generator().manual_seed(7))
    rewards = rollout_rewards(g, d, tokens, N, rng=torch.Generator().manual_seed(8))
    d.eval()
    with torch.no_grad():
        expected = d.prob_real(tokens)
    torch.testing.assert_close(rewards[:, -1], expected, rtol=0, atol=1e-12)
    assert bool(((rewards > 0) & (rewards < 1)).all())


@pytest.mark.parametrize("reward_fn", ["batched", "naive"])
def test_rewards_use_eval_mode_and_restore_train_mode(reward_fn: str) -> None:
    g, d = make_models(dropout_keep=0.3)
    tokens = g.sample(B, T, rng=torch.Generator().manual_seed(9))
    u = rollout_uniforms(B, T, N, torch.Generator().manual_seed(10), "cpu")

    def rewards() -> torch.Tensor:
        if reward_fn == "batched":
            return rollout_rewards(g, d, tokens, N, uniforms=u)
        return naive_rollout_rewards(g, d, tokens, N, uniforms=u)

    d.eval()
    eval_rewards = rewards()
    assert not d.training
    d.train()
    with torch.no_grad():  # dropout is really active in train mode
        assert not torch.equal(d(tokens), d(tokens))
    first, second = rewards(), rewards()
    assert d.training  # mode restored
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(first, eval_rewards, rtol=0, atol=1e-12)


def test_score_chunks_and_restores_mode() -> None:
    _, d = make_models(dropout_keep=0.3)
    tokens = torch.randint(0, V, (10, T), generator=torch.Generator().manual_seed(11))
    d.train()
    chunked = score(d, tokens, batch=3)
    assert d.training
    d.eval()
    with torch.no_grad():
        torch.testing.assert_close(chunked, d.prob_real(tokens), rtol=0, atol=1e-12)


def test_constant_discriminator_gives_constant_rewards() -> None:
    g, d = make_models()
    with torch.no_grad():
        d.out.weight.zero_()
        d.out.bias.copy_(torch.tensor([0.0, math.log(0.7 / 0.3)], dtype=torch.float64))
    tokens = g.sample(B, T, rng=torch.Generator().manual_seed(12))
    rewards = rollout_rewards(g, d, tokens, N, rng=torch.Generator().manual_seed(13))
    assert rewards.shape == (B, T)
    torch.testing.assert_close(rewards, torch.full((B, T), 0.7, dtype=torch.float64), rtol=0, atol=1e-12)


def _exact_q(
    g: Generator, d: Discriminator, prefix: list[int], seq_len: int, vocab: int
) -> tuple[list[float], list[float], list[float]]:
    """Exact E[D] and E[D^2] of the completions of each prefix length, by enumeration, and
    (a wrong answer to tell apart) the unweighted mean of D over the completions."""
    seqs = torch.tensor(list(itertools.product(range(vocab), repeat=seq_len)), dtype=torch.long)
    with torch.no_grad():
        logp = g.log_probs(seqs)  # (V^T, T)
        d.eval()
        dp = d.prob_real(seqs)
    means, second, unweighted = [], [], []
    for t in range(1, seq_len):
        match = (seqs[:, :t] == torch.tensor(prefix[:t])).all(dim=1)
        w = logp[match, t:].sum(dim=1).exp()  # p(y_t+1..T | prefix)
        assert float(w.sum()) == pytest.approx(1.0, abs=1e-12)
        means.append(float((w * dp[match]).sum()))
        second.append(float((w * dp[match] ** 2).sum()))
        unweighted.append(float(dp[match].mean()))
    return means, second, unweighted


@pytest.mark.parametrize("reward_fn", ["batched", "naive"])
def test_mean_reward_matches_exact_expectation(reward_fn: str) -> None:
    vocab, seq_len = 3, 3
    g, d = make_models(vocab=vocab, seq_len=seq_len, seed=5, g_std=1.5, d_scale=40.0)
    prefix = [1, 2, 0]
    means, second, unweighted = _exact_q(g, d, prefix, seq_len, vocab)
    rng = torch.Generator().manual_seed(14)
    if reward_fn == "batched":
        n = 20_000
        rewards = rollout_rewards(g, d, torch.tensor([prefix]), n, rng=rng)[0]
    else:  # independent rows instead of a long Python loop over roll-outs; torch.multinomial draws
        rows, rolls = 5_000, 4
        n = rows * rolls
        rewards = naive_rollout_rewards(g, d, torch.tensor([prefix] * rows), rolls, rng=rng).mean(dim=0)
    for t in range(1, seq_len):
        se = math.sqrt((second[t - 1] - means[t - 1] ** 2) / n)
        assert abs(means[t - 1] - unweighted[t - 1]) > 20 * se  # G's weights matter at this tolerance
        assert abs(float(rewards[t - 1]) - means[t - 1]) < 4 * se, (t, float(rewards[t - 1]), means[t - 1], se)
    # Q_T is D(Y_1:T) itself, and differs from the roll-out values (exact: 0.670, 0.329, 0.417)
    with torch.no_grad():
        d_full = float(d.eval().prob_real(torch.tensor([prefix])))
    assert float(rewards[-1]) == pytest.approx(d_full, abs=1e-12)
    assert abs(means[0] - means[1]) > 0.1 and abs(means[1] - d_full) > 0.05


def test_update_delayed_policy() -> None:
    g, _ = make_models(seed=0)
    policy, _ = make_models(seed=1)
    beta = {k: v.clone() for k, v in policy.state_dict().items()}
    theta = {k: v.clone() for k, v in g.state_dict().items()}
    update_delayed_policy(policy, g, 0.8)
    new = policy.state_dict()
    for key in ("lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "out.weight", "out.bias"):
        assert not torch.allclose(beta[key], theta[key])
        torch.testing.assert_close(new[key], 0.8 * beta[key] + 0.2 * theta[key], rtol=0, atol=1e-14)
    # hand check of one entry
    w_b, w_t = float(beta["lstm.weight_ih_l0"][2, 3]), float(theta["lstm.weight_ih_l0"][2, 3])
    assert float(new["lstm.weight_ih_l0"][2, 3]) == pytest.approx(0.8 * w_b + 0.2 * w_t, abs=1e-15)
    assert torch.equal(new["embedding.weight"], theta["embedding.weight"])
    assert float(new["lstm.bias_hh_l0"].abs().max()) == 0.0
    for key, value in g.state_dict().items():  # the generator is not touched
        assert torch.equal(value, theta[key]), key


def test_prefix_shared_scoring_equals_plain_scoring():
    """score_completions reuses the prefix windows of Y; it must give exactly what scoring every
    completion from scratch gives (float64), also with chunks that split the roll-outs."""
    from seqgan.config import paper_filters as filters
    from seqgan.train.rollout import score, score_completions

    torch.manual_seed(5)
    g = Generator(30, 8, 8, init_std=0.5).double()
    d = Discriminator(30, filters(12), emb_dim=6).double()
    rng = torch.Generator().manual_seed(6)
    tokens, states = g.sample(7, 12, rng, return_states=True)
    comp = rollout_completions(g, tokens, 3, states, rng=rng)
    plain = score(d, comp.reshape(-1, 12)).view(11, 3, 7)
    for batch in (4096, 14, 7):
        assert torch.allclose(score_completions(d, tokens, comp, batch), plain, rtol=0, atol=1e-13)


def test_bf16_rewards_are_close_to_fp32_and_keep_the_dtype() -> None:
    g, d = make_models()
    g, d = g.float(), d.float()
    tokens, states = g.sample(B, T, rng=torch.Generator().manual_seed(0), return_states=True)
    u = rollout_uniforms(B, T, N, torch.Generator().manual_seed(1), "cpu")
    fp32 = rollout_rewards(g, d, tokens, N, states=states, uniforms=u)
    bf16 = rollout_rewards(g, d, tokens, N, states=states, uniforms=u, bf16=True)
    assert bf16.dtype == torch.float32 and bf16.shape == (B, T)
    # bf16 keeps 8 bits of mantissa: probabilities move by about 1e-2, not more
    torch.testing.assert_close(bf16, fp32, rtol=0, atol=0.05)
    assert not torch.equal(bf16, fp32)  # bf16 really ran (fp32 again would be identical)
    assert not torch.is_autocast_enabled("cpu")  # and is switched off afterwards


def test_score_with_a_compute_dtype_equals_the_module() -> None:
    """score(dtype=...) lays D's weights out once (bias and ReLU after the max, the highway's two products as
    one); in D's own dtype it gives what D's forward gives, and bf16 stays within bf16's precision of it."""
    from seqgan.config import paper_filters as filters

    torch.manual_seed(2)
    d = Discriminator(30, filters(12), emb_dim=6).double()
    rows = torch.randint(0, 30, (40, 12))
    plain = score(d, rows)
    torch.testing.assert_close(score(d, rows, batch=7, dtype=torch.float64), plain, rtol=0, atol=1e-13)
    d = d.float()
    bf16 = score(d, rows, dtype=torch.bfloat16)
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, score(d, rows))
    torch.testing.assert_close(bf16, score(d, rows), rtol=0, atol=0.03)


def test_bf16_prefix_sharing_equals_bf16_scoring_from_scratch() -> None:
    """In bf16 the shared prefix windows give what scoring every completion from scratch in bf16 gives (the
    sharing adds no error of its own; only the products' rounding, bounded above, differs from fp32)."""
    from seqgan.config import paper_filters as filters
    from seqgan.train.rollout import score_completions

    torch.manual_seed(5)
    g = Generator(30, 8, 8, init_std=0.5)
    d = Discriminator(30, filters(12), emb_dim=6)
    rng = torch.Generator().manual_seed(6)
    tokens, states = g.sample(7, 12, rng, return_states=True)
    comp = rollout_completions(g, tokens, 3, states, rng=rng)
    scratch = score(d, comp.reshape(-1, 12), dtype=torch.bfloat16).view(11, 3, 7)
    shared = score_completions(d, tokens, comp, dtype=torch.bfloat16)
    torch.testing.assert_close(shared, scratch, rtol=0, atol=2e-3)
    torch.testing.assert_close(shared, score_completions(d, tokens, comp), rtol=0, atol=0.03)
