"""A LeRobot v3 dataset read into our episode files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from lps_robot.data.lerobot.layout import (
    image_key,
    read_info,
)
from lps_robot.data.reader import DataError
from lps_robot.data.writer import DatasetWriter
from lps_robot.spec import Spec


def _decode_video(path: Path) -> list[np.ndarray]:
    import av

    if not path.is_file():
        raise DataError(f"{path}: video file missing")
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def import_lerobot(
    src: str | Path,
    spec: Spec,
    out_dir: str | Path,
    assume_success: bool = False,
    key_map: Mapping[str, str] | None = None,
) -> list[Path]:
    """Every episode of a LeRobot v3 dataset as one of our episode files.

    ``observation.state`` is split into the spec's proprio keys (its width must be their
    total), ``action`` must have the spec's action size, and every spec camera must be a
    ``observation.images.<name>`` video of the spec's resolution. The success label comes
    from the episodes table's ``success`` column; LeRobot datasets without one need
    ``assume_success`` (every episode then counts as a success). ``key_map``: a camera's
    name in the dataset -> the spec's, for cameras named differently."""
    source = {v: k for k, v in (key_map or {}).items()}  # spec camera -> the dataset's
    import pyarrow.parquet as pq

    root = Path(src)
    info = read_info(root)
    feats = info.get("features", {})
    fps = float(info.get("fps", 0))
    if abs(fps - spec.robot.control_rate_hz) > 1e-6:
        raise DataError(
            f"{root}/meta/info.json: fps {fps}, the spec's control rate is "
            f"{spec.robot.control_rate_hz} Hz"
        )
    width = sum(spec.obs.proprio_dims)
    checks = {"observation.state": [width], "action": [spec.action.dim]}
    for name, shape in checks.items():
        got = feats.get(name, {}).get("shape")
        if got != shape:
            raise DataError(
                f"{root}/meta/info.json: features.{name}.shape {got}, expected {shape}"
            )
    for cam in spec.cameras:
        f = feats.get(image_key(source.get(cam.name, cam.name)))
        if f is None or f.get("dtype") != "video":
            raise DataError(
                f"{root}: no video feature '{image_key(source.get(cam.name, cam.name))}' for "
                f"camera {cam.name}"
            )
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
    data_cache: dict[tuple[int, int], tuple[dict, dict[int, list[int]]]] = {}
    video_cache: dict[tuple[str, int, int], list[np.ndarray]] = {}
    writer = DatasetWriter(out_dir, spec)
    written = []
    for row in episodes:
        key = (row["data/chunk_index"], row["data/file_index"])
        if key not in data_cache:
            path = root / info["data_path"].format(chunk_index=key[0], file_index=key[1])
            table = pq.read_table(path).to_pydict()
            by_episode: dict[int, list[int]] = {}
            for i, e in enumerate(table["episode_index"]):
                by_episode.setdefault(e, []).append(i)
            data_cache[key] = (table, by_episode)
        table, by_episode = data_cache[key]
        rows = by_episode.get(row["episode_index"], [])
        state = np.asarray([table["observation.state"][i] for i in rows], np.float32)
        actions = np.asarray([table["action"][i] for i in rows], np.float32)
        rewards = (
            np.asarray([table["next.reward"][i] for i in rows], np.float32)
            if "next.reward" in table
            else np.zeros(len(rows), np.float32)
        )
        images = {}
        for cam in spec.cameras:
            vkey = image_key(source.get(cam.name, cam.name))
            ck, fk = row[f"videos/{vkey}/chunk_index"], row[f"videos/{vkey}/file_index"]
            if (vkey, ck, fk) not in video_cache:
                path = root / info["video_path"].format(
                    video_key=vkey, chunk_index=ck, file_index=fk
                )
                video_cache[(vkey, ck, fk)] = _decode_video(path)
            first = round(row[f"videos/{vkey}/from_timestamp"] * fps)
            clip = video_cache[(vkey, ck, fk)][first : first + len(rows)]
            if len(clip) != len(rows) or clip[0].shape != (cam.height, cam.width, 3):
                raise DataError(
                    f"{root}: episode {row['episode_index']}: camera {cam.name} has "
                    f"{len(clip)} frames of {clip[0].shape if clip else None}, expected "
                    f"{len(rows)} of {(cam.height, cam.width, 3)}"
                )
            images[cam.name] = clip
        splits = np.cumsum(spec.obs.proprio_dims)[:-1]
        proprio = dict(zip(spec.obs.proprio_keys, np.split(state, splits, axis=1), strict=True))
        episode = writer.begin_episode()
        for t in range(len(rows)):
            obs = {k: v[t] for k, v in proprio.items()} | {k: v[t] for k, v in images.items()}
            episode.append(obs, actions[t], timestamp=t / fps, reward=float(rewards[t]))
        success = bool(row.get("success", True)) if "success" in row else assume_success
        written.append(
            episode.finish(
                success=success,
                sparse_rewards=False,
                notes=f"imported from LeRobot {root} episode {row['episode_index']}",
            )
        )
    return written
