"""A recurrent discriminator that judges every prefix in one pass (ScratchGAN, de Masson d'Autume et al. 2019,
arXiv 1905.09922): an LSTM reads the sequence and, after every token, a linear layer says how real the prefix so far
looks. Its per-prefix scores give dense per-token rewards without Monte Carlo roll-outs
(:class:`seqgan.train.rewards.DenseReward`).

ScratchGAN's D also uses frozen GloVe embeddings beside trainable ones and layer normalisation; pretrained
embeddings are not available here, so this one learns its embedding from scratch, with dropout on the LSTM's outputs
and the authors' L2 term on the output layer as the CNN has.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RecurrentDiscriminator(nn.Module):
    """tokens (B, T) -> logits (B, 2) of the whole sequence (class 1 = real); :meth:`prefix_logits` (B, T, 2) of
    every prefix. Trained on every prefix at once (``dense = True``: the discriminator loss averages the
    cross-entropy over positions, every prefix of a real sequence being real and of a generated one generated)."""

    dense = True

    def __init__(self, vocab_size: int, emb_dim: int = 64, hidden_dim: int = 64, dropout_keep: float = 0.75) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(1.0 - dropout_keep)
        self.out = nn.Linear(hidden_dim, 2)

    def prefix_logits(self, tokens: Tensor) -> Tensor:
        """tokens (B, T) -> (B, T, 2): the logits after reading tokens[:, : t + 1], for every t."""
        hidden, _ = self.lstm(self.embedding(tokens))
        return self.out(self.dropout(hidden))

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (B, T) -> (B, 2): the logits after the whole sequence (PAD after an EOS included)."""
        return self.prefix_logits(tokens)[:, -1]

    def l2_penalty(self) -> Tensor:
        """(sum W^2 + sum b^2) / 2 of the output layer, as the CNN's (authors' 0.2 x L2)."""
        return 0.5 * (self.out.weight.square().sum() + self.out.bias.square().sum())


def dense_rewards(prefix_probs: Tensor, mask: Tensor, discount: float) -> Tensor:
    """ScratchGAN's per-token rewards and their discounted returns: r_t = 2 D(Y_1:t) - 1 at every real position,
    R_t = r_t + discount * R_t+1. prefix_probs (B, T) P(real) of each prefix, mask (B, T) real positions ->
    returns (B, T) (0 after a sequence's end)."""
    r = (2.0 * prefix_probs - 1.0) * mask.to(prefix_probs.dtype)
    returns = torch.empty_like(r)
    running = torch.zeros_like(r[:, 0])
    for t in range(r.shape[1] - 1, -1, -1):
        running = r[:, t] + discount * running
        returns[:, t] = running
    return returns
