"""Variable-length sequences: EOS ends a sequence, PAD follows, and padding changes nothing."""

from __future__ import annotations

import torch

from seqgan.config import paper_filters
from seqgan.eval.metrics import mean_nll, sequence_nll
from seqgan.models import Discriminator, Generator
from seqgan.models.sampling import sequence_mask
from seqgan.train.losses import mle_loss, policy_gradient_loss
from seqgan.train.rollout import naive_rollout_rewards, rollout_completions, rollout_rewards, rollout_uniforms

PAD, BOS, EOS = 0, 1, 2


def _generator(seed: int = 0, vocab: int = 7) -> Generator:
    torch.manual_seed(seed)
    # A large init makes EOS likely early, so that sequences of many lengths occur.
    g = Generator(vocab, 6, 6, start_token=BOS, init_std=0.8, eos_token=EOS, pad_token=PAD).double()
    with torch.no_grad():
        g.out.bias[EOS] += 1.0
        g.out.bias[PAD] = -30.0  # PAD is never a real token
    return g


def test_sequence_mask_hand_case():
    tokens = torch.tensor([[5, 6, EOS, PAD, PAD], [5, EOS, 4, EOS, 3], [3, 4, 5, 6, 3]])
    expected = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(sequence_mask(tokens, EOS), expected)
    assert sequence_mask(tokens, None).all()


def test_samples_stop_at_eos_and_pad_after():
    g = _generator()
    tokens = g.sample(500, 8, torch.Generator().manual_seed(1))
    mask = sequence_mask(tokens, EOS)
    assert (tokens[~mask] == PAD).all()
    lengths = mask.sum(1)
    assert lengths.min() < 8 and len(lengths.unique()) >= 4  # several lengths actually occur
    ended = (tokens == EOS).any(1)
    assert ended.any()
    # rows without EOS use all T positions with real tokens
    assert (tokens[~ended] != PAD).all()


def _perturb_padding(tokens: torch.Tensor) -> torch.Tensor:
    """Same sequences with garbage (not EOS) written over the padding."""
    out = tokens.clone()
    pad = ~sequence_mask(tokens, EOS)
    out[pad] = torch.randint(3, 7, (int(pad.sum()),))
    return out


def test_padding_has_no_effect_on_losses_metrics_and_gradients():
    g = _generator()
    tokens = g.sample(64, 8, torch.Generator().manual_seed(2))
    assert (~sequence_mask(tokens, EOS)).any()
    other = _perturb_padding(tokens)
    rewards = torch.rand(64, 8, dtype=torch.float64)
    grads = []
    for toks in (tokens, other):
        mask = sequence_mask(toks, EOS)
        g.zero_grad()
        loss = policy_gradient_loss(g.log_probs(toks), rewards, "mean", mask) + mle_loss(g(toks), toks, mask)
        loss.backward()
        grads.append([p.grad.clone() for p in g.parameters() if p.requires_grad])
        grads[-1].append(loss.detach())
    for a, b in zip(grads[0], grads[1], strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)
    assert torch.allclose(sequence_nll(g, tokens), sequence_nll(g, other), atol=1e-12)
    # mean_nll is the mean over all real tokens, not over positions
    mask = sequence_mask(tokens, EOS)
    by_hand = -(g.log_probs(tokens) * mask).sum() / mask.sum()
    assert abs(mean_nll(g, tokens) - float(by_hand.detach())) < 1e-9


def test_log_probs_and_mle_loss_count_real_positions_only():
    g = _generator()
    tokens = torch.tensor([[4, EOS, PAD, PAD]])
    logp = torch.log_softmax(g(tokens), -1)[0]
    assert torch.allclose(
        g.log_probs(tokens)[0], torch.stack([logp[0, 4], logp[1, EOS], logp.new_zeros(()), logp.new_zeros(())])
    )
    loss = mle_loss(g(tokens), tokens, sequence_mask(tokens, EOS))
    assert torch.allclose(loss, -(logp[0, 4] + logp[1, EOS]) / 2)


def test_rollouts_respect_eos_and_match_the_reference():
    g = _generator(3)
    d = Discriminator(7, paper_filters(6), emb_dim=4).double()
    rng = torch.Generator().manual_seed(4)
    tokens, states = g.sample(12, 6, rng, return_states=True)
    assert (tokens == EOS).any(1).sum() >= 3
    u = rollout_uniforms(12, 6, 5, rng, "cpu").double()
    comp = rollout_completions(g, tokens, 5, states, u)  # (T-1, N, B, T)
    for t in range(1, 6):
        block = comp[t - 1]  # (N, B, T)
        assert torch.equal(block[..., :t], tokens[:, :t].expand(5, -1, -1))
        flat = block.reshape(-1, 6)
        assert (flat[~sequence_mask(flat, EOS)] == PAD).all()
        # a prefix that already ended is completed by padding only
        ended = (tokens[:, :t] == EOS).any(1)
        assert torch.equal(block[:, ended], tokens[ended].expand(5, -1, -1))
    batched = rollout_rewards(g, d, tokens, 5, states, u)
    assert torch.allclose(batched, naive_rollout_rewards(g, d, tokens, 5, u), rtol=0, atol=1e-12)


def test_trim_padding_keeps_losses():
    from seqgan.models.sampling import trim_padding

    g = _generator()
    tokens = torch.tensor([[4, EOS, PAD, PAD, PAD], [5, 6, EOS, PAD, PAD]])
    short = trim_padding(tokens, EOS)
    assert short.tolist() == [[4, EOS, PAD], [5, 6, EOS]]
    full_loss = mle_loss(g(tokens), tokens, sequence_mask(tokens, EOS))
    assert torch.allclose(mle_loss(g(short), short, sequence_mask(short, EOS)), full_loss, atol=1e-12)
    assert trim_padding(tokens, None) is tokens


class _WithoutSelect:
    """A generator of one's own that lacks the optional select_state: everything else delegated."""

    def __init__(self, g: Generator) -> None:
        self._g = g

    def __getattr__(self, name: str) -> object:
        if name == "select_state":
            raise AttributeError(name)
        return getattr(self._g, name)


def test_dropping_ended_rows_changes_no_completion_and_no_reward():
    """The roll-outs drop a row once it has ended (select_state) and skip the prefixes that already ended; a
    generator without select_state keeps every row to the end. Both give the same completions, and scoring only
    the prefixes that have not ended gives the rewards of scoring every completion."""
    from seqgan.train.rollout import score, score_completions

    g = _generator(5)
    d = Discriminator(7, paper_filters(8), emb_dim=4).double()
    rng = torch.Generator().manual_seed(9)
    tokens, states = g.sample(16, 8, rng, return_states=True)
    lengths = sequence_mask(tokens, EOS).sum(1)
    assert (lengths <= 3).sum() >= 3 and (lengths == 8).sum() >= 1  # short, long and unfinished sequences
    u = rollout_uniforms(16, 8, 4, rng, "cpu").double()
    dropped = rollout_completions(g, tokens, 4, states, u)
    kept = rollout_completions(_WithoutSelect(g), tokens, 4, states, u)
    assert torch.equal(dropped, kept)
    assert torch.equal(dropped, rollout_completions(g, tokens, 4, states, u, drop_ended=False))
    ended = ((tokens == EOS).cumsum(1) > 0)[:, :-1]
    assert ended.any() and not ended.all()
    full = score(d, tokens)
    skipped = score_completions(d, tokens, dropped, ended=ended, full=full)
    torch.testing.assert_close(skipped, score_completions(d, tokens, dropped), rtol=0, atol=1e-12)
    # rows scored in order of length, the windows of PAD only computed once, in chunks of any size: the same
    for batch in (4096, 5, 1):
        by_length = score_completions(d, tokens, dropped, batch, ended=ended, full=full, pad=PAD)
        torch.testing.assert_close(by_length, skipped, rtol=0, atol=1e-12)
    assert torch.equal(skipped.permute(2, 0, 1)[ended], full.view(-1, 1, 1).expand(16, 7, 4)[ended])

    class OwnD(torch.nn.Module):  # a discriminator of one's own: scored whole, the ended prefixes skipped too
        def __init__(self) -> None:
            super().__init__()
            self.inner = d

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x)

    own = score_completions(OwnD(), tokens, dropped, ended=ended, full=full)
    torch.testing.assert_close(own, skipped, rtol=0, atol=1e-12)


def test_pad_windows_computed_once_at_longer_lengths():
    """At T 20 a chunk's reach (its longest row, rounded up to a multiple of 8) falls short of T for short rows,
    so the windows of PAD only are one value per filter bank: the rewards equal scoring every window (float64),
    for chunks of every size, with the paper's filter widths up to 20."""
    from seqgan.train.rollout import score, score_completions

    g = _generator(3)
    with torch.no_grad():
        g.out.bias[EOS] += 0.5  # most sequences end within 8 tokens, a few run long
    d = Discriminator(7, paper_filters(20), emb_dim=4).double()
    rng = torch.Generator().manual_seed(4)
    tokens, states = g.sample(24, 20, rng, return_states=True)
    lengths = sequence_mask(tokens, EOS).sum(1)
    assert (lengths <= 4).sum() >= 5 and (lengths > 8).sum() >= 1, lengths
    comp = rollout_completions(g, tokens, 3, states, rollout_uniforms(24, 20, 3, rng, "cpu").double())
    ended = ((tokens == EOS).cumsum(1) > 0)[:, :-1]
    full = score(d, tokens)
    every = score_completions(d, tokens, comp, ended=ended, full=full)
    for batch in (4096, 7, 1):
        by_length = score_completions(d, tokens, comp, batch, ended=ended, full=full, pad=PAD)
        torch.testing.assert_close(by_length, every, rtol=0, atol=1e-12)
