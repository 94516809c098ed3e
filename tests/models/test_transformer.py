"""The Transformer generator: it implements the generator interface, its incremental decoding equals the
teacher-forced pass, its batched cached roll-outs equal the per-prefix reference draw for draw, and it trains
through every phase (and resumes exactly) like the LSTM."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import events, tiny_config

from seqgan.models import Discriminator, Generator
from seqgan.models.interface import SequenceGenerator
from seqgan.models.transformer import TransformerGenerator
from seqgan.train.checkpoint import load_file
from seqgan.train.rollout import naive_rollout_rewards, rollout_completions, rollout_rewards, rollout_uniforms
from seqgan.train.trainer import SeqGANTrainer

B, T, N, V = 5, 7, 3, 11


def _models(eos: int | None = 2) -> tuple[TransformerGenerator, Discriminator]:
    torch.manual_seed(0)
    g = TransformerGenerator(V, width=8, layers=2, heads=2, ff_dim=16, max_len=T, eos_token=eos, init_std=0.5)
    d = Discriminator(V, ((1, 4), (2, 4), (3, 4)), emb_dim=6)
    with torch.no_grad():  # a D whose scores vary, so that equal rewards mean something
        for p in d.parameters():
            p.mul_(4.0)
    return g.double(), d.double()


def test_both_generators_implement_the_interface() -> None:
    assert isinstance(_models()[0], SequenceGenerator) and isinstance(Generator(V), SequenceGenerator)
    assert not isinstance(torch.nn.Linear(2, 2), SequenceGenerator)


@pytest.mark.parametrize("eos", [None, 2])
def test_incremental_decoding_equals_the_teacher_forced_pass(eos: int | None) -> None:
    g, _ = _models(eos)
    tokens, (caches, outputs) = g.sample(B, T, torch.Generator().manual_seed(1), return_states=True)
    hidden = g.hidden(tokens)
    torch.testing.assert_close(outputs, hidden[:, 1:], rtol=0, atol=1e-12)
    tf_caches, tf_outputs = g.states_of(tokens)
    torch.testing.assert_close(tf_outputs, outputs, rtol=0, atol=1e-12)
    for (k, v), (tk, tv) in zip(caches, tf_caches, strict=True):
        assert k.shape == (B, 2, T, 4)
        torch.testing.assert_close(tk, k, rtol=0, atol=1e-12)
        torch.testing.assert_close(tv, v, rtol=0, atol=1e-12)
    # log-probabilities from the teacher-forced pass equal those of the step-by-step decoder
    state, total = g.initial_state(B), torch.zeros(B, dtype=torch.float64)
    inputs = torch.full((B,), g.start_token)
    for t in range(T):
        logits, state = g.step(inputs, state)
        total += torch.log_softmax(logits, -1).gather(1, tokens[:, t : t + 1]).squeeze(1) * (
            1.0 if eos is None else (tokens[:, :t] != eos).all(dim=1).double()
        )
        inputs = tokens[:, t]
    torch.testing.assert_close(g.log_probs(tokens).sum(dim=1), total, rtol=0, atol=1e-10)


def test_cached_rollouts_equal_the_per_prefix_reference() -> None:
    g, d = _models()
    tokens, states = g.sample(B, T, torch.Generator().manual_seed(2), return_states=True)
    u = rollout_uniforms(B, T, N, torch.Generator().manual_seed(3), "cpu")
    ref = naive_rollout_rewards(g, d, tokens, N, uniforms=u)
    torch.testing.assert_close(rollout_rewards(g, d, tokens, N, states, uniforms=u), ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(rollout_rewards(g, d, tokens, N, uniforms=u), ref, rtol=0, atol=1e-12)  # states_of
    assert float(ref.max() - ref.min()) > 0.05
    completions = rollout_completions(g, tokens, N, states, u)
    for t in range(1, T):  # every completion keeps its prefix
        assert torch.equal(completions[t - 1, :, :, :t], tokens[:, :t].expand(N, B, t))


def test_scheduled_sampling_with_only_true_inputs_is_teacher_forcing() -> None:
    g, _ = _models()
    tokens = g.sample(B, T, torch.Generator().manual_seed(4))
    ss = g.scheduled_sampling_logits(tokens, 1.0, torch.Generator().manual_seed(5))
    torch.testing.assert_close(ss, g(tokens), rtol=0, atol=1e-10)


def test_sampling_options_and_sinusoidal_positions() -> None:
    g = TransformerGenerator(V, width=8, heads=2, ff_dim=16, max_len=T, positions="sinusoidal")
    assert "positions" not in dict(g.named_parameters())
    rows = g.generate(40, T, torch.Generator().manual_seed(6), batch_size=16, top_k=1, prefix=torch.tensor([4, 5]))
    assert rows.shape == (40, T) and (rows[:, :2] == torch.tensor([4, 5])).all()
    assert (rows == rows[0]).all()  # top-k 1 is greedy: one sequence
    with pytest.raises(ValueError, match="positions up to"):
        g.hidden(torch.zeros(1, T + 1, dtype=torch.long))


TRANSFORMER = [
    "generator.kind=transformer",
    "generator.emb_dim=16",
    "generator.heads=2",
    "generator.ff_dim=32",
    "generator.init_std=0.02",
    "pretrain.g_lr=0.003",
    "adversarial.g_lr=0.003",
]


def test_transformer_trains_through_every_phase_and_resumes_exactly(tmp_path: Path) -> None:
    cfg = tiny_config(*TRANSFORMER, "eval.every=1", "pretrain.g_epochs=6")
    full = tmp_path / "full"
    SeqGANTrainer(cfg, full).fit()
    evs = events(full)
    phases = {e["phase"] for e in evs}
    assert phases == {"mle", "d_pretrain", "adversarial"}
    nll = [e["eval/nll_valid"] for e in evs if e["phase"] == "mle" and "eval/nll_valid" in e]
    assert nll[-1] < nll[0] - 0.3  # MLE learns
    assert any("g/reward_mean" in e for e in evs)
    assert "blocks.0.qkv.weight" in load_file(full / "checkpoints" / "last.pt")["generator"]
    part = tmp_path / "part"
    trainer = SeqGANTrainer(tiny_config(*TRANSFORMER, "eval.every=1", "pretrain.g_epochs=6"), part)
    trainer.pretrain_generator()  # stop after MLE, as a killed process would have
    trainer.close()
    SeqGANTrainer.resume(part).fit()
    assert events(part) == evs


class TinyGenerator(TransformerGenerator):
    """A user's own generator (here a subclass only to save code: anything with the interface's methods does)."""


def test_your_own_generator_and_discriminator_from_python(tmp_path: Path) -> None:
    cfg = tiny_config("pretrain.g_epochs=2", "adversarial.epochs=1")
    g = TinyGenerator(50, width=8, heads=2, ff_dim=16, max_len=8)

    class TinyD(torch.nn.Module):  # not the paper's CNN: scored whole, no L2 term
        def __init__(self) -> None:
            super().__init__()
            self.embedding, self.out = torch.nn.Embedding(50, 4), torch.nn.Linear(4, 2)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.out(self.embedding(tokens).mean(dim=1))

    run = tmp_path / "mine"
    SeqGANTrainer(cfg, run, generator=g, discriminator=TinyD()).fit()
    assert any("d/acc_real" in e for e in events(run)) and any("g/reward_mean" in e for e in events(run))
    from seqgan.errors import UserError

    with pytest.raises(UserError, match="generator.kind is custom"):
        SeqGANTrainer.resume(run)
    with pytest.raises(UserError, match="does not implement"):
        SeqGANTrainer(tiny_config(), tmp_path / "bad", generator=torch.nn.Linear(2, 2))
