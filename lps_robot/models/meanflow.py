"""MeanFlow: a one-step flow decoder g(s, z, t, dt) and its behaviour-cloning loss.

Time convention (written once, pinned by tests/test_meanflow.py): t = 0 is data, t = 1 is
noise. The path is z_t = (1 - t) x + t eps, its velocity v = eps - x. The network output g
defines the average velocity over [r, t] as u(z_t, r, t) = z_t - g(s, z_t, t, t - r), so
z_r = z_t - (t - r) u. One-step decoding (t = 1, r = 0) therefore reads a = g(s, eps, 1, 1).

The MeanFlow identity u = v - (t - r) du/dt, with the total derivative d/dt taken along the
path at fixed r (JVP tangent (v, 1, 0) on (z, t, r)), gives the regression target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import jvp

from lps_robot.models.mlp import mlp

LOSS_ADAPTIVE_EPS = 1e-3


class MeanFlowDecoder(nn.Module):
    """g(s_feat, z, t, dt) -> R^d; inputs concatenated as [s_feat, z, t, dt] (reference)."""

    def __init__(
        self,
        feat_dim: int,
        action_dim: int,
        hidden: Sequence[int] = (512,) * 4,
        init: str = "xavier",
    ):
        super().__init__()
        self.action_dim = action_dim
        self.net = mlp(feat_dim + action_dim + 2, hidden, action_dim, init=init)

    def forward(
        self, feat: torch.Tensor, z: torch.Tensor, t: torch.Tensor, dt: torch.Tensor
    ) -> torch.Tensor:
        return self.net(torch.cat([feat, z, t, dt], dim=-1))

    def decode(self, feat: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """One-step decode, unclipped: g(s, z, t=1, dt=1)."""
        one = torch.ones(z.shape[0], 1, dtype=z.dtype, device=z.device)
        return self(feat, z, one, one)


def sample_times(
    n: int,
    generator: torch.Generator | None = None,
    mu: float = -0.4,
    frac_r_neq_t: float = 0.25,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """t, r (each (n, 1)): logit-normal pair sorted so r <= t; r = t for 1 - frac of rows."""
    a = torch.sigmoid(torch.randn(n, 1, generator=generator, device=device) + mu)
    b = torch.sigmoid(torch.randn(n, 1, generator=generator, device=device) + mu)
    t, r = torch.maximum(a, b), torch.minimum(a, b)
    keep = torch.rand(n, 1, generator=generator, device=device) < frac_r_neq_t
    return t, torch.where(keep, r, t)


def meanflow_target(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    z: torch.Tensor,
    t: torch.Tensor,
    r: torch.Tensor,
    v: torch.Tensor,
    tangent: str = "t",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(u, u_tgt) for F(z, t, r) = g(s, z, t, t - r).

    ``tangent="t"`` differentiates along the path at fixed r (correct). ``tangent="r"``
    reproduces the reference's non-default 'mf' mode slip (tangent (v, 0, 1)); it exists only
    so tests can show that it is wrong.
    """
    if tangent == "t":
        tangents = (v, torch.ones_like(t), torch.zeros_like(r))
    elif tangent == "r":
        tangents = (v, torch.zeros_like(t), torch.ones_like(r))
    else:
        raise ValueError(f"tangent: expected 't' or 'r', got {tangent!r}")
    g, g_dot = jvp(fn, (z, t, r), tangents)
    u = z - g
    du_dt = v - g_dot
    u_tgt = (v - (t - r).clamp(0.0, 1.0) * du_dt).detach()
    return u, u_tgt


def meanflow_loss(
    decoder: Callable[..., torch.Tensor],
    feat: torch.Tensor,
    x: torch.Tensor,
    eps: torch.Tensor,
    t: torch.Tensor,
    r: torch.Tensor,
    tangent: str = "t",
) -> tuple[torch.Tensor, dict[str, float]]:
    """Adaptively weighted MeanFlow BC loss on data chunks x (B, d) with explicit noise/times."""
    z = (1.0 - t) * x + t * eps
    v = eps - x

    def fn(z_: torch.Tensor, t_: torch.Tensor, r_: torch.Tensor) -> torch.Tensor:
        return decoder(feat, z_, t_, t_ - r_)

    u, u_tgt = meanflow_target(fn, z, t, r, v, tangent)
    per_sample = ((u.float() - u_tgt.float()) ** 2).mean(dim=-1)  # fp32 under bf16 autocast
    weight = (per_sample.detach() + LOSS_ADAPTIVE_EPS).rsqrt()
    loss = (weight * per_sample).mean()
    # detached tensors, not floats: a .item() per loss would sync a GPU every step
    return loss, {"mf_loss": loss.detach(), "mf_mse": per_sample.detach().mean()}
