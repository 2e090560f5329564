"""Latent Policy Steering (LPS): losses, one update step, acting. Pure torch, no I/O.

Batches are dicts of tensors as `lps_robot.data.dataset.ChunkDataset` samples them:
``obs``/``next_obs`` (dicts keyed like the spec), ``actions`` (B, h, A) normalised to [-1, 1],
``rewards`` (B, h), ``masks`` (B,). A chunk is flattened to d = h * A dims for every network.
Every stochastic input (decoder noise, flow times, augmentation) comes from an explicit
generator, so updates are reproducible.
"""

from __future__ import annotations

import contextlib
import copy
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
from lps_robot.models.encoders import apply_augmentation, plan_augmentation
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

        def encoder() -> ObsEncoder:
            return ObsEncoder(
                spec,
                cfg.image_channels,
                cfg.image_feat_dim,
                cfg.aug_pad,
                cfg.aug_prob,
                cfg.image_head,
                cfg.image_encoder,
            )

        # `encoder` feeds the decoder (and, when shared, the critic and the actor too)
        self.encoder = encoder()
        self.per_network = cfg.encoder_per_network
        if self.per_network:  # the reference's robot recipe: one encoder per network
            self.critic_encoder = encoder()
            self.actor_encoder = encoder()
            self.target_critic_encoder = copy.deepcopy(self.critic_encoder).requires_grad_(False)
        f = self.encoder.out_dim
        self.decoder = MeanFlowDecoder(f, self.d, cfg.decoder_hidden, cfg.init)
        self.actor = LatentActor(f, self.d, cfg.actor_hidden, cfg.init)
        self.critic = CriticEnsemble(
            f, self.d, cfg.critic_hidden, cfg.num_critics, cfg.mlp_block, cfg.init
        )
        self.target_critic = self.critic.make_target()
        # Each loss touches only its own modules: L_Q -> critic (+ its encoder), L_MF ->
        # decoder (+ its encoder), L_f -> actor (+ its own encoder when per network).
        model = [*self.encoder.parameters(), *self.decoder.parameters()]
        model += [*self.critic.parameters()]
        actor = [*self.actor.parameters()]
        if self.per_network:
            model += [*self.critic_encoder.parameters()]
            actor += [*self.actor_encoder.parameters()]
        self.actor_params = actor
        # fused: one kernel per step for all parameters (the per-tensor loop is ~10 % of an
        # update at the reference sizes on a CPU; same arithmetic within float rounding)
        self.opt_model = torch.optim.Adam(model, lr=cfg.lr, fused=True)
        self.opt_actor = torch.optim.Adam(actor, lr=cfg.lr, fused=True)
        # called after the gradients are computed, before the optimisers step (data-parallel
        # training averages gradients across ranks here)
        self.grad_hook: Callable[[], None] | None = None
        # bf16 autocast for the observation encoders inside `update` / `update_bc` (set by the
        # trainer for ``precision: bf16_encoders``); acting and export always run fp32
        self.encoder_autocast = False

    # --- acting ------------------------------------------------------------------------------

    def features(
        self,
        obs: Mapping[str, torch.Tensor],
        augment: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The decoder's features (the shared ones unless encoders are per network)."""
        return self.encoder(obs, augment=augment, generator=generator)

    def _encode(self, encoder: nn.Module, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``encoder(obs)`` for an update: under bf16 autocast when `encoder_autocast`, its
        features cast back to fp32 for the losses."""
        if not self.encoder_autocast:
            return encoder(obs)
        device = next(encoder.parameters()).device.type
        with torch.autocast(device, dtype=torch.bfloat16):
            return encoder(obs).float()

    def actor_features(self, obs: Mapping[str, torch.Tensor], feat: torch.Tensor) -> torch.Tensor:
        """The actor's features: its own encoder's, or the shared ``feat``."""
        return self.actor_encoder(obs) if self.per_network else feat

    def augment(
        self, batch: Batch, generator: torch.Generator | None
    ) -> tuple[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]]:
        """(s, s') with random shifts: s' shifted by the same crop when ``aug_next_obs``."""
        cfg, keys = self.config, self.encoder.image_keys
        obs, next_obs = batch["obs"], batch["next_obs"]
        if cfg.aug_pad <= 0 or not keys:
            return obs, next_obs
        plan = plan_augmentation(obs, keys, cfg.aug_pad, cfg.aug_prob, generator)
        obs = apply_augmentation(obs, plan, cfg.aug_pad)
        if cfg.aug_next_obs:
            next_obs = apply_augmentation(next_obs, plan, cfg.aug_pad)
        return obs, next_obs

    def decode(
        self, feat: torch.Tensor, z: torch.Tensor, straight_through: bool = False
    ) -> torch.Tensor:
        """a = clip(g(s, z, 1, 1), -1, 1), flat (B, d); the latent is an explicit input."""
        return _clip(self.decoder.decode(feat, z), straight_through)

    def latent(self, feat: torch.Tensor) -> torch.Tensor:
        return self.actor(feat)

    @torch.no_grad()
    def best_of_prior(
        self,
        feat: torch.Tensor,
        critic_feat: torch.Tensor,
        n: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Per state, of ``n`` prior samples the chunk the critic rates highest (the mean of
        its ensemble), flat (B, d)."""
        b = feat.shape[0]
        z = sphere_sample(b * n, self.d, generator, feat.device)
        chunks = self.decode(feat.repeat_interleave(n, 0), z)
        q = self.critic(critic_feat.repeat_interleave(n, 0), chunks).float().mean(0).view(b, n)
        return chunks.view(b, n, -1)[torch.arange(b, device=feat.device), q.argmax(1)]

    @torch.no_grad()
    def act(self, obs: Mapping[str, torch.Tensor], z: torch.Tensor | None = None) -> torch.Tensor:
        """LPS action chunk (B, h, A) in [-1, 1]: z = f(s) unless a latent is given."""
        feat = self.features(obs)
        z = self.latent(self.actor_features(obs, feat)) if z is None else z
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
        self,
        feat: torch.Tensor,
        next_feat: torch.Tensor,
        batch: Batch,
        next_actor_feat: torch.Tensor | None = None,
        next_critic_feat: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict]:
        """``feat``: the critic's features of s; ``next_feat``: the decoder's of s' (and, when
        not given, the actor's and the target critic's too)."""
        cfg = self.config
        next_actor_feat = next_feat if next_actor_feat is None else next_actor_feat
        next_critic_feat = next_feat if next_critic_feat is None else next_critic_feat
        with torch.no_grad():
            next_a = self.decode(next_feat, self.latent(next_actor_feat))
            next_q = self.target_critic(next_critic_feat, next_a).float()  # fp32 under bf16
            next_q = next_q.mean(0) if cfg.q_agg == "mean" else next_q.min(0).values
            rewards = batch["rewards"]
            discounts = cfg.gamma ** torch.arange(
                self.h, dtype=rewards.dtype, device=rewards.device
            )
            target = (rewards * discounts).sum(-1) + cfg.gamma**self.h * batch["masks"] * next_q
        q = self.critic(feat, batch["actions"].reshape(-1, self.d)).float()
        loss = ((q - target.unsqueeze(0)) ** 2).mean()
        return loss, {
            "critic_loss": loss.detach(),
            "q_mean": q.detach().mean(),
            "target_mean": target.mean(),
        }

    def actor_loss(
        self,
        feat: torch.Tensor,
        actor_feat: torch.Tensor | None = None,
        critic_feat: torch.Tensor | None = None,
        data_actions: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, dict]:
        """L_f = alpha * -mean(Q) / stopgrad(mean|Q|): dQ/da -> dg/dz -> sphere -> f,
        plus ``actor_bc_weight`` * mean squared distance of the decoded chunk to the data's
        (``data_actions``, flat; off in the reference), or with ``actor_bc_target:
        best_of_prior`` to the best by Q of ``actor_bc_samples`` prior samples.

        Shared encoder: every feature is ``feat``, detached. Per-network encoders: the
        actor's own features keep their gradient (its encoder learns from L_f)."""
        feat = feat.detach()
        actor_feat = feat if actor_feat is None else actor_feat
        critic_feat = feat if critic_feat is None else critic_feat.detach()
        z = self.latent(actor_feat)
        a = self.decode(feat, z, straight_through=self.config.actor_grad == "straight_through")
        q = self.critic(critic_feat, a).float().mean(0)
        loss = self.config.alpha * -q.mean() / q.abs().mean().detach().clamp_min(1e-6)
        info = {"actor_loss": loss.detach(), "actor_q": q.detach().mean()}
        if self.config.actor_bc_weight > 0 and data_actions is not None:
            if self.config.actor_bc_target == "best_of_prior":
                n = self.config.actor_bc_samples
                data_actions = self.best_of_prior(feat, critic_feat, n, generator)
            bc = ((a.float() - data_actions.float()) ** 2).mean()
            loss = loss + self.config.actor_bc_weight * bc
            info["actor_bc"] = bc.detach()
        return loss, info

    # --- one step ----------------------------------------------------------------------------

    def update(
        self, batch: Batch, generator: torch.Generator | None = None, train_actor: bool = True
    ) -> dict[str, torch.Tensor]:
        """L = L_Q + L_MF + L_f on one batch; each optimiser steps its own modules.

        ``train_actor=False``: L_Q + L_MF only (the actor waits; its loss is not computed)."""
        obs, next_obs = self.augment(batch, generator)
        data_actions = batch["actions"].reshape(-1, self.d)
        feat = self._encode(self.encoder, obs)
        with torch.no_grad():  # s' is augmented only with aug_next_obs (same crop as s)
            next_feat = self._encode(self.encoder, next_obs)
        if self.per_network:
            critic_feat = self._encode(self.critic_encoder, obs)
            actor_feat = self._encode(self.actor_encoder, obs)
            with torch.no_grad():
                next_actor = self._encode(self.actor_encoder, next_obs)
                next_critic = self._encode(self.target_critic_encoder, next_obs)
            l_q, info_q = self.critic_loss(critic_feat, next_feat, batch, next_actor, next_critic)
        else:
            actor_feat = None
            critic_feat = feat if self.config.critic_trains_encoder else feat.detach()
            l_q, info_q = self.critic_loss(critic_feat, next_feat, batch)
        l_mf, info_mf = self.bc_loss(feat, batch, generator)
        actor_grads: tuple[torch.Tensor | None, ...] = (None,) * len(self.actor_params)
        info_f: dict = {}
        if train_actor:  # the actor's own gradient: never the decoder's or the critic's
            l_f, info_f = self.actor_loss(feat, actor_feat, critic_feat, data_actions, generator)
            actor_grads = torch.autograd.grad(l_f, self.actor_params)
        self.opt_model.zero_grad(set_to_none=True)
        (l_q + l_mf).backward()
        for p, g in zip(self.actor_params, actor_grads, strict=True):
            p.grad = g
        self._before_step()
        self.opt_model.step()
        if train_actor:
            self.opt_actor.step()
        polyak_update(self.target_critic, self.critic, self.config.tau)
        if self.per_network:
            polyak_update(self.target_critic_encoder, self.critic_encoder, self.config.tau)
        return {**info_q, **info_mf, **info_f}

    def _before_step(self) -> None:
        """Gradient sync across ranks, then the global gradient-norm clip."""
        if self.grad_hook is not None:
            self.grad_hook()
        if self.config.grad_clip > 0:
            params = [
                p
                for group in (self.opt_model, self.opt_actor)
                for g in group.param_groups
                for p in g["params"]
                if p.grad is not None
            ]
            torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)

    def update_bc(
        self, batch: Batch, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """MF-BC baseline step: the MeanFlow loss alone (encoder + decoder)."""
        obs, _ = self.augment(batch, generator)
        loss, info = self.bc_loss(self._encode(self.encoder, obs), batch, generator)
        self.opt_model.zero_grad(set_to_none=True)
        loss.backward()
        self._before_step()
        self.opt_model.step()
        return info


def precision_context(
    precision: str, device: str | torch.device
) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` for ``precision`` 'bf16' (matrix products in bf16, fp32
    weights and losses), nothing for 'fp32' or 'bf16_encoders' (the agent's
    `encoder_autocast` covers that one)."""
    if precision in ("fp32", "bf16_encoders"):
        return contextlib.nullcontext()
    if precision != "bf16":
        raise ValueError(f"precision: expected fp32, bf16 or bf16_encoders, got {precision!r}")
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def to_torch(batch: Mapping[str, Any], device: str | torch.device = "cpu") -> dict[str, Any]:
    """numpy batch (nested dicts allowed) -> torch tensors."""
    out: dict[str, Any] = {}
    for k, v in batch.items():
        out[k] = (
            to_torch(v, device) if isinstance(v, Mapping) else torch.as_tensor(v, device=device)
        )
    return out
