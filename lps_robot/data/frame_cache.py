"""Preprocessed camera frames on disk, for streaming: one raw uint8 file per camera.

Recorded frames are stored compressed at camera resolution; training reads them resized to
the policy's input. Decompressing and resizing a random frame costs about 0.25 ms on this
CPU, which a streaming reader pays for every frame of every batch. The cache pays it once:
one sequential pass writes every kept episode's preprocessed frames back to back
(``<camera>.u8``, `frame_bytes` each, in dataset order), after which a frame is one
``pread`` at a known offset. Reads go through the page cache, never a memory map, so they
do not count in the reader's resident memory. A cache is keyed by the dataset's files, the
episodes kept, the cameras and the image size, and is built into a temporary directory that
is renamed into place only when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lps_robot.data.reader import DataError
from lps_robot.data.stats import fingerprint
from lps_robot.preprocess import Preprocessor

COMPLETE = "complete.json"


def preprocessed_frames(
    refs: list, keys: tuple[str, ...], pre: Preprocessor
) -> Iterator[dict[str, np.ndarray]]:
    """Each episode's frames of cameras ``keys``, preprocessed, one episode file read at a
    time (shared by the frame cache and by moving a streamed dataset's frames into RAM)."""
    for ref in refs:
        try:
            ep = ref.load(keys=keys, steps=False)
        except (OSError, KeyError, ValueError) as e:
            raise DataError(f"{ref}: cannot read its frames ({e})") from e
        yield {k: pre.batch_images(k, ep[f"obs/{k}"]) for k in keys}


def cache_key(files: list[Path], refs: list, keys: tuple[str, ...], size: tuple[int, int]) -> str:
    h = hashlib.sha256(fingerprint(files).encode())
    h.update(json.dumps([[str(r) for r in refs], list(keys), list(size)]).encode())
    return h.hexdigest()[:16]


class FrameCache:
    def __init__(self, directory: Path, keys: tuple[str, ...], size: tuple[int, int]) -> None:
        self.dir, self.keys, self.size = directory, keys, tuple(size)
        self.frame_bytes = self.size[0] * self.size[1] * 3
        self._fds: dict[str, int] = {}
        self._pid = os.getpid()

    @classmethod
    def open_or_build(
        cls,
        root: Path,
        key: str,
        refs: list,
        keys: tuple[str, ...],
        pre: Preprocessor,
        size: tuple[int, int],
        progress: bool = False,
    ) -> FrameCache:
        """The cache ``root/key``, written first if it is not there yet."""
        directory = Path(root) / key
        if not (directory / COMPLETE).is_file():
            _build(directory, refs, keys, pre, progress)
        return cls(directory, keys, size)

    def _fd(self, key: str) -> int:
        if self._pid != os.getpid():  # a forked reader opens its own descriptors
            self._fds, self._pid = {}, os.getpid()
        fd = self._fds.get(key)
        if fd is None:
            fd = self._fds[key] = os.open(self.dir / f"{key}.u8", os.O_RDONLY)
        return fd

    def read(self, key: str, idx: np.ndarray) -> np.ndarray:
        """(B, h, w, 3) frames of camera ``key`` at dataset indices ``idx``."""
        fd, n = self._fd(key), self.frame_bytes
        out = np.empty((len(idx), *self.size, 3), np.uint8)
        flat = out.reshape(len(idx), n)
        for row, i in enumerate(np.asarray(idx, np.int64).tolist()):
            if os.preadv(fd, [flat[row]], i * n) != n:
                raise DataError(f"{self.dir / key}.u8: frame {i} is cut short (rebuild the cache)")
        return out

    def close(self) -> None:
        if self._pid == os.getpid():
            for fd in self._fds.values():
                os.close(fd)
        self._fds = {}


def _build(
    directory: Path,
    refs: list,
    keys: tuple[str, ...],
    pre: Preprocessor,
    progress: bool,
) -> None:
    from tqdm import tqdm

    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    frames = 0
    outs = {k: (tmp / f"{k}.u8").open("wb") for k in keys}
    try:
        episodes = preprocessed_frames(refs, keys, pre)
        for ep in tqdm(episodes, total=len(refs), desc="frame cache", disable=not progress):
            for k in keys:
                outs[k].write(np.ascontiguousarray(ep[k]).data)
            frames += len(ep[keys[0]])
    finally:
        for f in outs.values():
            f.close()
    (tmp / COMPLETE).write_text(json.dumps({"episodes": len(refs), "frames": frames}))
    shutil.rmtree(directory, ignore_errors=True)
    tmp.rename(directory)
