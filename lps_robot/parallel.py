"""Where training runs: the device, and data parallelism across processes (torchrun).

``lps train`` launched by ``torchrun --nproc_per_node N`` (or ``--nnodes``) trains data
parallel: every rank builds the same initial weights (broadcast from rank 0 to be sure),
samples its own batches (per-rank seeds), and before every optimiser step the gradients are
averaged across ranks with one all-reduce (NCCL on CUDA, gloo on CPU), which is what
``DistributedDataParallel`` does; the agent's update (two optimisers, a JVP, a gradient taken
with ``autograd.grad``) does not fit DDP's forward wrapper, so the same all-reduce is done
explicitly. Rank 0 alone logs, evaluates and writes checkpoints.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import torch
from torch import nn

from lps_robot.dcio import ConfigError

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` -> a device that exists, or `ConfigError`."""
    if not DEVICE_PATTERN.match(name):
        raise ConfigError(f"device: expected auto | cpu | cuda | cuda:N, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        built = "with" if torch.backends.cuda.is_built() else "without"
        raise ConfigError(
            f"device: {name!r} requested but no CUDA device is available (torch "
            f"{torch.__version__}, built {built} CUDA)"
        )
    index = int(name.split(":")[1]) if ":" in name else local_rank
    if index >= torch.cuda.device_count():
        raise ConfigError(
            f"device: {name!r} requested but only {torch.cuda.device_count()} CUDA device(s)"
        )
    return torch.device("cuda", index)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_world(device_name: str) -> tuple[World, torch.device]:
    """Join the torchrun process group when launched by torchrun; else a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local)
    if size == 1:
        return World(), device
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return World(dist.get_rank(), dist.get_world_size(), local), device


def broadcast_state(module: nn.Module, world: World) -> None:
    """Every parameter and buffer from rank 0 (identical starting weights)."""
    if world.size == 1:
        return
    import torch.distributed as dist

    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=0)


def average_gradients(params: list[nn.Parameter], world: World) -> None:
    """Average ``.grad`` over ranks with one flat all-reduce."""
    if world.size == 1:
        return
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def weights_digest(module: nn.Module) -> str:
    """sha256 over the module's state dict, in key order (to compare replicas)."""
    h = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()


def finish_world(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
