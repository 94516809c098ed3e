"""Conditional generation: does G write what the label asks for?

Two judges of a sequence's label: on the conditional oracle task the exact Bayes classifier (the oracle's own
likelihood of the sequence under every label, uniform prior), on real data a CNN trained on the real training split
(the discriminator's network with k outputs). ``label accuracy`` is the share of generated sequences the judge
assigns to the label they were asked for; the same judge on real held-out sequences is its ceiling.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from seqgan.eval.metrics import sequence_nll
from seqgan.models.discriminator import Discriminator
from seqgan.models.interface import SequenceGenerator, device_of
from seqgan.models.sampling import sequence_mask

Classifier = Callable[[Tensor], Tensor]  # tokens (B, T) -> predicted label ids (B,)


def balanced_labels(num: int, num_labels: int, device: torch.device | str = "cpu") -> Tensor:
    """Label ids 0, 1, .., k-1, 0, 1, .. for ``num`` sequences: an equal share of each (``--label all``)."""
    return torch.arange(num, device=device) % num_labels


@torch.no_grad()
def label_log_likelihoods(model: SequenceGenerator, tokens: Tensor, num_labels: int, batch_size: int = 1024) -> Tensor:
    """log P(tokens | label k) under a conditional ``model`` for every k: tokens (B, T) -> (B, k), float64."""
    lengths = sequence_mask(tokens, model.eos_token).sum(dim=1).clamp(min=1).double().cpu()
    columns = []
    for k in range(num_labels):
        labels = torch.full((len(tokens),), k, dtype=torch.long, device=tokens.device)
        columns.append(-sequence_nll(model, tokens, batch_size, labels=labels).double() * lengths)
    return torch.stack(columns, dim=1)


def bayes_classifier(oracle: SequenceGenerator, num_labels: int, batch_size: int = 1024) -> Classifier:
    """The best possible judge of the conditional oracle task: argmax_k P(tokens | k) (equal label shares)."""

    def classify(tokens: Tensor) -> Tensor:
        return label_log_likelihoods(oracle, tokens, num_labels, batch_size).argmax(dim=1)

    return classify


def cnn_classifier(network: Discriminator, batch_size: int = 1024) -> Classifier:
    """A trained k-way CNN (:func:`train_label_classifier`) as a judge, in eval mode (no dropout)."""

    @torch.no_grad()
    def classify(tokens: Tensor) -> Tensor:
        was = network.training
        network.eval()
        device = device_of(network)
        out = torch.cat([network(chunk.to(device)).argmax(dim=1).cpu() for chunk in tokens.split(batch_size)])
        network.train(was)
        return out

    return classify


def train_label_classifier(
    tokens: Tensor,
    labels: Tensor,
    num_labels: int,
    vocab_size: int,
    filters: tuple[tuple[int, int], ...],
    emb_dim: int = 64,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> Discriminator:
    """A k-way CNN (the discriminator's network, dropout keep 0.75) trained on real ``tokens`` (N, T) with their
    ``labels`` (N,) by cross-entropy with Adam for ``epochs`` passes in seeded order. Deterministic per seed."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = Discriminator(vocab_size, filters, emb_dim, 0.75, num_classes=num_labels).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        net.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(tokens), generator=gen).split(batch_size):
                loss = torch.nn.functional.cross_entropy(net(tokens[idx].to(device)), labels[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return net.eval()
