"""Crash-safe, append-as-you-go HDF5 episode writing.

Each episode is its own file: steps are appended to ``demo_<i>.h5.partial`` (resized in
blocks, flushed every ``flush_every`` steps, never buffered in RAM) and ``finish()`` closes,
fsyncs and atomically renames it to ``demo_<i>.h5``. A process killed at any moment therefore
leaves every finished episode untouched, and the unfinished one clearly marked by its suffix
(and its ``partial`` attribute); `recover_partial` salvages its flushed steps when HDF5 can
still read them. The layout inside each file is the one in `schema`.
"""

from __future__ import annotations

import errno
import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from lps_robot.data import schema
from lps_robot.spec import Spec

FLUSH_EVERY = 30  # steps between flushes of an episode file


class EpisodeWriteError(OSError):
    """Writing the episode failed (e.g. the disk is full); its file is closed and left as
    ``.partial`` (`recover_partial` salvages the flushed steps)."""


class EpisodeWriter:
    """Appends one episode, step by step, to its own HDF5 file."""

    def __init__(
        self,
        final_path: Path,
        index: int,
        spec: Spec,
        *,
        calibration_id: str | None = None,
        compression: str | None = None,
        flush_every: int = FLUSH_EVERY,
        block: int = 64,
        task: str = "",
    ) -> None:
        self.final_path = Path(final_path)
        self.partial_path = self.final_path.with_name(self.final_path.name + schema.PARTIAL_SUFFIX)
        self.spec = spec
        self.index = index
        self.flush_every = flush_every
        self.block = block
        self.num_steps = 0
        self._capacity = 0
        self._closed = False
        self._file = h5py.File(self.partial_path, "w")
        _write_root_attrs(self._file, spec)
        self._demo = self._file.create_group(f"{schema.DATA_GROUP}/{schema.demo_name(index)}")
        self._demo.attrs.update(
            num_samples=0,
            partial=True,
            success=False,
            control_rate_hz=spec.robot.control_rate_hz,
            calibration_id=calibration_id or "",
            operator_notes="",
            start_time=time.time(),
            dropped_frames="{}",
            task=task,
        )
        self._ds: dict[str, h5py.Dataset] = {}
        obs = self._demo.create_group("obs")
        for key in spec.obs.image_keys:
            cam = spec.camera(key)
            shape = (cam.height, cam.width, 3)
            self._ds[f"obs/{key}"] = obs.create_dataset(
                key,
                shape=(0, *shape),
                maxshape=(None, *shape),
                chunks=(1, *shape),
                dtype=schema.IMAGE_DTYPE,
                compression=compression,
                fletcher32=True,
            )
        for key, dim in zip(spec.obs.proprio_keys, spec.obs.proprio_dims, strict=True):
            self._ds[f"obs/{key}"] = self._create(obs, key, (dim,), schema.PROPRIO_DTYPE)
        self._ds["actions"] = self._create(self._demo, "actions", (spec.action.dim,), "float32")
        self._ds["rewards"] = self._create(self._demo, "rewards", (), "float32")
        self._ds["timestamps"] = self._create(self._demo, "timestamps", (), "float64")
        self._file.flush()

    def _create(self, group: h5py.Group, name: str, shape: tuple, dtype: str) -> h5py.Dataset:
        return group.create_dataset(
            name,
            shape=(0, *shape),
            maxshape=(None, *shape),
            chunks=(256, *shape),
            dtype=dtype,
            fletcher32=True,
        )

    def append(
        self,
        obs: Mapping[str, np.ndarray],
        action: np.ndarray,
        *,
        timestamp: float,
        reward: float = 0.0,
    ) -> None:
        """Append one step: the observation, the action commanded on it, and its time; a write
        failure raises `EpisodeWriteError` (the file is then closed, the episode ended)."""
        if self._closed:
            raise RuntimeError(f"{self.final_path}: episode already finished")
        try:
            self._append(obs, action, timestamp, reward)
        except OSError as e:
            self._fail(e)

    def _fail(self, e: OSError) -> None:
        """Give up on a file that cannot be written any more and raise `EpisodeWriteError`
        naming it. Its HDF5 handles are neither closed nor released: after a failed write,
        closing or freeing them crashed the process (segfault, h5py 3 on a full disk), so
        they stay referenced by this object; the flushed steps stay in the .partial file."""
        self._closed = True
        why = os.strerror(e.errno) if e.errno else str(e).split("(")[0].strip()
        raise EpisodeWriteError(
            e.errno or errno.EIO, f"{self.partial_path}: write failed ({why}); kept as .partial"
        ) from e

    def _append(
        self, obs: Mapping[str, np.ndarray], action: np.ndarray, timestamp: float, reward: float
    ) -> None:
        i = self.num_steps
        if i == self._capacity:
            self._capacity += self.block
            for ds in self._ds.values():
                ds.resize(self._capacity, axis=0)
        for key in (*self.spec.obs.image_keys, *self.spec.obs.proprio_keys):
            if key not in obs:
                raise KeyError(f"obs/{key}: missing from the step (expected keys {list(obs)})")
            ds = self._ds[f"obs/{key}"]
            value = np.asarray(obs[key])
            if value.shape != ds.shape[1:]:
                raise ValueError(f"obs/{key}: expected shape {ds.shape[1:]}, got {value.shape}")
            ds[i] = value
        action = np.asarray(action, dtype=np.float32)
        if action.shape != (self.spec.action.dim,):
            raise ValueError(
                f"actions: expected shape ({self.spec.action.dim},), got {action.shape}"
            )
        self._ds["actions"][i] = action
        self._ds["rewards"][i] = reward
        self._ds["timestamps"][i] = timestamp
        self.num_steps += 1
        if self.num_steps % self.flush_every == 0:
            self._demo.attrs["num_samples"] = self.num_steps
            self._file.flush()

    def finish(
        self,
        success: bool,
        *,
        notes: str = "",
        sparse_rewards: bool = True,
        dropped_frames: Mapping[str, int] | None = None,
        timing_faults: list[str] | None = None,
    ) -> Path:
        """Close the episode and atomically publish it as ``demo_<i>.h5``.

        With ``sparse_rewards`` the rewards follow from the label, as in the paper's real-robot
        setup: -1 per step, 0 on the final step of a successful episode (which is terminal).
        """
        if self._closed:  # finished, or failed: its HDF5 objects must not be touched again
            raise RuntimeError(f"{self.final_path}: episode already finished or failed")
        n = self.num_steps
        if n == 0:
            self.abort()
            raise ValueError(f"{self.final_path}: cannot finish an episode with no steps")
        try:
            self._finish(success, notes, sparse_rewards, dropped_frames, timing_faults)
        except OSError as e:
            self._fail(e)
        os.replace(self.partial_path, self.final_path)
        _fsync_dir(self.final_path.parent)
        return self.final_path

    def _finish(
        self,
        success: bool,
        notes: str,
        sparse_rewards: bool,
        dropped_frames: Mapping[str, int] | None,
        timing_faults: list[str] | None,
    ) -> None:
        n = self.num_steps
        for ds in self._ds.values():
            ds.resize(n, axis=0)
        if sparse_rewards:
            rewards = np.full(n, -1.0, np.float32)
            if success:
                rewards[-1] = 0.0
            self._ds["rewards"][:] = rewards
        terminals = np.zeros(n, np.uint8)
        timeouts = np.zeros(n, np.uint8)
        (terminals if success else timeouts)[-1] = 1
        dones = terminals | timeouts
        for name, arr in (("terminals", terminals), ("timeouts", timeouts), ("dones", dones)):
            self._demo.create_dataset(name, data=arr, chunks=True, fletcher32=True)
        self._demo.attrs.update(
            num_samples=n,
            partial=False,
            success=bool(success),
            operator_notes=notes,
            dropped_frames=json.dumps(dict(dropped_frames or {})),
            timing_faults=json.dumps(list(timing_faults or [])),
        )
        self._file[schema.DATA_GROUP].attrs["total"] = n
        self._file.flush()
        fd = self._file.id.get_vfd_handle()
        os.fsync(fd)
        self._file.close()
        self._closed = True

    def abort(self) -> None:
        """Drop the unfinished episode (e.g. the operator discards a bad take)."""
        if not self._closed:
            self._closed = True
            self._file.close()
        self.partial_path.unlink(missing_ok=True)

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._closed:  # an exception inside the block: keep nothing half-written
            self.abort()


class DatasetWriter:
    """A recording session: a directory that gains one finished file per episode."""

    def __init__(self, root: str | Path, spec: Spec, **episode_kwargs) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"{self.root}: expected a dataset directory, found a file")
        self.root.mkdir(parents=True, exist_ok=True)
        self.spec = spec
        self.episode_kwargs = episode_kwargs

    def next_index(self) -> int:
        pattern = re.compile(rf"^{schema.DEMO_PREFIX}(\d+)\.h5")
        indices = [int(m.group(1)) for p in self.root.iterdir() if (m := pattern.match(p.name))]
        return max(indices, default=-1) + 1

    def begin_episode(self, index: int | None = None, **overrides) -> EpisodeWriter:
        """The next episode, or the one at ``index`` (writers in several processes sharing a
        directory take disjoint indices; an index whose file exists is refused)."""
        index = self.next_index() if index is None else index
        path = self.root / schema.episode_filename(index)
        partial = path.with_name(path.name + schema.PARTIAL_SUFFIX)
        if path.exists() or partial.exists():
            raise FileExistsError(f"{path}: episode {index} is already recorded (or being)")
        return EpisodeWriter(path, index, self.spec, **{**self.episode_kwargs, **overrides})


def recover_partial(partial_path: str | Path) -> Path:
    """Salvage the flushed steps of an unfinished episode into ``demo_<i>.recovered.h5``.

    The recovered episode is complete as far as it goes (``partial = False``) and marked
    ``recovered = True``; it counts as a failure and ends in a timeout (its true outcome is
    unknown), and it validates. Raises `OSError` if HDF5 cannot read the file at all.
    """
    partial_path = Path(partial_path)
    stem = partial_path.name.removesuffix(schema.PARTIAL_SUFFIX).removesuffix(".h5")
    out = partial_path.with_name(f"{stem}.recovered.h5")
    with h5py.File(partial_path, "r") as src:
        (name,) = list(src[schema.DATA_GROUP])
        demo = src[schema.DATA_GROUP][name]
        n = int(demo.attrs["num_samples"])
        if n == 0:
            raise OSError(f"{partial_path}: no flushed steps to recover")
        tmp = out.with_name(out.name + ".tmp")
        with h5py.File(tmp, "w") as dst:
            for k, v in src.attrs.items():
                dst.attrs[k] = v
            g = dst.create_group(f"{schema.DATA_GROUP}/{name}")
            g.attrs.update(dict(demo.attrs))
            g.attrs.update(num_samples=n, partial=False, recovered=True, success=False)
            for key in ("actions", "rewards", "timestamps"):
                g.create_dataset(key, data=demo[key][:n], chunks=True, fletcher32=True)
            for key, ds in demo["obs"].items():
                chunks = (1, *ds.shape[1:]) if ds.ndim == 4 else True  # images: frame chunks
                g.create_dataset(
                    f"obs/{key}",
                    data=ds[:n],
                    chunks=chunks,
                    compression=ds.compression,
                    fletcher32=True,
                )
            end = np.zeros(n, np.uint8)
            end[-1] = 1
            for key, arr in (
                ("terminals", np.zeros(n, np.uint8)),
                ("timeouts", end),
                ("dones", end),
            ):
                g.create_dataset(key, data=arr, chunks=True, fletcher32=True)
            dst[schema.DATA_GROUP].attrs["total"] = n
    os.replace(tmp, out)
    return out


def _write_root_attrs(f: h5py.File, spec: Spec) -> None:
    f.attrs["schema_version"] = schema.SCHEMA_VERSION
    f.attrs["spec"] = spec.to_json()
    f.attrs["created"] = time.time()
    data = f.require_group(schema.DATA_GROUP)
    data.attrs["env_args"] = schema.env_args(spec)
    data.attrs["total"] = 0


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
