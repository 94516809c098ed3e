"""The generator G_theta: a single-layer LSTM policy over tokens (paper §Implementation).

Shapes: B batch, T sequence length, V vocabulary, E embedding, H hidden.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

State = tuple[Tensor, Tensor]  # (h, c), each (B, H)


def sample_from_logits(logits: Tensor, uniforms: Tensor, temperature: float = 1.0) -> Tensor:
    """Draw one token per row by inverse-CDF sampling.

    One uniform per row instead of ``torch.multinomial``, which is about 20x slower over
    5,000 classes on CPU, and it makes the draw a pure function of ``uniforms``: the batched
    and the per-prefix roll-outs give the same tokens from the same random numbers.

    Args:
        logits: (B, V) unnormalised log-probabilities.
        uniforms: (B,) numbers in [0, 1).
    Returns:
        (B,) token ids (int64).
    """
    probs = torch.softmax(logits / temperature if temperature != 1.0 else logits, dim=-1)
    cdf = probs.cumsum(dim=-1)  # (B, V)
    # right=True skips zero-probability tokens at the boundary; the clamp catches rounding
    # when u * total lands on the last cumulative value.
    idx = torch.searchsorted(cdf, (uniforms.to(cdf.dtype) * cdf[:, -1]).unsqueeze(1), right=True)
    return idx.squeeze(1).clamp_(max=logits.shape[-1] - 1)


class Generator(nn.Module):
    """LSTM language model used as a stochastic policy.

    The cell is the authors' hand-written LSTM (gates i, f, o and candidate g, no peepholes,
    one bias per gate), expressed as ``nn.LSTM`` with ``bias_hh`` fixed at zero, so it has
    exactly the authors' 333,320 trainable parameters at V = 5,000, E = H = 32.
    The first input is the embedding of ``start_token`` (0 in the authors' code, also an
    ordinary vocabulary id there); h0 = c0 = 0.
    """

    def __init__(self, vocab_size: int, emb_dim: int = 32, hidden_dim: int = 32, start_token: int = 0,
                 init_std: float = 0.1) -> None:  # fmt: skip
        super().__init__()
        self.vocab_size, self.emb_dim, self.hidden_dim = vocab_size, emb_dim, hidden_dim
        self.start_token = start_token
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.out = nn.Linear(hidden_dim, vocab_size)
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

    def forward(self, tokens: Tensor) -> Tensor:
        """Teacher-forced logits. tokens (B, T) -> logits (B, T, V); row t predicts tokens[:, t]."""
        hidden, _ = self.lstm(self.embedding(self._inputs(tokens)))  # (B, T, H)
        return self.out(hidden)

    def log_probs(self, tokens: Tensor) -> Tensor:
        """log G(y_t | y_<t) of each token. tokens (B, T) -> (B, T)."""
        logp = torch.log_softmax(self(tokens), dim=-1)
        return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)

    def lstm_step(self, inputs: Tensor, state: State) -> State:
        """Feed ``inputs`` (B,) to the LSTM from ``state`` -> the new state (h, c), each (B, H)."""
        h, c = state
        _, (h1, c1) = self.lstm(self.embedding(inputs).unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        return h1.squeeze(0), c1.squeeze(0)

    def step(self, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        """One LSTM step: feed ``inputs`` (B,) from ``state`` -> logits (B, V) of the next token, new state."""
        state = self.lstm_step(inputs, state)
        return self.out(state[0]), state

    def draw(self, h: Tensor, uniforms: Tensor, temperature: float = 1.0, chunk: int = 256) -> Tensor:
        """Next tokens from hidden states: h (R, H), uniforms (R,) -> (R,).

        Projects and samples ``chunk`` rows at a time: the (R, V) logits of a large batch do
        not fit in cache, and going through them in pieces is about 2.5x faster on CPU.
        """
        if h.shape[0] <= chunk:
            return sample_from_logits(self.out(h), uniforms, temperature)
        return torch.cat([sample_from_logits(self.out(hc), uc, temperature)
                          for hc, uc in zip(h.split(chunk), uniforms.split(chunk), strict=True)])  # fmt: skip

    @torch.no_grad()
    def sample(self, num: int, seq_len: int, rng: torch.Generator | None = None, temperature: float = 1.0,
               uniforms: Tensor | None = None, return_states: bool = False
               ) -> Tensor | tuple[Tensor, State]:  # fmt: skip
        """Ancestral sampling of ``num`` sequences.

        Args:
            uniforms: optional (num, seq_len) random numbers driving the draws (else drawn from ``rng``).
            return_states: also return the LSTM states the roll-out continues from:
                h[:, t] (and c[:, t]) is the state after feeding y_t (0-indexed), the one that
                predicts y_{t+1}, for t = 0 .. T-2 (the full sequence needs no continuation).
        Returns:
            tokens (num, T) int64, and with ``return_states`` (h, c), each (num, T-1, H).
        """
        device = self.out.weight.device
        if uniforms is None:
            uniforms = torch.rand(num, seq_len, generator=rng, device=device)
        state = self.initial_state(num)
        inputs = torch.full((num,), self.start_token, dtype=torch.long, device=device)
        tokens = torch.empty(num, seq_len, dtype=torch.long, device=device)
        hs, cs = [], []
        for t in range(seq_len):
            state = self.lstm_step(inputs, state)
            if return_states and t > 0:  # state now = after feeding y_{t-1}
                hs.append(state[0])
                cs.append(state[1])
            inputs = self.draw(state[0], uniforms[:, t], temperature)
            tokens[:, t] = inputs
        if not return_states:
            return tokens
        return tokens, (torch.stack(hs, dim=1), torch.stack(cs, dim=1))
