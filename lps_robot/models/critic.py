"""Action-space critic ensemble Q_k(s, a) with a Polyak-averaged target copy."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from lps_robot.models.mlp import mlp


class CriticEnsemble(nn.Module):
    """K independent Q networks on [s_feat, a] (GELU MLP with LayerNorm)."""

    def __init__(
        self,
        feat_dim: int,
        action_dim: int,
        hidden: Sequence[int] = (256,) * 4,
        k: int = 2,
        block: str = "reference",
        init: str = "xavier",
    ):
        super().__init__()
        self.qs = nn.ModuleList(
            mlp(feat_dim + action_dim, hidden, 1, layer_norm=True, block=block, init=init)
            for _ in range(k)
        )

    def forward(self, feat: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """(K, B) Q values."""
        x = torch.cat([feat, action], dim=-1)
        return torch.stack([q(x).squeeze(-1) for q in self.qs])

    def make_target(self) -> CriticEnsemble:
        target = copy.deepcopy(self)
        target.requires_grad_(False)
        return target


@torch.no_grad()
def polyak_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- (1 - tau) * target + tau * online."""
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        t.lerp_(o, tau)
