"""Latent Policy Steering (LPS): losses, one update step, acting. Pure torch, no I/O.

Batches are dicts of tensors as `lps_robot.data.dataset.ChunkDataset` samples them:
``obs``/``next_obs`` (dicts keyed like the spec), ``actions`` (B, h, A) normalised to [-1, 1],
``rewards`` (B, h), ``masks`` (B,). A chunk is flattened to d = h * A dims for every network.
Every stochastic input (decoder noise, flow times, augmentation) comes from an explicit
generator, so updates are reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from lps_robot.configs import LPSConfig
from lps_robot.models import (
    CriticEnsemble,
    LatentActor,
    MeanFlowDecoder,
    ObsEncoder,
    meanflow_loss,
    sphere_sample,
)
from lps_robot.models.critic import polyak_update
from lps_robot.models.meanflow import sample_times
from lps_robot.spec import Spec

Batch = Mapping[str, Any]


def _clip(x: torch.Tensor, straight_through: bool) -> torch.Tensor:
    clipped = x.clamp(-1.0, 1.0)
    return x + (clipped - x).detach() if straight_through else clipped


class LPSAgent(nn.Module):
    """Encoder + MeanFlow decoder (behaviour prior) + latent actor + critic ensemble."""

    def __init__(self, spec: Spec, config: LPSConfig | None = None):
        super().__init__()
        self.spec = spec
        self.config = cfg = config or LPSConfig()
        self.h = spec.policy.chunk_length
        self.action_dim = spec.action.dim
        self.d = self.h * self.action_dim
        self.encoder = ObsEncoder(
            spec, cfg.image_channels, cfg.image_feat_dim, cfg.aug_pad, cfg.aug_prob, cfg.image_head
        )
        f = self.encoder.out_dim
        self.decoder = MeanFlowDecoder(f, self.d, cfg.decoder_hidden, cfg.init)
        self.actor = LatentActor(f, self.d, cfg.actor_hidden, cfg.init)
        self.critic = CriticEnsemble(
            f, self.d, cfg.critic_hidden, cfg.num_critics, cfg.mlp_block, cfg.init
        )
        self.target_critic = self.critic.make_target()
        # Each loss touches only its own module: L_Q -> critic (+ encoder), L_MF -> decoder
        # (+ encoder), L_f -> actor only.
        self.opt_model = torch.optim.Adam(
            [*self.encoder.parameters(), *self.decoder.parameters(), *self.critic.parameters()],
            lr=cfg.lr,
        )
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        # called after the gradients are computed, before the optimisers step (data-parallel
        # training averages gradients across ranks here)
        self.grad_hook: Callable[[], None] | None = None

    # --- acting ------------------------------------------------------------------------------

    def features(
        self,
        obs: Mapping[str, torch.Tensor],
        augment: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        return self.encoder(obs, augment=augment, generator=generator)

    def decode(
        self, feat: torch.Tensor, z: torch.Tensor, straight_through: bool = False
    ) -> torch.Tensor:
        """a = clip(g(s, z, 1, 1), -1, 1), flat (B, d); the latent is an explicit input."""
        return _clip(self.decoder.decode(feat, z), straight_through)

    def latent(self, feat: torch.Tensor) -> torch.Tensor:
        return self.actor(feat)

    @torch.no_grad()
    def act(self, obs: Mapping[str, torch.Tensor], z: torch.Tensor | None = None) -> torch.Tensor:
        """LPS action chunk (B, h, A) in [-1, 1]: z = f(s) unless a latent is given."""
        feat = self.features(obs)
        z = self.latent(feat) if z is None else z
        return self.decode(feat, z).view(-1, self.h, self.action_dim)

    @torch.no_grad()
    def act_bc(
        self, obs: Mapping[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """MF-BC baseline: the decoder alone with a random sphere latent (samples the prior)."""
        feat = self.features(obs)
        z = sphere_sample(feat.shape[0], self.d, generator, feat.device)
        return self.decode(feat, z).view(-1, self.h, self.action_dim)

    # --- losses (batch in, (loss, info) out) --------------------------------------------------

    def bc_loss(
        self, feat: torch.Tensor, batch: Batch, gen: torch.Generator | None
    ) -> tuple[torch.Tensor, dict]:
        x = batch["actions"].reshape(-1, self.d)
        eps = sphere_sample(x.shape[0], self.d, gen, x.device)
        t, r = sample_times(
            x.shape[0], gen, self.config.time_mu, self.config.frac_r_neq_t, x.device
        )
        return meanflow_loss(self.decoder, feat, x, eps, t, r)

    def critic_loss(
        self, feat: torch.Tensor, next_feat: torch.Tensor, batch: Batch
    ) -> tuple[torch.Tensor, dict]:
        cfg = self.config
        with torch.no_grad():
            next_a = self.decode(next_feat, self.latent(next_feat))
            next_q = self.target_critic(next_feat, next_a)
            next_q = next_q.mean(0) if cfg.q_agg == "mean" else next_q.min(0).values
            rewards = batch["rewards"]
            discounts = cfg.gamma ** torch.arange(
                self.h, dtype=rewards.dtype, device=rewards.device
            )
            target = (rewards * discounts).sum(-1) + cfg.gamma**self.h * batch["masks"] * next_q
        q = self.critic(feat, batch["actions"].reshape(-1, self.d))
        loss = ((q - target.unsqueeze(0)) ** 2).mean()
        return loss, {
            "critic_loss": loss.item(),
            "q_mean": q.mean().item(),
            "target_mean": target.mean().item(),
        }

    def actor_loss(self, feat: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """L_f = alpha * -mean(Q) / stopgrad(mean|Q|): dQ/da -> dg/dz -> sphere -> f."""
        feat = feat.detach()
        z = self.latent(feat)
        a = self.decode(feat, z, straight_through=self.config.actor_grad == "straight_through")
        q = self.critic(feat, a).mean(0)
        loss = self.config.alpha * -q.mean() / q.abs().mean().detach().clamp_min(1e-6)
        return loss, {"actor_loss": loss.item(), "actor_q": q.mean().item()}

    # --- one step ----------------------------------------------------------------------------

    def update(self, batch: Batch, generator: torch.Generator | None = None) -> dict[str, float]:
        """L = L_Q + L_MF + L_f on one batch; each optimiser steps its own module."""
        feat = self.features(batch["obs"], augment=True, generator=generator)
        with torch.no_grad():  # the bootstrap target's observation is not augmented
            next_feat = self.features(batch["next_obs"])
        critic_feat = feat if self.config.critic_trains_encoder else feat.detach()
        l_q, info_q = self.critic_loss(critic_feat, next_feat, batch)
        l_mf, info_mf = self.bc_loss(feat, batch, generator)
        l_f, info_f = self.actor_loss(feat)
        actor_params = list(self.actor.parameters())
        actor_grads = torch.autograd.grad(l_f, actor_params)  # never touches decoder/critic
        self.opt_model.zero_grad(set_to_none=True)
        (l_q + l_mf).backward()
        for p, g in zip(actor_params, actor_grads, strict=True):
            p.grad = g
        if self.grad_hook is not None:
            self.grad_hook()
        self.opt_model.step()
        self.opt_actor.step()
        polyak_update(self.target_critic, self.critic, self.config.tau)
        return {**info_q, **info_mf, **info_f}

    def update_bc(
        self, batch: Batch, generator: torch.Generator | None = None
    ) -> dict[str, float]:
        """MF-BC baseline step: the MeanFlow loss alone (encoder + decoder)."""
        feat = self.features(batch["obs"], augment=True, generator=generator)
        loss, info = self.bc_loss(feat, batch, generator)
        self.opt_model.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_hook is not None:
            self.grad_hook()
        self.opt_model.step()
        return info


def to_torch(batch: Mapping[str, Any], device: str | torch.device = "cpu") -> dict[str, Any]:
    """numpy batch (nested dicts allowed) -> torch tensors."""
    out: dict[str, Any] = {}
    for k, v in batch.items():
        out[k] = (
            to_torch(v, device) if isinstance(v, Mapping) else torch.as_tensor(v, device=device)
        )
    return out
