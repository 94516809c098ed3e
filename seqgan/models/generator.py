"""The generator G_theta: a single-layer LSTM policy over tokens (paper §Implementation).

Shapes: B batch, T sequence length, V vocabulary, E embedding, H hidden.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqgan.models.sampling import (
    ancestral_decode,
    draw_chunked,
    generate_in_batches,
    scheduled_sampling_decode,
    token_log_probs,
)

State = tuple[Tensor, Tensor]  # (h, c), each (R, H): R rows being decoded
States = tuple[Tensor, Tensor]  # per-position (h, c) of B sequences, each (B, T-1, H)


class Generator(nn.Module):
    """LSTM language model used as a stochastic policy.

    The cell is the authors' hand-written LSTM (gates i, f, o and candidate g, no peepholes,
    one bias per gate), expressed as ``nn.LSTM`` with ``bias_hh`` fixed at zero, so it has
    exactly the authors' 333,320 trainable parameters at V = 5,000, E = H = 32.
    The first input is the embedding of ``start_token`` (0 in the authors' code, also an
    ordinary vocabulary id there); h0 = c0 = 0. With ``eos_token`` set (variable-length data),
    a sampled sequence ends at its first EOS and is padded with ``pad_token`` after it.
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int = 32,
        hidden_dim: int = 32,
        start_token: int = 0,
        init_std: float = 0.1,
        eos_token: int | None = None,
        pad_token: int = 0,
        num_labels: int = 0,
    ) -> None:
        super().__init__()
        self.vocab_size, self.emb_dim, self.hidden_dim = vocab_size, emb_dim, hidden_dim
        self.start_token, self.eos_token, self.pad_token = start_token, eos_token, pad_token
        self.num_labels = num_labels
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.out = nn.Linear(hidden_dim, vocab_size)
        if num_labels:  # conditional generation: the label's embedding is the first input; registered last, so the
            self.label_embedding = nn.Embedding(num_labels, emb_dim)  # other weights draw what an unconditional G's do
        self.reset_parameters(init_std)

    def reset_parameters(self, std: float = 0.1) -> None:
        """Every parameter N(0, std^2), biases included (authors' generator.py)."""
        for p in self.parameters():
            nn.init.normal_(p, 0.0, std)
        nn.init.zeros_(self.lstm.bias_hh_l0)
        self.lstm.bias_hh_l0.requires_grad_(False)

    def initial_state(self, batch_size: int) -> State:
        w = self.out.weight
        zeros = torch.zeros(batch_size, self.hidden_dim, device=w.device, dtype=w.dtype)
        return zeros, zeros.clone()

    def _inputs(self, tokens: Tensor) -> Tensor:
        """(B, T) targets -> (B, T) inputs: start token, then the targets shifted right."""
        start = torch.full_like(tokens[:, :1], self.start_token)
        return torch.cat([start, tokens[:, :-1]], dim=1)

    def _first(self, batch: int, labels: Tensor | None, device: torch.device) -> Tensor:
        """The first input's embedding (R, E): the start token's, or each row's label's (conditional)."""
        if labels is None:
            return self.embedding(torch.full((batch,), self.start_token, dtype=torch.long, device=device))
        return self.label_embedding(labels)

    def hidden(self, tokens: Tensor, labels: Tensor | None = None) -> Tensor:
        """Teacher-forced LSTM outputs. tokens (B, T) -> (B, T, H); row t is the state that predicts tokens[:, t].
        ``labels`` (B,): of a conditional G, each sequence's label (its first input)."""
        emb = self.embedding(self._inputs(tokens))
        if labels is not None:
            emb = torch.cat([self._first(len(tokens), labels, tokens.device)[:, None], emb[:, 1:]], dim=1)
        hidden, _ = self.lstm(emb)
        return hidden

    def forward(self, tokens: Tensor, labels: Tensor | None = None) -> Tensor:
        """Teacher-forced logits. tokens (B, T) -> logits (B, T, V); row t predicts tokens[:, t]."""
        return self.out(self.hidden(tokens, labels))

    def log_probs(self, tokens: Tensor, temperature: float = 1.0, labels: Tensor | None = None) -> Tensor:
        """log G(y_t | y_<t) of each token. tokens (B, T) -> (B, T); positions after EOS are 0.

        ``temperature``: of the softmax, as in :meth:`sample` (Caccia et al. 2020 score NLL_test this way)."""
        return token_log_probs(self(tokens, labels), tokens, temperature, self.eos_token)

    def scheduled_sampling_logits(
        self, tokens: Tensor, true_prob: float, rng: torch.Generator | None = None, labels: Tensor | None = None
    ) -> Tensor:
        """Scheduled sampling (Bengio et al. 2015): logits (B, T, V) of ``tokens`` (B, T) where, at each
        position of each sequence independently, the input is the true previous token with probability
        ``true_prob`` and otherwise a token drawn from G's own prediction at the previous position (no
        gradient flows through the draw). The loss still targets the true tokens; ``true_prob=1`` is
        teacher forcing (:meth:`forward`)."""
        return scheduled_sampling_decode(self, tokens, true_prob, rng, labels)

    def lstm_step(self, inputs: Tensor, state: State) -> State:
        """Feed ``inputs`` (B,) to the LSTM from ``state`` -> the new state (h, c), each (B, H)."""
        return self._feed(self.embedding(inputs), state)

    def _feed(self, emb: Tensor, state: State) -> State:
        h, c = state
        _, (h1, c1) = self.lstm(emb.unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        return h1.squeeze(0), c1.squeeze(0)

    def begin(self, batch: int, labels: Tensor | None = None) -> State:
        """The state after the first input (the start token, or each row's label): the one that predicts y_0."""
        return self._feed(self._first(batch, labels, self.out.weight.device), self.initial_state(batch))

    def state_logits(self, state: State) -> Tensor:
        """Next-token logits (R, V) of a state."""
        return self.out(state[0])

    # ------------------------------------------------- incremental decoding (the roll-outs' staircase)
    def advance(self, inputs: Tensor, state: State) -> State:
        """Feed one token per row: ``inputs`` (R,) from ``state`` -> the new state."""
        return self.lstm_step(inputs, state)

    def prefix_state(self, states: States, t: int) -> State:
        """The state of every sequence after its start token and first ``t`` tokens (1 <= t <= T-1), from the
        per-position ``states`` that :meth:`sample` (``return_states``) or :meth:`states_of` gave: (h, c) (B, H)."""
        h, c = states
        return h[:, t - 1], c[:, t - 1]

    @staticmethod
    def repeat_state(state: State, n: int) -> State:
        """Every row ``n`` times, block after block: (R, H) -> (n * R, H)."""
        return state[0].repeat(n, 1), state[1].repeat(n, 1)

    @staticmethod
    def select_state(state: State, index: Tensor) -> State:
        """The rows ``index`` (K,) of a state: (R, H) -> (K, H). Optional in a generator of your own: with it the
        roll-outs drop the rows that have ended."""
        return state[0][index], state[1][index]

    @staticmethod
    def cat_state(first: State | None, second: State) -> State:
        """The rows of ``first`` (None: none), then those of ``second``."""
        if first is None:
            return second
        return torch.cat([first[0], second[0]]), torch.cat([first[1], second[1]])

    @torch.no_grad()
    def states_of(self, tokens: Tensor, labels: Tensor | None = None) -> States:
        """Per-position states of ``tokens`` (B, T), as :meth:`sample` returns them: after feeding the start token
        and y_0 .. y_t, for t = 0 .. T-2: (h, c), each (B, T-1, H). For a roll-out policy other than the
        generator that sampled the tokens (the delayed policy)."""
        state = self.begin(tokens.shape[0], labels)
        hs, cs = [], []
        for t in range(tokens.shape[1] - 1):
            state = self.lstm_step(tokens[:, t], state)
            hs.append(state[0])
            cs.append(state[1])
        return torch.stack(hs, dim=1), torch.stack(cs, dim=1)

    def project(self, hidden: Tensor) -> Tensor:
        """Output states (..., H) -> next-token logits (..., V)."""
        return self.out(hidden)

    def step(self, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        """One LSTM step: feed ``inputs`` (B,) from ``state`` -> logits (B, V) of the next token, new state."""
        state = self.lstm_step(inputs, state)
        return self.out(state[0]), state

    def draw(
        self,
        state: State,
        uniforms: Tensor,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> Tensor:
        """Next tokens from states (h, c), each (R, H): uniforms (R,) or (R, K) -> (R,) or (R, K) token ids."""
        return draw_chunked(self.out, state[0], uniforms, temperature, top_k=top_k, top_p=top_p)

    @torch.no_grad()
    def generate(
        self, num: int, seq_len: int, rng: torch.Generator | None = None, batch_size: int = 1024, **kwargs: object
    ) -> Tensor:
        """``num`` sequences sampled ``batch_size`` at a time (bounded memory) -> (num, T).

        Takes the keyword arguments of :meth:`sample` (temperature, top_k, top_p, prefix).
        """
        return generate_in_batches(self.sample, num, seq_len, rng, batch_size, **kwargs)

    @torch.no_grad()
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
        labels: Tensor | None = None,
    ) -> Tensor | tuple[Tensor, State]:
        """Ancestral sampling of ``num`` sequences (``labels`` (num,): of each, for a conditional G).

        Args:
            temperature, top_k, top_p: reshape each step's distribution (1.0 / None: as trained).
            prefix: (P,) token ids every sequence starts with (fed, not sampled).
            uniforms: optional (num, seq_len) random numbers driving the draws (else drawn from ``rng``).
            return_states: also return the LSTM states the roll-out continues from:
                h[:, t] (and c[:, t]) is the state after feeding y_t (0-indexed), the one that
                predicts y_{t+1}, for t = 0 .. T-2 (the full sequence needs no continuation).
        Returns:
            tokens (num, T) int64, and with ``return_states`` (h, c), each (num, T-1, H).
        """
        if uniforms is None:
            uniforms = torch.rand(num, seq_len, generator=rng, device=self.out.weight.device)
        tokens, kept, _ = ancestral_decode(
            self,
            num,
            seq_len,
            uniforms,
            temperature,
            top_k,
            top_p,
            prefix,
            labels,
            keep=(lambda state: state) if return_states else None,
        )
        if not return_states:
            return tokens
        return tokens, (torch.stack([h for h, _ in kept], dim=1), torch.stack([c for _, c in kept], dim=1))
