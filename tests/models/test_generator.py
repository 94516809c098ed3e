"""Generator: likelihood, the step API, sampling (incl. returned states) and inverse-CDF draws."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from seqgan.eval.metrics import sequence_nll
from seqgan.models.generator import Generator
from seqgan.models.sampling import sample_from_logits


def small_generator(vocab: int = 11, emb: int = 6, hidden: int = 5, seed: int = 0, std: float = 0.5) -> Generator:
    torch.manual_seed(seed)
    g = Generator(vocab, emb, hidden, init_std=std).double()
    return g


def all_sequences(vocab: int, seq_len: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(vocab), repeat=seq_len)), dtype=torch.long)


# ---- likelihood ---------------------------------------------------------------------------------


def test_brute_force_probabilities_sum_to_one() -> None:
    g = small_generator(vocab=3, emb=4, hidden=4, std=1.0)
    seqs = all_sequences(3, 3)
    assert seqs.shape == (27, 3)
    probs = g.log_probs(seqs).sum(dim=1).exp().detach()
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-5)
    # and the distribution is not uniform (so the check is not trivially met)
    assert float(probs.max() / probs.min()) > 2.0


def test_sequence_nll_equals_hand_computed() -> None:
    g = small_generator(vocab=3, emb=4, hidden=4, std=1.0)
    seqs = all_sequences(3, 3)
    logits = g(seqs)
    assert logits.shape == (27, 3, 3)
    logp = torch.log_softmax(logits, dim=-1).gather(-1, seqs.unsqueeze(-1)).squeeze(-1)
    expected = -logp.mean(dim=1)
    got = sequence_nll(g, seqs, batch_size=5)  # several chunks, incl. a short last one
    assert got.shape == (27,)
    torch.testing.assert_close(got, expected.detach(), rtol=0, atol=1e-12)


def test_sequence_nll_restores_training_mode() -> None:
    g = small_generator()
    g.train()
    sequence_nll(g, torch.zeros(2, 3, dtype=torch.long))
    assert g.training
    g.eval()
    sequence_nll(g, torch.zeros(2, 3, dtype=torch.long))
    assert not g.training


def test_forward_and_log_probs_shapes() -> None:
    g = small_generator(vocab=11)
    tokens = torch.randint(0, 11, (4, 6), generator=torch.Generator().manual_seed(0))
    assert g(tokens).shape == (4, 6, 11)
    lp = g.log_probs(tokens)
    assert lp.shape == (4, 6)
    assert bool((lp < 0).all())


def test_step_matches_teacher_forced_forward() -> None:
    g = small_generator(vocab=11)
    tokens = torch.randint(0, 11, (4, 6), generator=torch.Generator().manual_seed(1))
    teacher = g(tokens)
    h, c = g.initial_state(4)
    assert h.shape == c.shape == (4, 5)
    assert float(h.abs().sum() + c.abs().sum()) == 0.0
    state = (h, c)
    inputs = torch.full((4,), g.start_token, dtype=torch.long)
    for t in range(6):
        logits, state = g.step(inputs, state)
        assert logits.shape == (4, 11)
        torch.testing.assert_close(logits, teacher[:, t], rtol=0, atol=1e-5)
        inputs = tokens[:, t]


def test_start_token_is_first_input() -> None:
    g = small_generator(vocab=11)
    g.start_token = 4
    tokens = torch.randint(0, 11, (3, 4), generator=torch.Generator().manual_seed(2))
    logits, _ = g.step(torch.full((3,), 4, dtype=torch.long), g.initial_state(3))
    torch.testing.assert_close(g(tokens)[:, 0], logits, rtol=0, atol=1e-12)
    other, _ = g.step(torch.zeros(3, dtype=torch.long), g.initial_state(3))
    assert not torch.allclose(other, logits)


# ---- sampling -----------------------------------------------------------------------------------


def test_sample_states_are_states_after_each_token() -> None:
    g = small_generator(vocab=11)
    B, T = 5, 6
    tokens, (hs, cs) = g.sample(B, T, rng=torch.Generator().manual_seed(0), return_states=True)
    assert tokens.shape == (B, T) and tokens.dtype == torch.long
    assert hs.shape == cs.shape == (B, T - 1, 5)
    state = g.initial_state(B)
    _, state = g.step(torch.full((B,), g.start_token, dtype=torch.long), state)
    for t in range(T - 1):
        _, state = g.step(tokens[:, t], state)  # after feeding y_0 .. y_t
        torch.testing.assert_close(hs[:, t], state[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(cs[:, t], state[1], rtol=0, atol=1e-12)


def test_sample_with_uniforms_is_inverse_cdf_of_step_logits() -> None:
    g = small_generator(vocab=11)
    B, T = 6, 5
    u = torch.rand(B, T, generator=torch.Generator().manual_seed(3))
    tokens = g.sample(B, T, uniforms=u)
    state = g.initial_state(B)
    inputs = torch.full((B,), g.start_token, dtype=torch.long)
    for t in range(T):
        logits, state = g.step(inputs, state)
        inputs = sample_from_logits(logits, u[:, t])
        assert torch.equal(tokens[:, t], inputs)
    # the plain and the return_states call draw the same tokens
    same, _ = g.sample(B, T, uniforms=u, return_states=True)
    assert torch.equal(same, tokens)


def test_sample_seeding() -> None:
    g = small_generator(vocab=11)
    a = g.sample(8, 6, rng=torch.Generator().manual_seed(7))
    b = g.sample(8, 6, rng=torch.Generator().manual_seed(7))
    c = g.sample(8, 6, rng=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert int(a.min()) >= 0 and int(a.max()) < 11


def test_sample_distribution_matches_log_probs() -> None:
    """Ancestral samples of all 27 sequences (V = 3, T = 3) occur with probability exp(sum log_probs)."""
    g = small_generator(vocab=3, emb=4, hidden=4, std=1.0, seed=4)
    n = 60_000
    tokens = g.sample(n, 3, rng=torch.Generator().manual_seed(0))
    index = tokens[:, 0] * 9 + tokens[:, 1] * 3 + tokens[:, 2]
    freq = torch.bincount(index, minlength=27).double() / n
    p = g.log_probs(all_sequences(3, 3)).sum(dim=1).exp().detach()
    se = (p * (1 - p) / n).sqrt()
    assert bool(((freq - p).abs() <= 4 * se + 1e-9).all()), (freq, p)


# ---- sample_from_logits -------------------------------------------------------------------------


def test_sample_from_logits_hand_cases() -> None:
    logits = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64).log().expand(5, 3)
    u = torch.tensor([0.1, 0.19, 0.69, 0.71, 0.999])
    # cdf = [0.2, 0.7, 1.0]
    assert sample_from_logits(logits, u).tolist() == [0, 0, 1, 2, 2]


def test_sample_from_logits_boundary_goes_to_next_token() -> None:
    # Equal logits give exact probabilities 0.25 and cdf [0.25, 0.5, 0.75, 1.0] in binary.
    # searchsorted(right=True): u * total equal to a cdf value picks the *next* token.
    logits = torch.zeros(6, 4, dtype=torch.float64)
    u = torch.tensor([0.0, 0.2499, 0.25, 0.5, 0.75, 0.9999])
    assert sample_from_logits(logits, u).tolist() == [0, 0, 1, 2, 3, 3]


def test_sample_from_logits_never_picks_zero_probability_tokens() -> None:
    inf = float("inf")
    logits = torch.tensor(
        [
            [-inf, 0.0, 0.0],  # first token impossible: u = 0 must not pick it
            [0.0, -inf, 0.0],  # middle token impossible: u at the cdf plateau skips it
            [0.0, 0.0, -inf],  # last token impossible: u close to 1 stays below it
            [-inf, -inf, 0.0],
        ],
        dtype=torch.float64,
    )
    assert sample_from_logits(logits, torch.tensor([0.0, 0.5, 0.99999994, 0.0])).tolist() == [1, 2, 1, 2]
    # largest float32 below 1 with float32 logits
    top = torch.tensor([1.0 - 2.0**-24] * 4)
    assert sample_from_logits(logits.float(), top).tolist() == [2, 2, 1, 2]


def test_sample_from_logits_frequencies() -> None:
    p = torch.tensor([0.05, 0.1, 0.2, 0.25, 0.4], dtype=torch.float64)
    n = 200_000
    u = torch.rand(n, generator=torch.Generator().manual_seed(0))
    draws = sample_from_logits(p.log().expand(n, 5), u)
    freq = torch.bincount(draws, minlength=5).double() / n
    se = (p * (1 - p) / n).sqrt()
    assert bool(((freq - p).abs() <= 4 * se).all()), freq


def test_sample_from_logits_temperature() -> None:
    logits = torch.tensor([0.0, 0.5, 1.0, -1.0, 0.3], dtype=torch.float64)
    n = 200_000
    u = torch.rand(n, generator=torch.Generator().manual_seed(1))
    draws = sample_from_logits(logits.expand(n, 5), u, temperature=0.5)
    freq = torch.bincount(draws, minlength=5).double() / n
    p = torch.softmax(logits / 0.5, dim=0)
    p1 = torch.softmax(logits, dim=0)
    se = (p * (1 - p) / n).sqrt()
    assert bool(((freq - p).abs() <= 4 * se).all()), (freq, p)
    assert float((p - p1).abs().max()) > 50 * float(se.max())  # temperature 1 would fail above
    # exactly the same draws as temperature 1 on logits / 0.5
    assert torch.equal(draws, sample_from_logits(logits.expand(n, 5) * 2.0, u))


def test_sample_from_logits_output_contract() -> None:
    logits = torch.randn(7, 9, generator=torch.Generator().manual_seed(0))
    out = sample_from_logits(logits, torch.rand(7, generator=torch.Generator().manual_seed(1)))
    assert out.shape == (7,) and out.dtype == torch.int64
    assert int(out.min()) >= 0 and int(out.max()) <= 8


# ---- initialisation -----------------------------------------------------------------------------


def test_generator_init_real_size() -> None:
    torch.manual_seed(0)
    g = Generator(5000)
    trainable = {name for name, p in g.named_parameters() if p.requires_grad}
    assert trainable == {
        "embedding.weight",
        "lstm.weight_ih_l0",
        "lstm.weight_hh_l0",
        "lstm.bias_ih_l0",
        "out.weight",
        "out.bias",
    }
    for name, p in g.named_parameters():
        if not p.requires_grad:
            continue
        p = p.detach()
        n = p.numel()
        # sample std of N(0, 0.1^2): standard error 0.1 / sqrt(2n); mean: 0.1 / sqrt(n)
        assert abs(float(p.std()) - 0.1) < 4 * 0.1 / math.sqrt(2 * n), (name, float(p.std()))
        assert abs(float(p.mean())) < 4 * 0.1 / math.sqrt(n), (name, float(p.mean()))
    assert float(g.lstm.bias_hh_l0.abs().max()) == 0.0
    assert not g.lstm.bias_hh_l0.requires_grad
    # reset keeps bias_hh at zero and frozen, also with another std
    g.reset_parameters(0.5)
    assert float(g.lstm.bias_hh_l0.abs().max()) == 0.0 and not g.lstm.bias_hh_l0.requires_grad
    assert abs(float(g.out.weight.detach().std()) - 0.5) < 0.01


def test_two_level_search_matches_full_cdf_and_frequencies():
    """Above 4 x 128 classes the sampler searches blocks, then tokens. It must pick the same
    token as a search of the full cumulative sum (float64, random logits and uniforms), also
    for K draws per row, and its frequencies must follow the probabilities."""
    from seqgan.models.sampling import sample_from_logits

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 1000, generator=g, dtype=torch.float64) * 3
    u = torch.rand(64, 7, generator=g, dtype=torch.float64)
    cdf = torch.softmax(logits, -1).cumsum(-1)
    full = torch.searchsorted(cdf, u * cdf[:, -1:], right=True).clamp(max=999)
    assert torch.equal(sample_from_logits(logits, u), full)
    assert torch.equal(sample_from_logits(logits, u[:, 0]), full[:, 0])
    # Frequencies over 600 classes (4 full blocks and a partial one) with a few heavy tokens.
    logits = torch.full((1, 600), -2.0)
    logits[0, [0, 127, 128, 511, 512, 599]] = torch.tensor([1.0, 2.0, 0.5, 1.5, 2.5, 1.0])
    probs = torch.softmax(logits, -1)[0]
    n = 200_000
    draws = sample_from_logits(logits.expand(n, 600), torch.rand(n, generator=g))
    freq = torch.bincount(draws, minlength=600).double() / n
    se = (probs * (1 - probs) / n).sqrt()
    assert ((freq - probs).abs() <= 4 * se + 1e-12).all()
    # A zero-probability class is never drawn, even in the partial last block.
    logits[0, 599] = -float("inf")
    draws = sample_from_logits(logits.expand(20_000, 600), torch.rand(20_000, generator=g))
    assert (draws != 599).all()
