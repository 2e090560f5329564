"""The latent actor f(s) and the latent prior: both live on the sphere of radius sqrt(d)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from lps_robot.models.mlp import mlp

SPHERE_EPS = 1e-6


def sphere_project(f: torch.Tensor) -> torch.Tensor:
    """z = sqrt(d) * f / sqrt(|f|^2 + 1e-6): any vector onto the latent sphere."""
    d = f.shape[-1]
    return math.sqrt(d) * f / torch.sqrt((f * f).sum(-1, keepdim=True) + SPHERE_EPS)


def sphere_sample(
    n: int, d: int, generator: torch.Generator | None = None, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """eps = sqrt(d) * n / |n|, n ~ N(0, I): the MeanFlow prior (uniform on the sphere)."""
    g = torch.randn(n, d, generator=generator, device=device)
    return math.sqrt(d) * g / g.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class LatentActor(nn.Module):
    """Deterministic latent policy: observation features -> a point on the latent sphere."""

    def __init__(
        self,
        feat_dim: int,
        latent_dim: int,
        hidden: Sequence[int] = (256, 256),
        init: str = "xavier",
    ):
        super().__init__()
        self.net = mlp(feat_dim, hidden, latent_dim, init=init)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return sphere_project(self.net(feat))
