"""Batches built on the training device: the dataset's tensors moved there once.

For every valid chunk start the normalised action chunk, rewards, mask and the index of s'
are computed once; observations stay one tensor per key, on the device when they fit in a
quarter of its free memory, else in pinned host memory (copied asynchronously per batch).
A batch is then a few index operations on the device, no per-step host work or transfer of
the whole batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lps_robot.data.dataset import ChunkDataset

FREE_MEMORY_SHARE = 0.25


def _fits(nbytes: int, device: torch.device) -> bool:
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= FREE_MEMORY_SHARE * free


class ResidentSampler:
    def __init__(self, data: ChunkDataset, device: str | torch.device) -> None:
        self.device = torch.device(device)
        t = data.targets(data.starts)
        self.n = len(data.starts)
        self.start = torch.as_tensor(data.starts, device=self.device)
        self.next_idx = torch.as_tensor(t["next_idx"], device=self.device)
        self.actions = torch.as_tensor(t["actions"], dtype=torch.float32, device=self.device)
        self.rewards = torch.as_tensor(t["rewards"], dtype=torch.float32, device=self.device)
        self.masks = torch.as_tensor(t["masks"], dtype=torch.float32, device=self.device)
        total = sum(v.nbytes for v in data.obs.values())
        self.resident = _fits(total, self.device)
        self.obs: dict[str, torch.Tensor] = {}
        for key, value in data.obs.items():
            tensor = torch.from_numpy(np.ascontiguousarray(value))
            if self.resident:
                tensor = tensor.to(self.device)
            elif self.device.type == "cuda":
                tensor = tensor.pin_memory()
            self.obs[key] = tensor

    def _obs(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.resident:
            return {k: v[idx] for k, v in self.obs.items()}
        host = idx.cpu()
        return {k: v[host].to(self.device, non_blocking=True) for k, v in self.obs.items()}

    def batch_at(self, j: torch.Tensor) -> dict[str, Any]:
        """The samples of valid-start positions ``j`` (indices into the dataset's starts)."""
        j = j.to(self.device)
        return {
            "obs": self._obs(self.start[j]),
            "next_obs": self._obs(self.next_idx[j]),
            "actions": self.actions[j],
            "rewards": self.rewards[j],
            "masks": self.masks[j],
        }

    def __call__(self, n: int, rng: np.random.Generator) -> dict[str, Any]:
        return self.batch_at(torch.as_tensor(rng.integers(0, self.n, n)))
