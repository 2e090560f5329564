"""Camera frames read from the episode files on demand (training on data bigger than RAM).

`DiskFrames` maps a dataset-wide step index to (episode, local index) and reads the frames
of a batch from a `FrameCache` of preprocessed frames when it has one, else straight from the
HDF5 files, grouped by file, through the training `Preprocessor`. Open files are kept in a
small LRU (each costs about 0.7 MB of HDF5 metadata and cache); handles are never shared
across a fork: a process that did not open them opens its own.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import h5py
import numpy as np

from lps_robot.data import schema
from lps_robot.data.frame_cache import FrameCache
from lps_robot.data.reader import DataError
from lps_robot.preprocess import Preprocessor

OPEN_FILE_MB = 1.0  # what one open episode file is budgeted in the memory cap


class DiskFrames:
    def __init__(
        self,
        refs: list,
        lengths: np.ndarray,
        keys: tuple[str, ...],
        preprocessor: Preprocessor,
        image_size: tuple[int, int],
        max_open: int = 64,
        frame_by_frame: bool = True,
    ) -> None:
        """``frame_by_frame`` False: the episodes are video (`Episodes.frame_by_frame`), read
        only through a frame cache."""
        if max_open < 1:
            raise ValueError(f"max_open: expected >= 1 open file, got {max_open}")
        self.refs, self.keys, self.pre = refs, keys, preprocessor
        self.frame_by_frame = frame_by_frame
        self.size = tuple(image_size)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self.episode_of = np.repeat(np.arange(len(refs)), lengths)
        self.max_open = max_open
        self._files: OrderedDict[Path, h5py.File] = OrderedDict()
        self._pid = os.getpid()
        self.cache: FrameCache | None = None  # when set, frames come from it

    def _file(self, path: Path) -> h5py.File:
        if self._pid != os.getpid():  # a forked worker: the parent's handles are not ours
            self._files = OrderedDict()
            self._pid = os.getpid()
        f = self._files.get(path)
        if f is not None:
            self._files.move_to_end(path)
            return f
        while len(self._files) >= self.max_open:
            self._files.popitem(last=False)[1].close()
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise DataError(f"{path}: cannot open the episode file for its frames ({e})") from e
        self._files[path] = f
        return f

    def read(self, key: str, idx: np.ndarray) -> np.ndarray:
        """(B, h, w, 3) preprocessed frames of camera ``key`` at dataset indices ``idx``."""
        if self.cache is not None:
            return self.cache.read(key, idx)
        if not self.frame_by_frame:  # video (a LeRobot dataset)
            raise DataError(
                f"{self.refs[0]}: video frames are read through a frame cache, not one by one"
            )
        idx = np.asarray(idx)
        out = np.empty((len(idx), *self.size, 3), np.uint8)
        ep = self.episode_of[idx]
        for e in np.unique(ep):  # one file lookup per episode in the batch
            ref = self.refs[e]
            rows = np.flatnonzero(ep == e)
            ds = self._file(ref.file)[schema.DATA_GROUP][ref.name]["obs"][key]
            for row in rows:
                local = int(idx[row] - self.offsets[e])
                try:
                    frame = ds[local]
                except OSError as err:
                    raise DataError(f"{ref}: obs/{key}[{local}] cannot be read ({err})") from err
                out[row] = self.pre.batch_images(key, frame[None])[0]
        return out

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        if self._pid == os.getpid():
            for f in self._files.values():
                f.close()
        self._files = OrderedDict()
