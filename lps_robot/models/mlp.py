"""The MLP every head is built from."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def mlp(
    in_dim: int, hidden: Sequence[int], out_dim: int, layer_norm: bool = False
) -> nn.Sequential:
    """Linear -> (LayerNorm) -> GELU per hidden layer, then a linear output."""
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers.append(nn.Linear(d, h))
        if layer_norm:
            layers.append(nn.LayerNorm(h))
        layers.append(nn.GELU())
        d = h
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)
