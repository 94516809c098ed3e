"""Conditional generation at the model level: the label is G's first input and a token D reads first.

Every fast path (teacher forcing, cached decoding, shared-prefix roll-out scoring) must equal the plain
reference with labels too, and the label must actually change what G predicts.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqgan.models.discriminator import Discriminator
from seqgan.models.generator import Generator
from seqgan.models.oracle import build_oracle, oracle_params
from seqgan.models.oracle_file import load_oracle_params, random_oracle_params, save_oracle_params
from seqgan.models.transformer import TransformerGenerator
from seqgan.train.rollout import (
    labelled,
    naive_rollout_rewards,
    rollout_rewards,
    rollout_uniforms,
    score,
    score_completions,
)

V, T, B, N, K = 9, 5, 4, 3, 3


def make_generator(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "lstm":
        g = Generator(V, 6, 6, init_std=0.8, num_labels=K).double()
    else:
        g = TransformerGenerator(
            V, width=8, layers=2, heads=2, ff_dim=16, max_len=T, init_std=0.5, num_labels=K
        ).double()
    with torch.no_grad():
        g.label_embedding.weight.mul_(4.0)  # labels far apart, so that each label visibly changes the draws
    return g


def make_discriminator() -> Discriminator:
    torch.manual_seed(1)
    d = Discriminator(V + K, ((1, 3), (2, 4), (3, 3)), emb_dim=8).double()
    with torch.no_grad():
        d.out.weight.mul_(10.0)
    return d


def test_labelled_prepends_one_token_per_sequence() -> None:
    tokens = torch.tensor([[1, 2, 3], [4, 5, 6]])
    out = labelled(tokens, torch.tensor([0, 2]), vocab_size=7)
    assert out.tolist() == [[7, 1, 2, 3], [9, 4, 5, 6]]
    stacked = labelled(tokens.expand(2, 3, 2, 3), torch.tensor([1, 0]), vocab_size=7)  # (T-1, N, B, T) completions
    assert stacked.shape == (2, 3, 2, 4)
    assert stacked[..., 0].tolist() == [[[8, 7]] * 3] * 2
    assert labelled(tokens, None, 7) is tokens


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_decoding_step_by_step_equals_teacher_forcing_with_labels(kind: str) -> None:
    g = make_generator(kind).eval()
    labels = torch.tensor([0, 1, 2, 1])
    tokens = g.sample(B, T, rng=torch.Generator().manual_seed(2), labels=labels)
    forced = g(tokens, labels)  # (B, T, V)
    state = g.begin(B, labels)
    stepped = [g.state_logits(state)]
    for t in range(T - 1):
        stepped.append(g.step(tokens[:, t], state)[0])
        state = g.step(tokens[:, t], state)[1]
    torch.testing.assert_close(torch.stack(stepped, 1), forced, rtol=0, atol=1e-10)
    # the label is a real input: another label gives other predictions for the same tokens
    assert not torch.allclose(g(tokens, (labels + 1) % K), forced)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_sampling_follows_the_label(kind: str) -> None:
    g = make_generator(kind).eval()
    u = torch.rand(B, T, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    same = g.sample(B, T, uniforms=u, labels=torch.zeros(B, dtype=torch.long))
    other = g.sample(B, T, uniforms=u, labels=torch.full((B,), 2))
    assert not torch.equal(same, other)  # the same random numbers, another label: other sequences
    # generate() cuts the labels into its batches: each row keeps its own label
    labels = torch.tensor([2, 0, 1, 2, 0])
    batched = g.generate(5, T, rng=torch.Generator().manual_seed(4), batch_size=2, labels=labels)
    rng = torch.Generator().manual_seed(4)
    one_by_one = torch.cat([g.sample(len(labels[i : i + 2]), T, rng, labels=labels[i : i + 2]) for i in (0, 2, 4)])
    assert torch.equal(batched, one_by_one)
    zeros = g.generate(5, T, rng=torch.Generator().manual_seed(4), batch_size=2, labels=torch.zeros_like(labels))
    assert not torch.equal(batched, zeros)


@pytest.mark.parametrize("kind", ["lstm", "transformer"])
def test_conditional_rollout_rewards_equal_the_reference_loop(kind: str) -> None:
    g, d = make_generator(kind).eval(), make_discriminator()
    labels = torch.tensor([2, 0, 1, 2])
    tokens, states = g.sample(B, T, rng=torch.Generator().manual_seed(5), return_states=True, labels=labels)
    u = rollout_uniforms(B, T, N, torch.Generator().manual_seed(6), "cpu").double()
    ref = naive_rollout_rewards(g, d, tokens, N, uniforms=u, labels=labels)
    torch.testing.assert_close(
        rollout_rewards(g, d, tokens, N, states=states, uniforms=u, labels=labels), ref, rtol=0, atol=1e-12
    )
    torch.testing.assert_close(rollout_rewards(g, d, tokens, N, uniforms=u, labels=labels), ref, rtol=0, atol=1e-12)
    assert float(ref.max() - ref.min()) > 0.05
    # D judges the label too: the same sequences asked for other labels earn other final rewards
    assert not torch.allclose(score(d, labelled(tokens, (labels + 1) % K, V)), ref[:, -1])


def test_shared_prefix_scoring_with_a_label_column_equals_plain_scoring() -> None:
    g, d = make_generator("lstm").eval(), make_discriminator()
    labels = torch.tensor([1, 1, 0, 2])
    tokens = g.sample(B, T, rng=torch.Generator().manual_seed(7), labels=labels)
    comp = torch.randint(0, V, (T - 1, N, B, T), generator=torch.Generator().manual_seed(8))
    for t in range(1, T):  # completions keep their prefix, as roll-outs do
        comp[t - 1, :, :, :t] = tokens[:, :t]
    lt, lc = labelled(tokens, labels, V), labelled(comp, labels, V)
    shared = score_completions(d, lt, lc, shift=1)
    plain = score(d, lc.reshape(-1, T + 1)).view(T - 1, N, B)
    torch.testing.assert_close(shared, plain, rtol=0, atol=1e-12)


def test_conditional_oracle_round_trips_and_each_label_has_its_own_distribution(tmp_path) -> None:
    params = random_oracle_params(vocab_size=V, emb_dim=4, hidden_dim=5, seed=1, num_labels=K)
    assert params["label_embedding"].shape == (K, 4)
    save_oracle_params(params, tmp_path / "oracle.npz")
    loaded = load_oracle_params(tmp_path / "oracle.npz")
    assert set(loaded) == set(params)
    for key in params:
        np.testing.assert_array_equal(loaded[key], params[key])
    oracle = build_oracle(loaded)
    assert oracle.num_labels == K
    back = oracle_params(oracle)
    np.testing.assert_array_equal(back["label_embedding"], params["label_embedding"])
    tokens = oracle.sample(64, T, rng=torch.Generator().manual_seed(9), labels=torch.zeros(64, dtype=torch.long))
    nll = [float(-oracle.log_probs(tokens, labels=torch.full((64,), k)).sum(1).mean()) for k in range(K)]
    assert nll[0] < min(nll[1:])  # sequences drawn for label 0 are likeliest under label 0


def test_a_malformed_label_embedding_is_refused(tmp_path) -> None:
    from seqgan.errors import UserError

    params = random_oracle_params(vocab_size=V, emb_dim=4, hidden_dim=5, seed=1, num_labels=K)
    params["label_embedding"] = params["label_embedding"][:, :3]  # wrong width
    np.savez(tmp_path / "bad.npz", **params)
    with pytest.raises(UserError, match="label_embedding"):
        load_oracle_params(tmp_path / "bad.npz")
