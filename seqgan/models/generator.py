"""The generator G_theta: a single-layer LSTM policy over tokens (paper §Implementation).

Shapes: B batch, T sequence length, V vocabulary, E embedding, H hidden.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqgan.errors import UserError

State = tuple[Tensor, Tensor]  # (h, c), each (B, H)


def sequence_mask(tokens: Tensor, eos_token: int | None) -> Tensor:
    """Real positions of each sequence: every token up to and including the first EOS.

    tokens (B, T) -> bool (B, T). With ``eos_token=None`` (fixed-length data such as the oracle
    task) every position is real.
    """
    if eos_token is None:
        return torch.ones_like(tokens, dtype=torch.bool)
    is_eos = (tokens == eos_token).long()
    return (is_eos.cumsum(dim=1) - is_eos) == 0


def trim_padding(tokens: Tensor, eos_token: int | None) -> Tensor:
    """Drop the trailing columns that are padding in every row: (B, T) -> (B, T') with T' the longest
    real length. Teacher-forced log-probabilities of the kept positions do not change (the LSTM is
    causal), and padding carries no loss, so MLE and NLL can skip it."""
    if eos_token is None:
        return tokens
    return tokens[:, : int(sequence_mask(tokens, eos_token).sum(dim=1).max())]


def finish_after_eos(tokens: Tensor, done: Tensor, eos_token: int | None, pad_token: int) -> tuple[Tensor, Tensor]:
    """Replace the new ``tokens`` (R,) of rows that already ended by PAD; mark rows that end now."""
    if eos_token is None:
        return tokens, done
    tokens = torch.where(done, torch.full_like(tokens, pad_token), tokens)
    return tokens, done | (tokens == eos_token)


_BLOCK = 128  # tokens per block of the two-level inverse CDF
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-2, 1e2  # beyond them the softmax under- or overflows to one token or noise


def check_sampling(num: int | None = None, temperature: float = 1.0, top_k: int | None = None,
                   top_p: float | None = None, max_num: int = 10**8) -> None:  # fmt: skip
    """Refuse sampling options that would silently give wrong output or run for days (one line naming the option
    and the fix)."""
    if num is not None and not 0 < num <= max_num:
        raise UserError(f"the number of samples (--num-samples) must be in 1..{max_num:,}, got {num}")
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:  # also refuses NaN
        raise UserError(f"the temperature (--temperature) must be in [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}], "
                        f"got {temperature}: 1.0 samples the model as trained")  # fmt: skip
    if top_k is not None and top_k < 1:
        raise UserError(f"top_k (--top-k) must be >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:  # also refuses NaN
        raise UserError(f"top_p (--top-p) must be in (0, 1], got {top_p}")


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Keep the ``top_k`` most likely tokens and/or the smallest set whose probability reaches
    ``top_p`` (nucleus sampling, Holtzman et al. 2020); the others get -inf. logits (B, V)."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop = cum - sorted_logits.softmax(dim=-1) >= top_p  # mass before this token already reaches p
        logits = logits.masked_fill(drop.scatter(1, order, drop), float("-inf"))
    return logits


def sample_from_logits(logits: Tensor, uniforms: Tensor, temperature: float = 1.0) -> Tensor:
    """Draw tokens by inverse-CDF sampling: one uniform number per draw.

    Faster than ``torch.multinomial`` (about 20x over 5,000 classes on CPU), and a draw is a pure
    function of its uniform number, so the batched and the per-prefix roll-outs give the same
    tokens from the same random numbers. Token k is drawn when F(k-1) <= u * F(V) < F(k) for the
    cumulative sums F (``right=True``: a zero-probability token is never drawn at a boundary).

    Args:
        logits: (B, V) unnormalised log-probabilities.
        uniforms: (B,) numbers in [0, 1), or (B, K) for K draws from each row.
    Returns:
        (B,) or (B, K) token ids (int64).
    """
    probs = torch.softmax(logits / temperature if temperature != 1.0 else logits, dim=-1)
    u = uniforms.to(probs.dtype).contiguous()
    single = u.dim() == 1
    if single:
        u = u.unsqueeze(1)
    V = probs.shape[-1]
    if V < 4 * _BLOCK:
        cdf = probs.cumsum(dim=-1)  # (B, V)
        idx = torch.searchsorted(cdf, u * cdf[:, -1:], right=True)
    else:
        idx = _two_level_search(probs, u)
    idx = idx.clamp_(max=V - 1)  # u * total rounding onto the total itself
    return idx.squeeze(1) if single else idx


def _two_level_search(probs: Tensor, u: Tensor) -> Tensor:
    """Inverse CDF over blocks of ``_BLOCK`` tokens: find the block from the cumulative block
    sums, then the token inside it. It avoids the full (B, V) cumulative sum, a serial pass
    that costs as much as the softmax. probs (B, V), u (B, K) -> (B, K)."""
    B, V = probs.shape
    K = u.shape[1]
    nb = V // _BLOCK
    sums = probs[:, : nb * _BLOCK].reshape(B, nb, _BLOCK).sum(dim=2)
    if nb * _BLOCK < V:
        sums = torch.cat([sums, probs[:, nb * _BLOCK :].sum(dim=1, keepdim=True)], dim=1)
    csum = sums.cumsum(dim=1)  # (B, blocks)
    target = u * csum[:, -1:]  # (B, K)
    block = torch.searchsorted(csum, target, right=True).clamp_(max=csum.shape[1] - 1)
    base = torch.where(block > 0, csum.gather(1, (block - 1).clamp(min=0)), torch.zeros_like(target))
    cols = block.unsqueeze(-1) * _BLOCK + torch.arange(_BLOCK, device=probs.device)  # (B, K, BLOCK)
    inside = probs.gather(1, cols.clamp(max=V - 1).view(B, -1)).view(B, K, _BLOCK).masked_fill(cols >= V, 0.0)
    running = inside.cumsum(dim=-1) + base.unsqueeze(-1)
    j = torch.searchsorted(running, target.unsqueeze(-1), right=True).squeeze(-1)  # (B, K)
    # The block's own running total can fall an ulp short of its cumulative block sum (other
    # summation order); a target in that gap goes to the block's last token with probability > 0.
    last = (torch.arange(1, _BLOCK + 1, device=probs.device) * (inside > 0)).argmax(dim=-1)
    j = torch.where(j >= _BLOCK, last, j)
    return block * _BLOCK + j


class Generator(nn.Module):
    """LSTM language model used as a stochastic policy.

    The cell is the authors' hand-written LSTM (gates i, f, o and candidate g, no peepholes,
    one bias per gate), expressed as ``nn.LSTM`` with ``bias_hh`` fixed at zero, so it has
    exactly the authors' 333,320 trainable parameters at V = 5,000, E = H = 32.
    The first input is the embedding of ``start_token`` (0 in the authors' code, also an
    ordinary vocabulary id there); h0 = c0 = 0. With ``eos_token`` set (variable-length data),
    a sampled sequence ends at its first EOS and is padded with ``pad_token`` after it.
    """

    def __init__(self, vocab_size: int, emb_dim: int = 32, hidden_dim: int = 32, start_token: int = 0,
                 init_std: float = 0.1, eos_token: int | None = None, pad_token: int = 0) -> None:  # fmt: skip
        super().__init__()
        self.vocab_size, self.emb_dim, self.hidden_dim = vocab_size, emb_dim, hidden_dim
        self.start_token, self.eos_token, self.pad_token = start_token, eos_token, pad_token
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

    def hidden(self, tokens: Tensor) -> Tensor:
        """Teacher-forced LSTM outputs. tokens (B, T) -> (B, T, H); row t is the state that predicts tokens[:, t]."""
        hidden, _ = self.lstm(self.embedding(self._inputs(tokens)))
        return hidden

    def forward(self, tokens: Tensor) -> Tensor:
        """Teacher-forced logits. tokens (B, T) -> logits (B, T, V); row t predicts tokens[:, t]."""
        return self.out(self.hidden(tokens))

    def log_probs(self, tokens: Tensor, temperature: float = 1.0) -> Tensor:
        """log G(y_t | y_<t) of each token. tokens (B, T) -> (B, T); positions after EOS are 0.

        ``temperature``: of the softmax, as in :meth:`sample` (Caccia et al. 2020 score NLL_test this way)."""
        logits = self(tokens)
        logp = torch.log_softmax(logits / temperature if temperature != 1.0 else logits, dim=-1)
        logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        return logp if self.eos_token is None else logp * sequence_mask(tokens, self.eos_token)

    def scheduled_sampling_logits(self, tokens: Tensor, true_prob: float, rng: torch.Generator | None = None) -> Tensor:
        """Scheduled sampling (Bengio et al. 2015): logits (B, T, V) of ``tokens`` (B, T) where, at each
        position of each sequence independently, the input is the true previous token with probability
        ``true_prob`` and otherwise a token drawn from G's own prediction at the previous position (no
        gradient flows through the draw). The loss still targets the true tokens; ``true_prob=1`` is
        teacher forcing (:meth:`forward`)."""
        B, T = tokens.shape
        device = tokens.device
        feed_true = torch.rand(B, T, generator=rng, device=device) < true_prob  # [:, t]: the input of step t
        uniforms = torch.rand(B, T, generator=rng, device=device)  # [:, t]: the draw at step t
        state = self.initial_state(B)
        inputs = torch.full((B,), self.start_token, dtype=torch.long, device=device)
        logits = []
        for t in range(T):
            state = self.lstm_step(inputs, state)
            logits.append(self.out(state[0]))
            if t + 1 < T:
                drawn = sample_from_logits(logits[-1].detach(), uniforms[:, t])
                inputs = torch.where(feed_true[:, t + 1], tokens[:, t], drawn)
        return torch.stack(logits, dim=1)

    def lstm_step(self, inputs: Tensor, state: State) -> State:
        """Feed ``inputs`` (B,) to the LSTM from ``state`` -> the new state (h, c), each (B, H)."""
        h, c = state
        _, (h1, c1) = self.lstm(self.embedding(inputs).unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        return h1.squeeze(0), c1.squeeze(0)

    def step(self, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        """One LSTM step: feed ``inputs`` (B,) from ``state`` -> logits (B, V) of the next token, new state."""
        state = self.lstm_step(inputs, state)
        return self.out(state[0]), state

    def draw(self, h: Tensor, uniforms: Tensor, temperature: float = 1.0, chunk: int = 256,
             top_k: int | None = None, top_p: float | None = None) -> Tensor:  # fmt: skip
        """Next tokens from hidden states: h (R, H), uniforms (R,) or (R, K) -> (R,) or (R, K).

        Projects and samples ``chunk`` rows at a time on the CPU: the (R, V) logits of a large
        batch do not fit in cache, and going through them in pieces is about 2.5x faster there.
        On a GPU one call over all rows avoids many small kernel launches.
        """
        def one(hc: Tensor, uc: Tensor) -> Tensor:
            logits = self.out(hc)
            if top_k is not None or top_p is not None:
                logits = filter_logits(logits, top_k, top_p)
            return sample_from_logits(logits, uc, temperature)

        if h.shape[0] <= chunk or h.is_cuda:
            return one(h, uniforms)
        return torch.cat([one(hc, uc) for hc, uc in zip(h.split(chunk), uniforms.split(chunk), strict=True)])

    @torch.no_grad()
    def generate(self, num: int, seq_len: int, rng: torch.Generator | None = None, batch_size: int = 1024,
                 **kwargs: object) -> Tensor:  # fmt: skip
        """``num`` sequences sampled ``batch_size`` at a time (bounded memory) -> (num, T).

        Takes the keyword arguments of :meth:`sample` (temperature, top_k, top_p, prefix).
        """
        return torch.cat([self.sample(min(batch_size, num - i), seq_len, rng, **kwargs)
                          for i in range(0, num, batch_size)])  # fmt: skip

    @torch.no_grad()
    def sample(self, num: int, seq_len: int, rng: torch.Generator | None = None, temperature: float = 1.0,
               uniforms: Tensor | None = None, return_states: bool = False, top_k: int | None = None,
               top_p: float | None = None, prefix: Tensor | None = None) -> Tensor | tuple[Tensor, State]:  # fmt: skip
        """Ancestral sampling of ``num`` sequences.

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
        device = self.out.weight.device
        if uniforms is None:
            uniforms = torch.rand(num, seq_len, generator=rng, device=device)
        state = self.initial_state(num)
        inputs = torch.full((num,), self.start_token, dtype=torch.long, device=device)
        tokens = torch.empty(num, seq_len, dtype=torch.long, device=device)
        done = torch.zeros(num, dtype=torch.bool, device=device)
        hs, cs = [], []
        for t in range(seq_len):
            state = self.lstm_step(inputs, state)
            if return_states and t > 0:  # state now = after feeding y_{t-1}
                hs.append(state[0])
                cs.append(state[1])
            if prefix is not None and t < len(prefix):
                drawn = prefix[t].to(device).expand(num)
            else:
                drawn = self.draw(state[0], uniforms[:, t], temperature, top_k=top_k, top_p=top_p)
            inputs, done = finish_after_eos(drawn, done, self.eos_token, self.pad_token)
            tokens[:, t] = inputs
        if not return_states:
            return tokens
        return tokens, (torch.stack(hs, dim=1), torch.stack(cs, dim=1))
