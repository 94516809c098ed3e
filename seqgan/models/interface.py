"""What the trainer, the roll-outs and the metrics need of a generator: a typing Protocol.

The LSTM (:class:`seqgan.models.generator.Generator`) and the Transformer
(:class:`seqgan.models.transformer.TransformerGenerator`) implement it, and so can a generator of your own: pass it
to :class:`seqgan.train.trainer.SeqGANTrainer` (``generator=``) and every phase, the batched roll-outs and every
metric use it through these methods alone. Shapes: B sequences, R rows being decoded, T length, V vocabulary,
K draws per row. A ``State`` is whatever the model carries from one token to the next (the LSTM's (h, c), the
Transformer's key/value cache); ``States`` holds it for every position of B sequences. A conditional generator
(``num_labels`` > 0) takes ``labels`` (B,) in its teacher-forced passes, :meth:`sample`, :meth:`begin` and
:meth:`states_of`: the label is its first input, so every later state carries it.

The roll-outs (Eq. 4 of the paper) complete every prefix of a sampled sequence N times, all prefixes together:
at position i the rows are the continuations of the prefixes of length 1..i, and the N copies of the prefix of
length i join them. So a generator must hand out the state after a prefix (:meth:`prefix_state`), repeat and
concatenate rows (:meth:`repeat_state`, :meth:`cat_state`), feed one token per row (:meth:`advance`) and draw the
next tokens from a state with given uniform numbers (:meth:`draw`): a draw is then a pure function of its number,
so the batched roll-outs equal the per-prefix reference draw for draw (tested for every generator here).
One method is optional and not part of the Protocol: ``select_state(state, index)``, the rows ``index`` of a
state. With it the roll-outs drop each row once it has drawn EOS and skip the prefixes that already ended (about
2.7x faster on COCO captions); without it every row runs to the end, with the same result.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

State = Any
States = Any


@runtime_checkable
class SequenceGenerator(Protocol):
    vocab_size: int
    start_token: int  # fed before the first token
    eos_token: int | None  # None: fixed-length sequences; else a sequence ends at its first EOS
    pad_token: int  # what follows EOS

    # ---------------------------------------------------------------- teacher forcing
    def __call__(self, tokens: Tensor) -> Tensor:
        """Teacher-forced next-token logits: tokens (B, T) -> (B, T, V); row t predicts tokens[:, t]."""

    def hidden(self, tokens: Tensor) -> Tensor:
        """Teacher-forced output states (B, T, H), before the output layer (:meth:`project`)."""

    def project(self, hidden: Tensor) -> Tensor:
        """Output states (..., H) -> logits (..., V)."""

    def log_probs(self, tokens: Tensor, temperature: float = 1.0) -> Tensor:
        """log G(y_t | y_<t) of each token (B, T), 0 after EOS; ``temperature`` of the softmax."""

    def scheduled_sampling_logits(self, tokens: Tensor, true_prob: float, rng: torch.Generator | None = None) -> Tensor:
        """Logits (B, T, V) when each input is the true token with probability ``true_prob``, else G's own draw."""

    # ---------------------------------------------------------------- sampling
    def sample(
        self,
        num: int,
        seq_len: int,
        rng: torch.Generator | None = None,
        temperature: float = 1.0,
        uniforms: Tensor | None = None,
        return_states: bool = False,
        top_k: int | None = None,
        top_p: float | None = None,
        prefix: Tensor | None = None,
    ) -> Tensor | tuple[Tensor, States]:
        """``num`` sequences (num, T); ``uniforms`` (num, T) drive the draws; ``return_states``: also the
        per-position States that :meth:`prefix_state` reads."""

    def generate(
        self, num: int, seq_len: int, rng: torch.Generator | None = None, batch_size: int = 1024, **kwargs: Any
    ) -> Tensor:
        """``num`` sequences, ``batch_size`` at a time (:meth:`sample`'s keyword arguments)."""

    # ---------------------------------------------------------------- incremental decoding
    def initial_state(self, batch_size: int) -> State:
        """The state before any token, for ``batch_size`` rows."""

    def begin(self, batch_size: int, labels: Tensor | None = None) -> State:
        """The state after the first input (the start token; for a conditional G each row's label): predicts y_0."""

    def state_logits(self, state: State) -> Tensor:
        """Next-token logits (R, V) of a state."""

    def advance(self, inputs: Tensor, state: State) -> State:
        """Feed one token per row, inputs (R,)."""

    def step(self, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        """:meth:`advance`, and the logits (R, V) of the next token."""

    def draw(
        self,
        state: State,
        uniforms: Tensor,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> Tensor:
        """Next tokens of every row by inverse-CDF sampling: uniforms (R,) or (R, K) -> (R,) or (R, K)."""

    def prefix_state(self, states: States, t: int) -> State:
        """The state of each of the B sequences after the start token and its first ``t`` tokens."""

    def repeat_state(self, state: State, n: int) -> State:
        """Every row ``n`` times, block after block: R rows -> n * R."""

    def cat_state(self, first: State | None, second: State) -> State:
        """The rows of ``first`` (None: none), then those of ``second``."""

    def states_of(self, tokens: Tensor) -> States:
        """Per-position States of given sequences (B, T), as :meth:`sample` returns them."""


def dtype_of(model: torch.nn.Module) -> torch.dtype:
    """The floating-point type of a model's parameters (rewards and scores are made in it)."""
    return next(p for p in model.parameters() if p.is_floating_point()).dtype


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device
