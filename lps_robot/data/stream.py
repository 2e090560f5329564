"""Batches streamed from disk by DataLoader worker processes, for datasets bigger than RAM.

The chunk starts of every batch are drawn in the training process from the training loop's
own generator, exactly as the in-RAM sampler draws them (uniform over valid chunks, the same
stream for the same seed and step, so a resumed run continues its stream); the workers only
read the frames of the starts they are handed (0 workers: the training process reads them,
which a frame cache makes cheap: on 2 cores a reader process costs training more than it
saves). `plan` sizes the loader to a memory cap.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from lps_robot.data.dataset import ChunkDataset
from lps_robot.data.frames import OPEN_FILE_MB

MB = 1 << 20
MIN_OPEN_FILES = 4
MAX_OPEN_FILES = 256  # random chunks of a many-file dataset miss any LRU; shards fit in it
WORKER_MB = 128.0  # a forked reader's own memory (its share of pages, measured ~100 MB)


@dataclass(frozen=True)
class StreamPlan:
    workers: int
    prefetch: int  # batches in flight per worker
    open_files: int  # per worker
    batch_mb: float
    index_mb: float


def batch_bytes(data: ChunkDataset, batch_size: int) -> int:
    """One batch's observations (s and s') and targets, in bytes."""
    spec = data.spec
    h, w = spec.obs.image_size
    per = len(spec.obs.image_keys) * h * w * 3 + 4 * sum(spec.obs.proprio_dims)
    return batch_size * (2 * per + 4 * data.h * (spec.action.dim + 1) + 4)


def plan(data: ChunkDataset, batch_size: int, cap_mb: float, workers: int) -> StreamPlan:
    """Prefetch depth and open files per worker that keep the data path under ``cap_mb``:
    the in-RAM index, every worker's own memory, its batches in flight (each also held once
    by the loader) and its open files (what training takes without data is not counted).
    Refuses a cap that cannot hold the index and one batch per worker; ``cap_mb`` 0: no cap
    (the deepest prefetch and the most open files)."""
    cap_mb = cap_mb or math.inf
    if workers < 0:
        raise ValueError(f"data_workers: expected >= 0, got {workers}")
    index_mb = data.ram_bytes() / MB
    b_mb = batch_bytes(data, batch_size) / MB
    readers = max(workers, 1)  # 0 workers: the training process reads
    least = (WORKER_MB if workers else 0.0) + 2 * b_mb + MIN_OPEN_FILES * OPEN_FILE_MB
    left = cap_mb - index_mb - readers * least
    if left < 0:
        raise ValueError(
            f"data_memory_mb: {cap_mb:g} MB cannot stream this dataset: its index takes "
            f"{index_mb:.0f} MB in RAM and each of {workers} worker(s) needs {least:.0f} MB "
            f"(itself, one batch of {batch_size} in flight, {MIN_OPEN_FILES} open files); "
            "raise the cap or lower batch_size"
        )
    per_worker = left / readers
    prefetch = 1 + int(min(3, per_worker / 2 // (2 * b_mb)))  # half the rest, <= 4
    files_mb = per_worker - (prefetch - 1) * 2 * b_mb
    open_files = MIN_OPEN_FILES + int(min(MAX_OPEN_FILES, files_mb // OPEN_FILE_MB))
    return StreamPlan(workers, prefetch, open_files, b_mb, index_mb)


class _Draws(Sampler):
    """Endless batches of chunk starts from the training loop's generator."""

    def __init__(self, starts: np.ndarray, batch_size: int, rng: np.random.Generator):
        self.starts, self.n, self.rng = starts, batch_size, rng

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            yield self.rng.choice(self.starts, size=self.n)


class _Chunks(Dataset):
    def __init__(self, data: ChunkDataset) -> None:
        self.data = data

    def __getitem__(self, starts: np.ndarray) -> dict[str, Any]:
        return self.data.chunks(starts)

    def __len__(self) -> int:
        return len(self.data.starts)


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


class StreamSampler:
    """A `train` sampler: ``sample(n, rng)`` returns the next streamed batch. The loader is
    built on the first call, bound to that ``rng`` and batch size."""

    def __init__(self, data: ChunkDataset, stream: StreamPlan) -> None:
        if data.frames is None:
            raise ValueError("StreamSampler: the dataset holds its frames in RAM already")
        data.frames.max_open = stream.open_files
        self.data, self.plan = data, stream
        self._it: Iterator[dict[str, Any]] | None = None
        self._bound: tuple[int, np.random.Generator] | None = None

    def __call__(self, n: int, rng: np.random.Generator) -> dict[str, Any]:
        if self._it is None:
            workers = self.plan.workers
            loader = DataLoader(
                _Chunks(self.data),
                sampler=_Draws(self.data.starts, n, rng),
                batch_size=None,
                num_workers=workers,
                prefetch_factor=self.plan.prefetch if workers else None,
                persistent_workers=workers > 0,
                worker_init_fn=_one_thread if workers else None,
            )
            self._it, self._bound = iter(loader), (n, rng)
        elif self._bound != (n, rng):
            raise ValueError("StreamSampler: bound to one batch size and generator per run")
        return next(self._it)

    def close(self) -> None:
        """Stops the worker processes."""
        self._it = None  # the loader's iterator shuts its workers down when dropped
