"""The discriminator D_phi: Kim's text CNN with a highway layer and dropout (paper §Implementation).

Shapes: B batch, T sequence length, E embedding, F total filters.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class Discriminator(nn.Module):
    """CNN over token embeddings -> max-over-time pooling -> highway -> dropout -> 2-way softmax.

    Follows the authors' ``discriminator.py``: VALID convolutions with ReLU, one highway layer
    with separate transform and gate matrices (gate bias offset 0), dropout with keep
    probability ``dropout_keep`` in training only, and a 2-class output layer (class 1 = real)
    whose weight and bias carry the L2 penalty. Initialisation as there: embedding U(-1, 1),
    filters truncated N(0, 0.1^2) with bias 0.1, highway Glorot-uniform (biases too, as TF's
    default initializer does), output layer truncated N(0, 0.1^2) with bias 0.1. ``num_classes`` other than 2:
    the same network as a k-way classifier (the label classifier of :mod:`seqgan.eval.labels`).
    """

    def __init__(
        self,
        vocab_size: int,
        filters: tuple[tuple[int, int], ...],
        emb_dim: int = 64,
        dropout_keep: float = 0.75,
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        self.filters = tuple(filters)
        total = sum(n for _, n in self.filters)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, n, w) for w, n in self.filters)
        self.highway_transform = nn.Linear(total, total)
        self.highway_gate = nn.Linear(total, total)
        self.dropout = nn.Dropout(1.0 - dropout_keep)
        self.out = nn.Linear(total, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
        for conv in self.convs:
            nn.init.trunc_normal_(conv.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(conv.bias, 0.1)
        for lin in (self.highway_transform, self.highway_gate):
            nn.init.xavier_uniform_(lin.weight)
            bound = math.sqrt(6.0 / (2 * lin.bias.numel()))  # TF glorot for a 1-D shape: fan_in = fan_out = n
            nn.init.uniform_(lin.bias, -bound, bound)
        nn.init.trunc_normal_(self.out.weight, std=0.1, a=-0.2, b=0.2)
        nn.init.constant_(self.out.bias, 0.1)

    def pooled(self, tokens: Tensor) -> Tensor:
        """tokens (B, T) -> max-over-time pooled convolution features (B, F)."""
        x = self.embedding(tokens)  # (B, T, E)
        if torch.is_autocast_enabled(x.device.type) and torch.get_autocast_dtype(x.device.type) == torch.bfloat16:
            # bf16 (discriminator.train_bf16): each filter bank as one matrix product over its windows, faster than
            # the bf16 convolution, forward and backward; bias and ReLU after the max, which they commute with.
            raw = [window_products(x, conv.weight.permute(2, 1, 0).flatten(0, 1)).amax(dim=1) for conv in self.convs]
            return torch.relu(torch.cat(raw, dim=1) + torch.cat([conv.bias for conv in self.convs]))
        x = x.transpose(1, 2)  # (B, E, T)
        return torch.cat([torch.relu(conv(x)).amax(dim=2) for conv in self.convs], dim=1)

    def highway(self, pooled: Tensor) -> Tensor:
        """(B, F) -> (B, F): one highway layer, gate bias offset 0 (authors' code)."""
        gate = torch.sigmoid(self.highway_gate(pooled))
        return gate * torch.relu(self.highway_transform(pooled)) + (1.0 - gate) * pooled

    def features(self, tokens: Tensor) -> Tensor:
        """tokens (B, T) -> highway features (B, F), before dropout."""
        return self.highway(self.pooled(tokens))

    def head(self, pooled: Tensor) -> Tensor:
        """Pooled features (B, F) -> highway -> dropout -> logits (B, 2)."""
        return self.out(self.dropout(self.highway(pooled)))

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (B, T) -> logits (B, 2); softmax(...)[:, 1] is P(real)."""
        return self.head(self.pooled(tokens))

    def prob_real(self, tokens: Tensor) -> Tensor:
        """P(real) for each sequence, (B, T) -> (B,). Uses the current train/eval mode."""
        return torch.softmax(self(tokens), dim=-1)[:, 1]

    def l2_penalty(self) -> Tensor:
        """tf.nn.l2_loss of the output layer: (sum W^2 + sum b^2) / 2."""
        return 0.5 * (self.out.weight.square().sum() + self.out.bias.square().sum())


def window_products(x: Tensor, weight: Tensor) -> Tensor:
    """A filter bank's output at every window without its bias, as one matrix product over the windows (im2col).

    x (B, T, E); weight (w * E, n), row j * E + e holding the weight of embedding unit e at window offset j (a
    Conv1d weight (n, E, w) as ``weight.permute(2, 1, 0).flatten(0, 1)``) -> (B, T - w + 1, n). In bf16 on CPUs
    with bf16 units this runs about 2x faster than the convolution (benchmarks/perf/results.md); in fp32 oneDNN's
    convolution is faster, so fp32 paths keep it.
    """
    B, T, E = x.shape
    width = weight.shape[0] // E
    windows = x.unfold(1, width, 1).transpose(2, 3).reshape(B * (T - width + 1), width * E)
    return (windows @ weight).view(B, T - width + 1, -1)
