"""Observation encoder: normalised proprio + a small CNN per camera, sized for a 2-core CPU.

Inputs are what the exported model takes: uint8 images (B, H, W, 3) and float proprio
vectors, keyed as in the spec. Normalisation statistics live in buffers, so they travel
inside checkpoints and the ONNX graph. One encoder is shared by the decoder and the critic
(trained by both losses); the latent actor reads its features detached. Random-shift
augmentation (pad, random crop) applies only when asked for, at training time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from lps_robot.spec import Spec


class SpatialSoftmax(nn.Module):
    """Per-channel soft-argmax: (B, C, H, W) -> (B, 2C) expected (x, y) in [-1, 1]."""

    def __init__(self, h: int, w: int):
        super().__init__()
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
        self.register_buffer("pos", torch.stack([xs.reshape(-1), ys.reshape(-1)], -1))  # (HW, 2)
        self.log_temp = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _, _ = x.shape
        attn = torch.softmax(x.flatten(2) / self.log_temp.exp(), dim=-1)  # (B, C, HW)
        return (attn @ self.pos).reshape(b, 2 * c)


class ConvEncoder(nn.Module):
    """3x3 convs + ReLU -> head -> LayerNorm -> tanh.

    Head ``spatial_softmax`` (default): keypoint coordinates per channel, then a linear layer;
    strides alternate 2, 1 so the keypoints keep resolution. Head ``flatten``: all strides 2
    and a linear layer on the flattened map.
    """

    def __init__(
        self,
        image_hw: tuple[int, int],
        channels: Sequence[int],
        out_dim: int,
        head: str = "flatten",
    ):
        super().__init__()
        if head not in ("spatial_softmax", "flatten"):
            raise ValueError(f"image_head: expected spatial_softmax | flatten, got {head!r}")
        layers: list[nn.Module] = []
        c = 3
        for i, ch in enumerate(channels):
            stride = 2 if head == "flatten" or i % 2 == 0 else 1
            layers += [nn.Conv2d(c, ch, 3, stride=stride, padding=1), nn.ReLU()]
            c = ch
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            fmap = self.convs(torch.zeros(1, 3, *image_hw))
        if head == "spatial_softmax":
            self.pool: nn.Module = SpatialSoftmax(fmap.shape[2], fmap.shape[3])
            n = 2 * fmap.shape[1]
        else:
            self.pool = nn.Flatten(1)
            n = fmap.numel()
        self.head = nn.Sequential(nn.Linear(n, out_dim), nn.LayerNorm(out_dim), nn.Tanh())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image: float (B, 3, H, W) in [0, 1]."""
        return self.head(self.pool(self.convs(image)))


AugPlan = dict[str, tuple[torch.Tensor, torch.Tensor]]  # key -> (picked rows, shifts)


def shift_images(images: torch.Tensor, shift: torch.Tensor, pad: int) -> torch.Tensor:
    """Replicate-pad (B, H, W, C) images by ``pad`` and crop back at offsets ``shift`` (B, 2)."""
    b, h, w, _ = images.shape
    shift = shift.to(images.device)
    rows = torch.arange(h, device=images.device)[None, :] + shift[:, :1]
    cols = torch.arange(w, device=images.device)[None, :] + shift[:, 1:]
    rows = (rows - pad).clamp(0, h - 1)  # replicate padding == clamping
    cols = (cols - pad).clamp(0, w - 1)
    idx_b = torch.arange(b, device=images.device)[:, None, None]
    return images[idx_b, rows[:, :, None], cols[:, None, :]]


def random_shift(
    images: torch.Tensor, pad: int, generator: torch.Generator | None
) -> torch.Tensor:
    """DrQ-style augmentation on (B, H, W, C) images of any dtype: replicate-pad by ``pad``
    and crop back at a random integer offset per image."""
    dev = generator.device if generator is not None else images.device
    shift = torch.randint(0, 2 * pad + 1, (images.shape[0], 2), generator=generator, device=dev)
    return shift_images(images, shift, pad)


def plan_augmentation(
    obs: Mapping[str, torch.Tensor],
    keys: Sequence[str],
    pad: int,
    prob: float,
    generator: torch.Generator | None,
) -> AugPlan:
    """Which samples of each camera are shifted (probability ``prob``) and by how much."""
    plan: AugPlan = {}
    for k in keys:
        b = obs[k].shape[0]
        dev = generator.device if generator is not None else obs[k].device
        pick = torch.rand(b, generator=generator, device=dev) < prob
        shift = torch.randint(0, 2 * pad + 1, (b, 2), generator=generator, device=dev)
        plan[k] = (pick.to(obs[k].device), shift)
    return plan


def apply_augmentation(
    obs: Mapping[str, torch.Tensor], plan: AugPlan, pad: int
) -> dict[str, torch.Tensor]:
    """``obs`` with the planned shifts applied (the same plan on s and s' gives the same
    crop to both, as the reference's real-robot recipe does)."""
    out = dict(obs)
    for k, (pick, shift) in plan.items():
        if pick.any():
            img = obs[k].clone()
            img[pick] = shift_images(img[pick], shift[pick.to(shift.device)], pad)
            out[k] = img
    return out


class ResidualBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ImpalaEncoder(nn.Module):
    """IMPALA-style ResNet (Espeholt et al. 2018), as the reference's real-robot encoder: per
    stage a 3x3 conv, a stride-2 3x3 max-pool and ``blocks`` residual blocks; then ReLU,
    flatten and a linear projection (LayerNorm, tanh)."""

    def __init__(
        self,
        image_hw: tuple[int, int],
        channels: Sequence[int] = (16, 32, 32),
        out_dim: int = 512,
        blocks: int = 2,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for ch in channels:
            layers += [nn.Conv2d(c, ch, 3, padding=1), nn.MaxPool2d(3, stride=2, padding=1)]
            layers += [ResidualBlock(ch) for _ in range(blocks)]
            c = ch
        layers.append(nn.ReLU())
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            n = self.convs(torch.zeros(1, 3, *image_hw)).numel()
        self.head = nn.Sequential(
            nn.Flatten(1), nn.Linear(n, out_dim), nn.LayerNorm(out_dim), nn.Tanh()
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image: float (B, 3, H, W) in [0, 1]."""
        return self.head(self.convs(image))


class ObsEncoder(nn.Module):
    """Observation dict -> feature vector [normalised proprio, image features per camera]."""

    def __init__(
        self,
        spec: Spec,
        image_channels: Sequence[int] = (16, 32, 32, 32),
        image_feat_dim: int = 64,
        aug_pad: int = 3,
        aug_prob: float = 0.5,
        image_head: str = "flatten",
        image_encoder: str = "cnn",
    ):
        super().__init__()
        if image_encoder not in ("cnn", "impala"):
            raise ValueError(f"image_encoder: expected cnn | impala, got {image_encoder!r}")
        obs = spec.obs
        self.image_keys = tuple(obs.image_keys)
        self.proprio_keys = tuple(obs.proprio_keys)
        p = obs.proprio_dim
        stats = spec.stats
        mean = torch.tensor(stats.proprio_mean if stats else [0.0] * p, dtype=torch.float32)
        std = torch.tensor(stats.proprio_std if stats else [1.0] * p, dtype=torch.float32)
        self.register_buffer("proprio_mean", mean)
        self.register_buffer("proprio_std", std)
        hw = tuple(obs.image_size)
        self.cnns = nn.ModuleDict(
            {
                k: (
                    ImpalaEncoder(hw, image_channels, image_feat_dim)
                    if image_encoder == "impala"
                    else ConvEncoder(hw, image_channels, image_feat_dim, image_head)
                )
                for k in self.image_keys
            }
        )
        self.aug_pad = aug_pad
        self.aug_prob = aug_prob
        self.out_dim = p + image_feat_dim * len(self.image_keys)

    def forward(
        self,
        obs: Mapping[str, torch.Tensor],
        augment: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        if augment and self.aug_pad > 0 and self.image_keys:  # shift picked uint8 images
            plan = plan_augmentation(obs, self.image_keys, self.aug_pad, self.aug_prob, generator)
            obs = apply_augmentation(obs, plan, self.aug_pad)
        proprio = torch.cat([obs[k].float() for k in self.proprio_keys], dim=-1)
        parts = [(proprio - self.proprio_mean) / self.proprio_std]
        for k in self.image_keys:
            parts.append(self.cnns[k](obs[k].permute(0, 3, 1, 2).float() / 255.0))
        return torch.cat(parts, dim=-1)
