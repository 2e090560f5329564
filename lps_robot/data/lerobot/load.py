"""A LeRobot v3 dataset read into our episode files."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from lps_robot.data.lerobot.layout import (
    image_key,
    read_info,
)
from lps_robot.data.reader import DataError
from lps_robot.data.writer import DatasetWriter
from lps_robot.spec import Spec


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


def import_lerobot(
    src: str | Path,
    spec: Spec,
    out_dir: str | Path,
    assume_success: bool = False,
    key_map: Mapping[str, str] | None = None,
    resample: bool = False,
) -> list[Path]:
    """Every episode of a LeRobot v3 dataset as one of our episode files, streamed: one data
    file's table and one frame per camera at a time in memory.

    ``observation.state`` is split into the spec's proprio keys (its width must be their
    total), ``action`` must have the spec's action size, and every spec camera must be an
    ``observation.images.<name>`` feature (``video``, or ``image``: PNG/JPEG cells in the
    data files) of the spec's resolution. The success label comes from the episodes table's
    ``success`` column; LeRobot datasets without one need ``assume_success`` (every episode
    then counts as a success). ``key_map``: a camera's name in the dataset -> the spec's.
    A dataset fps other than the spec's rate is refused unless ``resample``: each tick then
    takes the latest frame at or before it (rewards of the frames it covers summed)."""
    import pyarrow.parquet as pq

    source = {v: k for k, v in (key_map or {}).items()}  # spec camera -> the dataset's
    root = Path(src)
    info = read_info(root)
    feats = info.get("features", {})
    fps, rate = float(info.get("fps", 0)), spec.robot.control_rate_hz
    if fps <= 0 or (abs(fps - rate) > 1e-6 and not resample):
        raise DataError(
            f"{root}/meta/info.json: fps {fps}, the spec's control rate is {rate} Hz "
            "(--resample takes the latest frame at or before each tick)"
        )
    width = sum(spec.obs.proprio_dims)
    checks = {"observation.state": [width], "action": [spec.action.dim]}
    for name, shape in checks.items():
        got = feats.get(name, {}).get("shape")
        if got != shape:
            raise DataError(
                f"{root}/meta/info.json: features.{name}.shape {got}, expected {shape}"
            )
    kinds = {}
    for cam in spec.cameras:
        key = image_key(source.get(cam.name, cam.name))
        f = feats.get(key)
        if f is None or f.get("dtype") not in ("video", "image"):
            raise DataError(f"{root}: no video or image feature '{key}' for camera {cam.name}")
        kinds[cam.name] = (key, f["dtype"])
    ep_files = sorted((root / "meta" / "episodes").rglob("*.parquet"))
    if not ep_files:
        raise DataError(f"{root}/meta/episodes: no episodes table")
    episodes = [r for f in ep_files for r in pq.read_table(f).to_pylist()]
    episodes.sort(key=lambda r: r["episode_index"])
    if "success" not in episodes[0] and not assume_success:
        raise DataError(
            f"{root}: the episodes carry no success label; pass --assume-success to import "
            "them all as successes"
        )
    loaded: tuple[tuple[int, int], dict, dict[int, list[int]]] | None = None
    writer = DatasetWriter(out_dir, spec)
    written = []
    splits = np.cumsum(spec.obs.proprio_dims)[:-1]
    for row in episodes:
        key = (row["data/chunk_index"], row["data/file_index"])
        if loaded is None or loaded[0] != key:  # one data file in memory at a time
            path = root / info["data_path"].format(chunk_index=key[0], file_index=key[1])
            table = pq.read_table(path).to_pydict()
            by_episode: dict[int, list[int]] = {}
            for i, e in enumerate(table["episode_index"]):
                by_episode.setdefault(e, []).append(i)
            loaded = (key, table, by_episode)
        _, table, by_episode = loaded
        rows = by_episode.get(row["episode_index"], [])
        where = f"{root}: episode {row['episode_index']}"
        picks = _picks(len(rows), fps, rate)
        state = np.asarray([table["observation.state"][rows[i]] for i in picks], np.float32)
        actions = np.asarray([table["action"][rows[i]] for i in picks], np.float32)
        raw = [table["next.reward"][i] for i in rows] if "next.reward" in table else None
        rewards = np.zeros(len(picks), np.float32)
        if raw is not None:  # each tick's reward: those of the frames it stands for
            bounds = [*picks[1:], len(rows)]
            rewards = np.asarray([sum(raw[a:b]) for a, b in zip(picks, bounds, strict=True)])
        frames = {}
        for cam in spec.cameras:
            vkey, dtype = kinds[cam.name]
            if dtype == "image":
                frames[cam.name] = _png_frames([table[vkey][i] for i in rows], picks)
                continue
            ck, fk = row[f"videos/{vkey}/chunk_index"], row[f"videos/{vkey}/file_index"]
            path = root / info["video_path"].format(video_key=vkey, chunk_index=ck, file_index=fk)
            start = float(row[f"videos/{vkey}/from_timestamp"])
            frames[cam.name] = _video_frames(path, start, picks, fps)
        proprio = dict(zip(spec.obs.proprio_keys, np.split(state, splits, axis=1), strict=True))
        episode = writer.begin_episode()
        try:
            for t in range(len(picks)):
                images = {}
                for cam in spec.cameras:
                    img = next(frames[cam.name], None)
                    if img is None or img.shape != (cam.height, cam.width, 3):
                        raise DataError(
                            f"{where}: camera {cam.name} frame {t} of {len(picks)} is "
                            f"{None if img is None else img.shape}, expected "
                            f"{(cam.height, cam.width, 3)}"
                        )
                    images[cam.name] = img
                obs = {k: v[t] for k, v in proprio.items()} | images
                episode.append(obs, actions[t], timestamp=t / rate, reward=float(rewards[t]))
        except DataError:
            episode.abort()
            raise
        success = bool(row.get("success", True)) if "success" in row else assume_success
        written.append(
            episode.finish(
                success=success,
                sparse_rewards=False,
                notes=f"imported from LeRobot {root} episode {row['episode_index']}",
            )
        )
    return written
