"""The oracle LSTM computes exactly the cell of docs/oracle-format.md (re-computed here in numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqgan.eval.metrics import mean_nll
from seqgan.models.generator import Generator
from seqgan.models.oracle import build_oracle, oracle_params
from seqgan.models.oracle_file import PARAM_KEYS, random_oracle_params


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def numpy_oracle_log_probs(params: dict[str, np.ndarray], tokens: np.ndarray) -> np.ndarray:
    """Per-token log p(y_t | y_<t), float64, following docs/oracle-format.md line by line.

    Row-vector convention (x W, h U), h0 = c0 = 0, first input embedding[0], teacher forcing.
    """
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    batch, seq_len = tokens.shape
    hidden = p["U_i"].shape[0]
    h = np.zeros((batch, hidden))
    c = np.zeros((batch, hidden))
    prev = np.zeros(batch, dtype=np.int64)  # START_TOKEN = 0
    out = np.zeros((batch, seq_len))
    for t in range(seq_len):
        x = p["embedding"][prev]
        i = _sigmoid(x @ p["W_i"] + h @ p["U_i"] + p["b_i"])
        f = _sigmoid(x @ p["W_f"] + h @ p["U_f"] + p["b_f"])
        o = _sigmoid(x @ p["W_o"] + h @ p["U_o"] + p["b_o"])
        g = np.tanh(x @ p["W_c"] + h @ p["U_c"] + p["b_c"])
        c = f * c + i * g
        h = o * np.tanh(c)
        logits = h @ p["W_out"] + p["b_out"]
        m = logits.max(axis=1, keepdims=True)
        logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
        out[:, t] = logp[np.arange(batch), tokens[:, t]]
        prev = tokens[:, t]
    return out


@pytest.mark.parametrize(("vocab", "emb", "hidden", "seed"), [(50, 8, 8, 0), (37, 5, 7, 3)])
def test_oracle_log_probs_match_numpy_cell(vocab: int, emb: int, hidden: int, seed: int) -> None:
    # E != H in the second case: a transposed W or U would not even have the right shape.
    params = random_oracle_params(vocab, emb, hidden, seed)
    oracle = build_oracle(params)
    rng = np.random.default_rng(seed + 100)
    tokens = rng.integers(0, vocab, size=(6, 6))
    tokens[0] = 0  # the start id as an ordinary token
    tokens[1, :3] = vocab - 1
    expected = numpy_oracle_log_probs(params, tokens)
    got = oracle.log_probs(torch.from_numpy(tokens)).double().numpy()
    assert got.shape == (6, 6)
    # float32 model vs float64 numpy: observed max difference < 1e-6.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    # the values are not trivially equal across sequences (the recurrence matters)
    assert np.ptp(expected) > 1.0


def test_oracle_uses_start_token_zero_and_zero_state() -> None:
    params = random_oracle_params(20, 4, 4, seed=5)
    oracle = build_oracle(params)
    # log p(y_1) is softmax(h_1 W_out + b_out) with h_1 from x = embedding[0], h0 = c0 = 0.
    x = params["embedding"][0].astype(np.float64)
    i = _sigmoid(x @ params["W_i"] + params["b_i"])
    o = _sigmoid(x @ params["W_o"] + params["b_o"])
    g = np.tanh(x @ params["W_c"] + params["b_c"])
    h = o * np.tanh(i * g)
    logits = h @ params["W_out"] + params["b_out"]
    logp = logits - np.log(np.exp(logits).sum())
    first = oracle.log_probs(torch.arange(20).unsqueeze(1)).double().numpy()[:, 0]
    np.testing.assert_allclose(first, logp, atol=1e-5)


def test_oracle_params_round_trip() -> None:
    params = random_oracle_params(50, 8, 6, seed=1)
    back = oracle_params(build_oracle(params))
    assert list(back) != [] and set(back) == set(PARAM_KEYS)
    for key in PARAM_KEYS:
        assert back[key].dtype == np.float32, key
        assert back[key].shape == params[key].shape, key
        assert np.array_equal(back[key], params[key]), key


def test_build_oracle_is_frozen_eval_generator() -> None:
    oracle = build_oracle(random_oracle_params(30, 4, 4, seed=2))
    assert isinstance(oracle, Generator)
    assert not oracle.training
    assert all(not p.requires_grad for p in oracle.parameters())
    assert oracle.start_token == 0
    assert float(oracle.lstm.bias_hh_l0.abs().max()) == 0.0


def test_oracle_params_rejects_nonzero_bias_hh() -> None:
    oracle = build_oracle(random_oracle_params(30, 4, 4, seed=2))
    with torch.no_grad():
        oracle.lstm.bias_hh_l0[3] = 0.5
    with pytest.raises(ValueError, match="bias_hh"):
        oracle_params(oracle)


# ---- the real size: V = 5000, E = H = 32 -------------------------------------------------------


def test_generator_trainable_parameter_count_real_size() -> None:
    g = Generator(5000)
    n = sum(p.numel() for p in g.parameters() if p.requires_grad)
    # embedding 5000*32 + LSTM (4*32*32 W + 4*32*32 U + 4*32 b) + output 32*5000 + 5000
    assert n == 5000 * 32 + (4 * 32 * 32 * 2 + 4 * 32) + (32 * 5000 + 5000) == 333_320


@pytest.fixture(scope="module")
def real_oracle() -> Generator:
    return build_oracle(random_oracle_params(5000, 32, 32, seed=0))


def test_fresh_oracle_nll_of_own_samples(real_oracle: Generator) -> None:
    # Observed here (T = 20, 2,000 samples, sampling seed 0): oracle seeds 0 / 1 / 2 give
    # 5.796 / 6.031 / 5.848, and other sampling seeds move each by < 0.02. docs/oracle-format.md
    # reports 5.93-6.03 for three other fresh oracles and 5.75 for the authors' one; [5.6, 6.3]
    # holds all of these with room, while a broken sampler (e.g. uniform draws, ~11) cannot pass.
    samples = real_oracle.sample(2000, 20, rng=torch.Generator().manual_seed(0))
    assert samples.shape == (2000, 20)
    nll = mean_nll(real_oracle, samples)
    assert 5.6 <= nll <= 6.3
    assert abs(nll - 5.796) < 0.03  # this seed's value (float32 CPU), so a drift is noticed


def test_uniform_random_ids_nll(real_oracle: Generator) -> None:
    # docs: 11.43 for the *authors'* oracle. For fresh N(0,1) oracles this is not the value:
    # seeds 0 / 1 / 2 give 11.34 / 11.12 / 11.30 here, so "within 0.1 of 11.43" would be false
    # for seed 1. What holds for any oracle: the cross-entropy of uniform ids is
    # log V + KL(uniform || p) >= log 5000 = 8.52, and a peaked N(0,1) oracle is far above it.
    ids = torch.randint(0, 5000, (2000, 20), generator=torch.Generator().manual_seed(1))
    nll = mean_nll(real_oracle, ids)
    assert nll > math.log(5000) + 2.0
    assert abs(nll - 11.34) < 0.05  # this oracle (seed 0)
