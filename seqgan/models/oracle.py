"""The synthetic oracle G_oracle: an LSTM with the authors' ``target_lstm.py`` cell.

The oracle is a :class:`Generator` whose weights are the 15 arrays of the authors' parameter
file, packed into ``nn.LSTM`` layout (gate order i, f, g, o; ``bias_hh`` = 0). The cell it
then computes is exactly the one in ``docs`` (row-vector convention, h0 = c0 = 0, start 0):
a test re-computes it in numpy.
"""

from __future__ import annotations

import numpy as np
import torch

from seqgan.models.generator import Generator

# nn.LSTM stacks gate blocks in the order input, forget, cell candidate, output.
_GATES = ("i", "f", "c", "o")


def build_oracle(params: dict[str, np.ndarray], device: str | torch.device = "cpu") -> Generator:
    """Generator holding the oracle parameters, in eval mode with gradients off."""
    vocab_size, emb_dim = params["embedding"].shape
    hidden_dim = params["U_i"].shape[0]
    num_labels = params["label_embedding"].shape[0] if "label_embedding" in params else 0
    with torch.random.fork_rng(devices=[]):  # its random initialisation is overwritten: leave torch's stream as it was
        g = Generator(vocab_size, emb_dim, hidden_dim, start_token=0, num_labels=num_labels)
    t = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in params.items()}
    with torch.no_grad():
        g.embedding.weight.copy_(t["embedding"])
        # Row convention x @ W: nn.LSTM computes W_ih @ x, so each block is W^T.
        g.lstm.weight_ih_l0.copy_(torch.cat([t[f"W_{k}"].T for k in _GATES]))
        g.lstm.weight_hh_l0.copy_(torch.cat([t[f"U_{k}"].T for k in _GATES]))
        g.lstm.bias_ih_l0.copy_(torch.cat([t[f"b_{k}"] for k in _GATES]))
        g.lstm.bias_hh_l0.zero_()
        g.out.weight.copy_(t["W_out"].T)
        g.out.bias.copy_(t["b_out"])
        if num_labels:
            g.label_embedding.weight.copy_(t["label_embedding"])
    g.requires_grad_(False)
    return g.eval().to(device)


def oracle_params(g: Generator) -> dict[str, np.ndarray]:
    """Inverse of :func:`build_oracle`: the 15 arrays in the authors' layout (float32)."""
    if g.lstm.bias_hh_l0.abs().max() > 0:
        raise ValueError("the authors' cell has one bias per gate: bias_hh_l0 must be zero")
    h = g.hidden_dim

    def blocks(w: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: w[i * h : (i + 1) * h] for i, k in enumerate(_GATES)}

    wih, whh, b = blocks(g.lstm.weight_ih_l0), blocks(g.lstm.weight_hh_l0), blocks(g.lstm.bias_ih_l0)
    out = {"embedding": g.embedding.weight}
    for k in ("i", "f", "o", "c"):
        out[f"W_{k}"], out[f"U_{k}"], out[f"b_{k}"] = wih[k].T, whh[k].T, b[k]
    out["W_out"], out["b_out"] = g.out.weight.T, g.out.bias
    if getattr(g, "num_labels", 0):
        out["label_embedding"] = g.label_embedding.weight
    return {k: np.ascontiguousarray(v.detach().cpu().numpy(), dtype=np.float32) for k, v in out.items()}
