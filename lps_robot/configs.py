"""Agent and training configs: frozen dataclasses, one documented line per field.

Torch-free, so the CLI can build `lps train --help` from them without importing torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lps_robot.dcio import ConfigError, from_plain


@dataclass(frozen=True)
class LPSConfig:
    """LPS hyper-parameters; defaults are the reference's (jellyho/LPS, agents/lps.py)."""

    decoder_hidden: tuple[int, ...] = field(
        default=(512, 512, 512, 512), metadata={"help": "MeanFlow decoder MLP widths"}
    )
    actor_hidden: tuple[int, ...] = field(
        default=(256, 256), metadata={"help": "latent actor MLP widths"}
    )
    critic_hidden: tuple[int, ...] = field(
        default=(256, 256, 256, 256), metadata={"help": "critic MLP widths (LayerNorm)"}
    )
    num_critics: int = field(default=2, metadata={"help": "critic ensemble size K"})
    q_agg: str = field(
        default="min",
        metadata={"help": "target aggregation over K: min (reference) | mean"},
    )
    mlp_block: str = field(
        default="reference",
        metadata={
            "help": "critic MLP block: reference (Linear-GELU-LayerNorm) | legacy "
            "(Linear-LayerNorm-GELU)"
        },
    )
    init: str = field(
        default="xavier",
        metadata={"help": "MLP init: xavier (reference: Xavier-uniform, zero bias) | torch"},
    )
    lr: float = field(default=3e-4, metadata={"help": "Adam learning rate for every module"})
    gamma: float = field(default=0.99, metadata={"help": "discount per environment step"})
    tau: float = field(default=0.005, metadata={"help": "Polyak rate of the target critic"})
    alpha: float = field(default=1.0, metadata={"help": "actor loss scale (normalised Q)"})
    actor_bc_weight: float = field(
        default=0.0,
        metadata={
            "help": "weight of the decoded chunk's squared distance to the data chunk in the "
            "actor loss (0: the reference, Q only)"
        },
    )
    actor_bc_target: str = field(
        default="data",
        metadata={
            "help": "what the actor's data term pulls the chunk toward: data (the data's chunk "
            "at the state) | best_of_prior (of actor_bc_samples prior samples, the one the "
            "critic rates highest: one mode of the prior, chosen by Q)"
        },
    )
    actor_bc_samples: int = field(
        default=8, metadata={"help": "prior samples per state for actor_bc_target best_of_prior"}
    )
    time_mu: float = field(default=-0.4, metadata={"help": "logit-normal mean of MeanFlow times"})
    frac_r_neq_t: float = field(default=0.25, metadata={"help": "share of the batch with r != t"})
    actor_grad: str = field(
        default="clip",
        metadata={
            "help": "gradient through decode's clip in the actor loss: clip (reference: "
            "blocks saturated dims) | straight_through (passes them)"
        },
    )
    image_channels: tuple[int, ...] = field(
        default=(16, 32, 32, 32), metadata={"help": "CNN channels per stride-2 conv"}
    )
    image_feat_dim: int = field(default=64, metadata={"help": "features per camera"})
    image_head: str = field(
        default="flatten",
        metadata={"help": "CNN head: flatten | spatial_softmax (keypoints)"},
    )
    critic_trains_encoder: bool = field(
        default=True,
        metadata={"help": "critic gradients reach the shared image encoder (else MeanFlow only)"},
    )
    image_encoder: str = field(
        default="cnn",
        metadata={"help": "per-camera image encoder: cnn (small) | impala (reference robot)"},
    )
    encoder_per_network: bool = field(
        default=False,
        metadata={
            "help": "a separate observation encoder for the decoder, the critic (with a "
            "Polyak target copy) and the actor (reference robot recipe); else one shared"
        },
    )
    aug_pad: int = field(default=3, metadata={"help": "random-shift padding in pixels (0: off)"})
    aug_prob: float = field(default=0.5, metadata={"help": "probability of shifting an image"})
    aug_next_obs: bool = field(
        default=False,
        metadata={"help": "shift s' by the same crop as s (reference robot recipe)"},
    )
    grad_clip: float = field(
        default=0.0, metadata={"help": "global gradient-norm clip over all networks (0: off)"}
    )
    lr_schedule: str = field(
        default="constant",
        metadata={"help": "constant | warmup_cosine (linear warmup, cosine to lr_final_frac)"},
    )
    warmup_frac: float = field(
        default=0.01, metadata={"help": "warmup_cosine: warmup as a fraction of the steps"}
    )
    lr_final_frac: float = field(
        default=0.1, metadata={"help": "warmup_cosine: final lr as a fraction of lr"}
    )

    def __post_init__(self) -> None:
        if self.q_agg not in ("mean", "min"):
            raise ValueError(f"q_agg: expected 'mean' or 'min', got {self.q_agg!r}")
        if self.actor_grad not in ("straight_through", "clip"):
            raise ValueError(
                f"actor_grad: expected 'straight_through' or 'clip', got {self.actor_grad!r}"
            )
        if not 0.0 <= self.frac_r_neq_t <= 1.0:
            raise ValueError(f"frac_r_neq_t: expected 0..1, got {self.frac_r_neq_t}")
        if self.mlp_block not in ("reference", "legacy"):
            raise ValueError(
                f"mlp_block: expected 'reference' or 'legacy', got {self.mlp_block!r}"
            )
        if self.init not in ("xavier", "torch"):
            raise ValueError(f"init: expected 'xavier' or 'torch', got {self.init!r}")
        if self.image_encoder not in ("cnn", "impala"):
            raise ValueError(
                f"image_encoder: expected 'cnn' or 'impala', got {self.image_encoder!r}"
            )
        if self.lr_schedule not in ("constant", "warmup_cosine"):
            raise ValueError(
                f"lr_schedule: expected 'constant' or 'warmup_cosine', got {self.lr_schedule!r}"
            )
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip: expected >= 0, got {self.grad_clip}")
        if self.actor_bc_weight < 0:
            raise ValueError(f"actor_bc_weight: expected >= 0, got {self.actor_bc_weight}")
        if self.actor_bc_target not in ACTOR_BC_TARGETS:
            raise ValueError(
                f"actor_bc_target: expected one of {ACTOR_BC_TARGETS}, "
                f"got {self.actor_bc_target!r}"
            )
        if self.actor_bc_samples < 1:
            raise ValueError(f"actor_bc_samples: expected >= 1, got {self.actor_bc_samples}")
        if self.aug_pad < 0:
            raise ValueError(f"aug_pad: expected >= 0, got {self.aug_pad}")
        if self.num_critics < 1:
            raise ValueError(f"num_critics: expected >= 1, got {self.num_critics}")


# Network sizes per preset; any agent.* field set in a YAML file or on the command line wins.
PRESETS: dict[str, dict[str, Any]] = {
    "reference": {},  # the paper's sizes: decoder 512x4, actor 256x2, critic 256x4
    "cpu": {  # sized for a 2-core CPU (documented in README): about 4x fewer FLOPs per step
        "decoder_hidden": [256, 256, 256],
        "actor_hidden": [128, 128],
        "critic_hidden": [256, 256, 256],
    },
    "robot": {  # the reference's real-robot recipe (lps_droid.sh), with an MLP decoder
        "critic_hidden": [512, 512, 512, 512],
        "actor_hidden": [512, 512],
        "image_encoder": "impala",
        "image_channels": [16, 32, 32],
        "image_feat_dim": 512,
        "encoder_per_network": True,
        "aug_next_obs": True,
        "grad_clip": 1.0,
        "lr_schedule": "warmup_cosine",
    },
}


PRECISIONS = ("fp32", "bf16", "bf16_encoders")
ACTOR_BC_TARGETS = ("data", "best_of_prior")  # what the actor's data term pulls toward
# `compile` auto: a run this long with cameras repays its compile time (measured at the demo's
# sizes on 2 cores: 1.3-1.7x the eager steps/s after 40-65 s of compiling; the state presets
# gain nothing on a quiet machine, docs/benchmarks.md)
COMPILE_MIN_STEPS = 2000


@dataclass(frozen=True)
class TrainConfig:
    """Offline training run."""

    dataset: str = field(
        default="",
        metadata={
            "help": "HDF5 dataset (.h5 file or episode dir), or a LeRobot v3 dataset directory "
            "(read in place; needs --spec)"
        },
    )
    spec: str = field(
        default="",
        metadata={"help": "spec YAML of a LeRobot dataset (ours carry their own): '' for ours"},
    )
    assume_success: bool = field(
        default=False,
        metadata={"help": "LeRobot dataset without a success column: every episode succeeded"},
    )
    out_dir: str = field(default="runs/train", metadata={"help": "checkpoints and logs go here"})
    algo: str = field(default="lps", metadata={"help": "lps | bc (MeanFlow prior alone)"})
    preset: str = field(
        default="reference", metadata={"help": f"network sizes: {' | '.join(PRESETS)}"}
    )
    steps: int = field(default=10_000, metadata={"help": "gradient steps in total"})
    batch_size: int = field(default=256, metadata={"help": "chunks per batch"})
    seed: int = field(default=0, metadata={"help": "seed for torch, numpy and sampling"})
    chunk_length: int = field(default=0, metadata={"help": "h; 0 keeps the spec's"})
    action_type: str = field(
        default="",
        metadata={"help": "'' keeps the data's; joint_delta: chunk-relative joint targets"},
    )
    reward_transform: str = field(
        default="none", metadata={"help": "none | sparse (r' = -1 if r != 0 else 0)"}
    )
    reward_convention: str = field(
        default="recorded",
        metadata={
            "help": "recorded (the episodes' rewards) | reference (success-only, -1 per step, "
            "0 and masks 0 over the last h steps)"
        },
    )
    keep_failures: bool = field(
        default=False, metadata={"help": "reference convention: keep failed episodes"}
    )
    failure_penalty: float = field(
        default=-100.0, metadata={"help": "reference convention: a kept failure's last reward"}
    )
    prior_warmup_steps: int = field(
        default=0,
        metadata={
            "help": "lps: train the MeanFlow prior alone for this many of the steps before "
            "the critic and the actor start (0: all jointly, as the reference)"
        },
    )
    warmup_trains_critic: bool = field(
        default=False,
        metadata={
            "help": "lps: during the prior's warm-up the critic trains too (only the actor waits)"
        },
    )
    log_every: int = field(default=100, metadata={"help": "steps between CSV log rows"})
    eval_every: int = field(default=0, metadata={"help": "steps between eval hooks; 0: end only"})
    ckpt_every: int = field(default=5_000, metadata={"help": "steps between checkpoints"})
    resume: bool = field(
        default=False, metadata={"help": "continue from out_dir/last.safetensors"}
    )
    threads: int = field(default=0, metadata={"help": "torch CPU threads; 0: torch default"})
    device: str = field(
        default="auto",
        metadata={"help": "auto (CUDA when present) | cpu | cuda | cuda:N"},
    )
    precision: str = field(
        default="fp32",
        metadata={
            "help": "fp32 | bf16: bf16 autocast for the update's matrix products (CPUs with "
            "AMX/AVX512-BF16, CUDA GPUs) | bf16_encoders: the same for the observation "
            "encoders only (the other losses, the MeanFlow JVP and acting stay fp32); "
            "weights, losses and optimiser state stay fp32"
        },
    )
    compile: bool | None = field(
        default=None,
        metadata={
            "help": "torch.compile the update (critic, MeanFlow loss, actor, optimiser steps): "
            "true | false | auto (compiled where it pays: a policy with cameras, at least "
            f"{COMPILE_MIN_STEPS} steps, a C++ compiler and the Python headers present); the "
            "first steps pay the compile time"
        },
    )
    max_episodes: int = field(default=0, metadata={"help": "use the first N episodes; 0: all"})
    data_memory_mb: float = field(
        default=0.0,
        metadata={
            "help": "cap on the RAM the training data takes (MB); a dataset whose frames do "
            "not fit under it streams them from disk through worker processes; 0: no cap, "
            "everything in RAM"
        },
    )
    data_workers: int = field(
        default=0,
        metadata={
            "help": "worker processes reading frames when streaming; 0: the training process "
            "reads them (from the frame cache: 0.4 ms per batch; on 2 cores a worker cost "
            "more than it saved)"
        },
    )
    data_stream: bool = field(
        default=False,
        metadata={"help": "stream the frames from disk even when they fit in RAM"},
    )
    frame_cache: str = field(
        default="",
        metadata={
            "help": "streaming: directory of the preprocessed frames, written once per dataset "
            "and reused (resumes, later runs); '': out_dir/frame_cache; none: read the "
            "episode files directly (decompress and resize every frame of every batch)"
        },
    )
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})
    tensorboard: bool = field(
        default=True, metadata={"help": "also log scalars for TensorBoard to out_dir/tb"}
    )
    agent: LPSConfig = field(default_factory=LPSConfig)

    def __post_init__(self) -> None:
        if self.data_memory_mb < 0:
            raise ValueError(
                f"data_memory_mb: expected >= 0 (0: no cap), got {self.data_memory_mb}"
            )
        if self.data_workers < 0:
            raise ValueError(f"data_workers: expected >= 0, got {self.data_workers}")
        if self.algo not in ("lps", "bc"):
            raise ValueError(f"algo: expected 'lps' or 'bc', got {self.algo!r}")
        if not 0 <= self.prior_warmup_steps < max(self.steps, 1):
            raise ValueError(
                f"prior_warmup_steps: expected 0 <= value < steps ({self.steps}), "
                f"got {self.prior_warmup_steps}"
            )
        if self.preset not in PRESETS:
            raise ValueError(f"preset: expected one of {list(PRESETS)}, got {self.preset!r}")
        if self.action_type not in ("", "joint_position", "joint_delta"):
            raise ValueError(
                "action_type: expected '', joint_position or joint_delta, "
                f"got {self.action_type!r}"
            )
        if self.reward_transform not in ("none", "sparse"):
            raise ValueError(
                f"reward_transform: expected 'none' or 'sparse', got {self.reward_transform!r}"
            )
        if not re.match(r"^(auto|cpu|cuda(:\d+)?)$", self.device):
            raise ValueError(f"device: expected auto | cpu | cuda | cuda:N, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision: expected one of {PRECISIONS}, got {self.precision!r}")
        if self.reward_convention not in ("recorded", "reference"):
            raise ValueError(
                "reward_convention: expected 'recorded' or 'reference', "
                f"got {self.reward_convention!r}"
            )
        for name in ("steps", "batch_size", "log_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: expected > 0, got {getattr(self, name)}")


def make_config(
    file: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> TrainConfig:
    """defaults < preset < YAML file < overrides (dotted keys, e.g. ``agent.lr``)."""
    data: dict[str, Any] = {}
    if file:
        loaded = yaml.safe_load(Path(file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: expected a mapping of config fields")
        data = loaded
    for key, value in (overrides or {}).items():
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    preset = data.get("preset", TrainConfig.preset)
    if preset not in PRESETS:
        raise ConfigError(f"preset: expected one of {list(PRESETS)}, got {preset!r}")
    data["agent"] = {**PRESETS[preset], **data.get("agent", {})}
    return from_plain(TrainConfig, data)
