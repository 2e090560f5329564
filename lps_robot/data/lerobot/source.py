"""A LeRobot v3 dataset read in place, episode by episode, as our episode files read.

`LeRobotSource` checks the dataset against a spec once (rate, state width, action size,
cameras, success labels) and gives each episode as `load_episode` gives one of ours: the
spec's proprio keys split from ``observation.state``, the actions, the rewards of the frames
each tick stands for, terminal/timeout from the success label, timestamps at the spec's rate,
and the frames of the cameras asked for, decoded from the dataset's videos (or PNG/JPEG
cells). Importing (`import_lerobot`) and training straight from the dataset read it through
this one class; training decodes each video once, into the frame cache.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lps_robot.data.episodes import Episodes
from lps_robot.data.lerobot.layout import image_key, read_info
from lps_robot.data.reader import DataError
from lps_robot.spec import Spec


def is_lerobot(path: str | Path) -> bool:
    """A directory with a LeRobot ``meta/info.json``."""
    return (Path(path) / "meta" / "info.json").is_file()


def lerobot_episodes(root: str | Path, spec: Spec, assume_success: bool = False) -> Episodes:
    """The episodes of the LeRobot dataset at ``root`` read under ``spec``, for training (its
    fitted stats kept in ``meta/lps_stats.json``)."""
    source = LeRobotSource(root, spec, assume_success=assume_success)
    sidecar = source.root / "meta" / "lps_stats.json"
    return Episodes(source.root, spec, source.refs(), source.files, sidecar, False)


@dataclass(frozen=True)
class LeRobotRef:
    """One episode of a LeRobot dataset (its row in the episodes table)."""

    source: LeRobotSource = field(compare=False, repr=False)
    index: int  # position in source.episodes

    def __str__(self) -> str:
        return f"{self.source.root}: episode {self.source.episodes[self.index]['episode_index']}"

    def load(self, keys: tuple[str, ...] | None = None, steps: bool = True) -> dict[str, Any]:
        return self.source.load(self.index, keys, steps)


class LeRobotSource:
    """The episodes of the LeRobot v3 dataset at ``root`` under ``spec`` (see module doc).

    ``key_map``: a camera's name in the dataset -> the spec's; ``resample``: a dataset fps
    other than the spec's rate takes the latest frame at or before each tick (else refused);
    ``assume_success``: episodes without a ``success`` column count as successes."""

    def __init__(
        self,
        root: str | Path,
        spec: Spec,
        assume_success: bool = False,
        key_map: Mapping[str, str] | None = None,
        resample: bool = False,
    ) -> None:
        import pyarrow.parquet as pq

        self.root, self.spec = Path(root), spec
        self.info = info = read_info(self.root)
        feats = info.get("features", {})
        self.fps, rate = float(info.get("fps", 0)), spec.robot.control_rate_hz
        if self.fps <= 0 or (abs(self.fps - rate) > 1e-6 and not resample):
            raise DataError(
                f"{self.root}/meta/info.json: fps {self.fps}, the spec's control rate is {rate} "
                "Hz (--resample takes the latest frame at or before each tick)"
            )
        checks = {"observation.state": [sum(spec.obs.proprio_dims)], "action": [spec.action.dim]}
        for name, shape in checks.items():
            got = feats.get(name, {}).get("shape")
            if got != shape:
                raise DataError(
                    f"{self.root}/meta/info.json: features.{name}.shape {got}, expected {shape}"
                )
        source = {v: k for k, v in (key_map or {}).items()}  # spec camera -> the dataset's
        self.kinds: dict[str, tuple[str, str]] = {}
        for cam in spec.cameras:
            key = image_key(source.get(cam.name, cam.name))
            f = feats.get(key)
            if f is None or f.get("dtype") not in ("video", "image"):
                raise DataError(
                    f"{self.root}: no video or image feature '{key}' for camera {cam.name}"
                )
            self.kinds[cam.name] = (key, f["dtype"])
        ep_files = sorted((self.root / "meta" / "episodes").rglob("*.parquet"))
        if not ep_files:
            raise DataError(f"{self.root}/meta/episodes: no episodes table")
        episodes = [r for f in ep_files for r in pq.read_table(f).to_pylist()]
        self.episodes = sorted(episodes, key=lambda r: r["episode_index"])
        if "success" not in self.episodes[0] and not assume_success:
            raise DataError(
                f"{self.root}: the episodes carry no success label; pass --assume-success to "
                "import them all as successes"
            )
        self.assume_success = assume_success
        self.cameras = {c.name: c for c in spec.cameras}
        self._table: tuple[tuple[int, int], dict, dict[int, list[int]]] | None = None

    def refs(self) -> list[LeRobotRef]:
        return [LeRobotRef(self, i) for i in range(len(self.episodes))]

    def files(self) -> list[Path]:
        """Every file the episodes are read from (what identifies the dataset's contents)."""
        kinds = ("meta/info.json", "meta/episodes/**/*.parquet", "data/**/*.parquet")
        found = [p for k in (*kinds, "videos/**/*.mp4") for p in sorted(self.root.glob(k))]
        return [p for p in found if p.is_file()]

    def success(self, i: int) -> bool:
        row = self.episodes[i]
        return bool(row["success"]) if "success" in row else self.assume_success

    def _episode(self, i: int) -> tuple[dict, list[int], np.ndarray]:
        """The data table holding episode ``i`` (one data file in memory at a time), the
        episode's rows in it, and the row each tick takes (`_picks`)."""
        import pyarrow.parquet as pq

        row = self.episodes[i]
        key = (row["data/chunk_index"], row["data/file_index"])
        if self._table is None or self._table[0] != key:
            path = self.root / self.info["data_path"].format(chunk_index=key[0], file_index=key[1])
            try:
                table = pq.read_table(path).to_pydict()
            except OSError as e:
                raise DataError(f"{path}: cannot read the data file ({e})") from e
            by_episode: dict[int, list[int]] = {}
            for n, e in enumerate(table["episode_index"]):
                by_episode.setdefault(e, []).append(n)
            self._table = (key, table, by_episode)
        _, table, by_episode = self._table
        rows = by_episode.get(row["episode_index"], [])
        return table, rows, _picks(len(rows), self.fps, self.spec.robot.control_rate_hz)

    def steps(self, i: int) -> dict[str, np.ndarray]:
        """Episode ``i``'s per-tick arrays: ``obs/<proprio key>``, actions, rewards, dones,
        terminals, timeouts, timestamps (as our writer stores them)."""
        table, rows, picks = self._episode(i)
        if len(picks) == 0:
            raise DataError(f"{LeRobotRef(self, i)}: no frames in the data files")
        state = np.asarray([table["observation.state"][rows[t]] for t in picks], np.float32)
        out = {"actions": np.asarray([table["action"][rows[t]] for t in picks], np.float32)}
        splits = np.cumsum(self.spec.obs.proprio_dims)[:-1]
        for key, part in zip(
            self.spec.obs.proprio_keys, np.split(state, splits, axis=1), strict=True
        ):
            out[f"obs/{key}"] = part
        out["rewards"] = np.zeros(len(picks), np.float32)
        if "next.reward" in table:  # each tick's reward: those of the frames it stands for
            raw = [table["next.reward"][r] for r in rows]
            bounds = [*picks[1:], len(rows)]
            sums = [sum(raw[a:b]) for a, b in zip(picks, bounds, strict=True)]
            out["rewards"] = np.asarray(sums, np.float32)
        ends = {k: np.zeros(len(picks), np.uint8) for k in ("terminals", "timeouts")}
        ends["terminals" if self.success(i) else "timeouts"][-1] = 1
        out |= ends | {"dones": ends["terminals"] | ends["timeouts"]}
        out["timestamps"] = np.arange(len(picks)) / self.spec.robot.control_rate_hz
        return out

    def frames(self, i: int, camera: str) -> Iterator[np.ndarray]:
        """Episode ``i``'s frames of ``camera`` (a spec camera), one tick at a time."""
        vkey, dtype = self.kinds[camera]
        table, rows, picks = self._episode(i)
        if dtype == "image":
            return _png_frames([table[vkey][r] for r in rows], picks)
        row = self.episodes[i]
        ck, fk = row[f"videos/{vkey}/chunk_index"], row[f"videos/{vkey}/file_index"]
        path = self.root / self.info["video_path"].format(
            video_key=vkey, chunk_index=ck, file_index=fk
        )
        start = float(row[f"videos/{vkey}/from_timestamp"])
        return _video_frames(path, start, picks, self.fps)

    def load(self, i: int, keys: tuple[str, ...] | None = None, steps: bool = True) -> dict:
        """Episode ``i`` as `load_episode` gives one of ours (``keys``: only these
        observations; ``steps=False``: the frames without the per-step arrays)."""
        proprio = [k for k in self.spec.obs.proprio_keys if keys is None or k in keys]
        arrays = self.steps(i) if steps or proprio else {}  # frames alone: no per-step arrays
        n = len(self._episode(i)[2])
        out: dict[str, Any] = {"attrs": {"success": self.success(i), "num_samples": n}}
        for k, v in arrays.items():
            wanted = keys is None or k[4:] in keys if k.startswith("obs/") else steps
            if wanted:
                out[k] = v
        for cam in self.spec.cameras:
            if keys is None or cam.name in keys:
                out[f"obs/{cam.name}"] = self.clip(i, cam.name, n)
        return out

    def clip(self, i: int, camera: str, n: int) -> np.ndarray:
        """(n, H, W, 3) frames of ``camera`` in episode ``i``, each checked for its shape."""
        cam = self.cameras[camera]
        out = np.empty((n, cam.height, cam.width, 3), np.uint8)
        frames = self.frames(i, camera)
        for t in range(n):
            out[t] = self.checked(i, cam.name, t, n, next(frames, None))
        return out

    def checked(self, i: int, camera: str, t: int, n: int, img: np.ndarray | None) -> np.ndarray:
        cam = self.cameras[camera]
        if img is None or img.shape != (cam.height, cam.width, 3):
            raise DataError(
                f"{LeRobotRef(self, i)}: camera {camera} frame {t} of {n} is "
                f"{None if img is None else img.shape}, expected {(cam.height, cam.width, 3)}"
            )
        return img


def _video_frames(
    path: Path, start_s: float, picks: Sequence[int], fps: float
) -> Iterator[np.ndarray]:
    """The frames at ``picks`` (increasing indices counted from ``start_s``), decoded one at a
    time after a seek to the keyframe before ``start_s``: memory holds the decoder's few
    frames, whatever the file's length."""
    import av

    if not path.is_file():
        raise DataError(f"{path}: video file missing")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        container.seek(int(start_s / tb), stream=stream, backward=True, any_frame=False)
        want = iter(picks)
        nxt, i = next(want, None), 0
        for frame in container.decode(stream):
            if nxt is None:
                return
            if frame.pts is not None and frame.pts * tb < start_s - 0.5 / fps:
                continue  # before the episode's first frame
            if i == nxt:
                yield frame.to_ndarray(format="rgb24")
                nxt = next(want, None)
            i += 1


def _png_frames(cells: Sequence, picks: Sequence[int]) -> Iterator[np.ndarray]:
    """``dtype: image`` cells ({'bytes', 'path'}) at ``picks``, decoded one at a time."""
    import cv2

    for i in picks:
        raw = np.frombuffer(cells[i]["bytes"], np.uint8)
        img = cv2.imdecode(raw, cv2.IMREAD_COLOR)
        if img is None:
            raise DataError(f"image cell {i}: not a decodable image")
        yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _picks(n: int, fps: float, rate: float) -> np.ndarray:
    """Source frame per tick at ``rate``: the latest frame at or before each tick (as the
    recorder samples its streams)."""
    if abs(fps - rate) < 1e-6:
        return np.arange(n)
    ticks = int(np.floor((n - 1) / fps * rate + 1e-9)) + 1
    return np.minimum(np.floor(np.arange(ticks) * fps / rate + 1e-9).astype(int), n - 1)
