"""A decoder-only Transformer policy (not in the paper: ``--set generator.kind=transformer``).

Pre-LayerNorm blocks of causal self-attention (``torch.nn.functional.scaled_dot_product_attention``) and a ReLU
feed-forward layer, learned or sinusoidal positions, a final LayerNorm and a linear output layer. It implements
:class:`seqgan.models.interface.SequenceGenerator`: the roll-outs continue every prefix from its key/value cache
(:meth:`TransformerGenerator.prefix_state`) instead of encoding the prefix again, batched like the LSTM's.

Shapes: B sequences, R rows being decoded, T length, L positions in a cache, D width, A heads, V vocabulary.
A state is ``(caches, h)``: per layer a key and a value tensor (R, A, L, D / A), and the last output (R, D).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqgan.models.sampling import (
    ancestral_decode,
    draw_chunked,
    generate_in_batches,
    scheduled_sampling_decode,
    token_log_probs,
)

Cache = list[tuple[Tensor, Tensor]]  # per layer (keys, values), each (R, A, L, D/A)
State = tuple[Cache, Tensor | None]  # the caches and the last output (R, D); None before any token
States = tuple[Cache, Tensor]  # the caches of B whole sequences (L = T) and the outputs after each prefix (B, T-1, D)


class Block(nn.Module):
    """x + attn(ln(x)), then x + ff(ln(x))."""

    def __init__(self, width: int, heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.ff1, self.ff2 = nn.Linear(width, ff_dim), nn.Linear(ff_dim, width)
        self.dropout = dropout

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(R, L, D) -> q, k, v, each (R, A, L, D/A)."""
        R, L, D = x.shape
        q, k, v = self.qkv(x).view(R, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        return q, k, v

    def _finish(self, x: Tensor, att: Tensor, drop: float) -> Tensor:
        R, A, L, Dh = att.shape
        x = x + F.dropout(self.proj(att.transpose(1, 2).reshape(R, L, A * Dh)), drop, self.training)
        return x + F.dropout(self.ff2(F.relu(self.ff1(self.ln2(x)))), drop, self.training)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Causal self-attention over whole sequences: (R, L, D) -> (R, L, D), and the keys and values."""
        q, k, v = self._split(self.ln1(x))
        drop = self.dropout if self.training else 0.0
        att = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
        return self._finish(x, att, drop), (k, v)

    def extend(self, x: Tensor, cache: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """One new position per row attending to its cache and itself (no dropout: decoding is sampling):
        x (R, 1, D), cache (R, A, L, D/A) each -> (R, 1, D) and the cache with L + 1 positions."""
        q, k, v = self._split(self.ln1(x))
        k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        return self._finish(x, F.scaled_dot_product_attention(q, k, v), 0.0), (k, v)


class TransformerGenerator(nn.Module):
    """Decoder-only causal Transformer language model used as a stochastic policy.

    The first input is the embedding of ``start_token``, at position 0; token y_t sits at position t + 1, so a
    sequence of length T needs ``max_len`` >= T positions. With ``eos_token`` set, a sampled sequence ends at its
    first EOS and is padded with ``pad_token``, as the LSTM's.
    """

    def __init__(
        self,
        vocab_size: int,
        width: int = 32,
        layers: int = 2,
        heads: int = 2,
        ff_dim: int = 64,
        dropout: float = 0.0,
        max_len: int = 64,
        positions: str = "learned",
        start_token: int = 0,
        eos_token: int | None = None,
        pad_token: int = 0,
        init_std: float = 0.02,
        num_labels: int = 0,
    ) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.vocab_size, self.width, self.max_len = vocab_size, width, max_len
        self.start_token, self.eos_token, self.pad_token = start_token, eos_token, pad_token
        self.embedding = nn.Embedding(vocab_size, width)
        if positions == "learned":
            self.positions = nn.Parameter(torch.zeros(max_len, width))
        else:  # sinusoidal (Vaswani et al. 2017), not trained
            pos = torch.arange(max_len, dtype=torch.float32)[:, None]
            freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
            table = torch.zeros(max_len, width)
            table[:, 0::2], table[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)[:, : width // 2]
            self.register_buffer("positions", table)
        self.blocks = nn.ModuleList(Block(width, heads, ff_dim, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, vocab_size)
        self.num_labels = num_labels
        if num_labels:  # conditional generation: position 0 holds the label's embedding instead of the start token's
            self.label_embedding = nn.Embedding(num_labels, width)
        self.reset_parameters(init_std)

    def reset_parameters(self, std: float = 0.02) -> None:
        """N(0, std^2) weights, zero biases, unit LayerNorm gains (GPT-2's initialisation)."""
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif ".ln" in name or name.startswith("norm"):
                nn.init.ones_(p)
            else:
                nn.init.normal_(p, 0.0, std)

    # ---------------------------------------------------------------- teacher forcing
    def _embed(self, tokens: Tensor, start: int, labels: Tensor | None = None) -> Tensor:
        """Token embeddings plus the positions ``start``.. : tokens (R, L) -> (R, L, D); with ``labels`` (R,),
        position 0 holds each row's label embedding."""
        L = tokens.shape[1]
        if start + L > self.max_len:
            raise ValueError(f"positions up to {start + L} but the generator has {self.max_len}")
        emb = self.embedding(tokens)
        if labels is not None and start == 0:
            emb = torch.cat([self.label_embedding(labels)[:, None], emb[:, 1:]], dim=1)
        return emb + self.positions[start : start + L]

    def _inputs(self, tokens: Tensor) -> Tensor:
        """(B, T) targets -> (B, T) inputs: start token, then the targets shifted right."""
        return torch.cat([torch.full_like(tokens[:, :1], self.start_token), tokens[:, :-1]], dim=1)

    def _run(self, inputs: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Cache]:
        x = F.dropout(self._embed(inputs, 0, labels), self.blocks[0].dropout if self.blocks else 0.0, self.training)
        cache = []
        for block in self.blocks:
            x, kv = block(x)
            cache.append(kv)
        return self.norm(x), cache

    def hidden(self, tokens: Tensor, labels: Tensor | None = None) -> Tensor:
        """Teacher-forced outputs. tokens (B, T) -> (B, T, D); row t predicts tokens[:, t]."""
        return self._run(self._inputs(tokens), labels)[0]

    def project(self, hidden: Tensor) -> Tensor:
        return self.out(hidden)

    def forward(self, tokens: Tensor, labels: Tensor | None = None) -> Tensor:
        """Teacher-forced logits. tokens (B, T) -> (B, T, V)."""
        return self.out(self.hidden(tokens, labels))

    def log_probs(self, tokens: Tensor, temperature: float = 1.0, labels: Tensor | None = None) -> Tensor:
        """log G(y_t | y_<t) of each token, (B, T); positions after EOS are 0."""
        return token_log_probs(self(tokens, labels), tokens, temperature, self.eos_token)

    def scheduled_sampling_logits(
        self, tokens: Tensor, true_prob: float, rng: torch.Generator | None = None, labels: Tensor | None = None
    ) -> Tensor:
        """Scheduled sampling (Bengio et al. 2015), decoded position by position from the caches: logits (B, T, V)
        where each input is the true previous token with probability ``true_prob``, else G's own draw."""
        return scheduled_sampling_decode(self, tokens, true_prob, rng, labels)

    # ---------------------------------------------------------------- incremental decoding
    def initial_state(self, batch_size: int) -> State:
        w = self.out.weight
        heads = self.blocks[0].heads if self.blocks else 1
        empty = torch.empty(batch_size, heads, 0, self.width // heads, device=w.device, dtype=w.dtype)
        return [(empty, empty) for _ in self.blocks], None

    def advance(self, inputs: Tensor, state: State, labels: Tensor | None = None) -> State:
        """Feed one token per row (R,) at the next position of its cache (at position 0: ``labels``, if given)."""
        caches, _ = state
        start = caches[0][0].shape[2] if caches else 0
        x = self._embed(inputs[:, None], start, labels)
        new = []
        for block, cache in zip(self.blocks, caches, strict=True):
            x, kv = block.extend(x, cache)
            new.append(kv)
        return new, self.norm(x)[:, 0]

    def step(self, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        state = self.advance(inputs, state)
        return self.out(state[1]), state

    def begin(self, batch: int, labels: Tensor | None = None) -> State:
        """The state after the first input (the start token, or each row's label): the one that predicts y_0."""
        start = torch.full((batch,), self.start_token, dtype=torch.long, device=self.out.weight.device)
        return self.advance(start, self.initial_state(batch), labels)

    def state_logits(self, state: State) -> Tensor:
        return self.out(state[1])

    def draw(
        self,
        state: State,
        uniforms: Tensor,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> Tensor:
        return draw_chunked(self.out, state[1], uniforms, temperature, top_k=top_k, top_p=top_p)

    def prefix_state(self, states: States, t: int) -> State:
        """After the start token and the first ``t`` tokens: the first t + 1 cache positions, the output at t."""
        caches, outputs = states
        return [(k[:, :, : t + 1], v[:, :, : t + 1]) for k, v in caches], outputs[:, t - 1]

    @staticmethod
    def repeat_state(state: State, n: int) -> State:
        caches, h = state
        return [(k.repeat(n, 1, 1, 1), v.repeat(n, 1, 1, 1)) for k, v in caches], h.repeat(n, 1)

    @staticmethod
    def select_state(state: State, index: Tensor) -> State:
        """The rows ``index`` (K,) of every cache and of the last output."""
        caches, h = state
        return [(k[index], v[index]) for k, v in caches], h[index]

    @staticmethod
    def cat_state(first: State | None, second: State) -> State:
        if first is None:
            return second
        caches = [(torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]])) for a, b in zip(first[0], second[0], strict=True)]
        return caches, torch.cat([first[1], second[1]])

    @torch.no_grad()
    def states_of(self, tokens: Tensor, labels: Tensor | None = None) -> States:
        """The caches and outputs of given sequences (B, T) in one causal pass (no dropout)."""
        was = self.training
        self.eval()
        outputs, caches = self._run(self._inputs(tokens), labels)
        self.train(was)
        return caches, outputs[:, 1:]

    # ---------------------------------------------------------------- sampling
    @torch.no_grad()
    def generate(
        self, num: int, seq_len: int, rng: torch.Generator | None = None, batch_size: int = 1024, **kwargs: object
    ) -> Tensor:
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
    ) -> Tensor | tuple[Tensor, States]:
        """Ancestral sampling of ``num`` sequences, position by position from the caches (as the LSTM's
        :meth:`~seqgan.models.generator.Generator.sample`); ``return_states``: also the caches and the outputs
        the roll-outs continue from."""
        if uniforms is None:
            uniforms = torch.rand(num, seq_len, generator=rng, device=self.out.weight.device)
        tokens, outputs, state = ancestral_decode(
            self,
            num,
            seq_len,
            uniforms,
            temperature,
            top_k,
            top_p,
            prefix,
            labels,
            keep=(lambda s: s[1]) if return_states else None,
        )
        if not return_states:
            return tokens
        return tokens, (state[0], torch.stack(outputs, dim=1))
