"""The MLP every head is built from."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

BLOCKS = ("reference", "legacy")
INITS = ("xavier", "torch")


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int,
    layer_norm: bool = False,
    block: str = "reference",
    init: str = "xavier",
) -> nn.Sequential:
    """A GELU MLP with a linear output.

    ``block="reference"`` (jellyho/LPS ``networks.py``): Linear -> GELU -> (LayerNorm) per
    hidden layer; ``"legacy"`` (this project before): Linear -> (LayerNorm) -> GELU.
    ``init="xavier"``: Xavier-uniform weights and zero biases (the reference's); ``"torch"``:
    PyTorch's default (Kaiming-uniform) init.
    """
    if block not in BLOCKS:
        raise ValueError(f"mlp_block: expected one of {BLOCKS}, got {block!r}")
    if init not in INITS:
        raise ValueError(f"init: expected one of {INITS}, got {init!r}")
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers.append(nn.Linear(d, h))
        norm = [nn.LayerNorm(h)] if layer_norm else []
        act = [nn.GELU()]
        layers += act + norm if block == "reference" else norm + act
        d = h
    layers.append(nn.Linear(d, out_dim))
    if init == "xavier":
        for layer in layers:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)
