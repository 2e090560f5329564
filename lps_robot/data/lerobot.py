"""LeRobot v3 interop without the `lerobot` package: export our episodes, import theirs.

The v3 layout (LeRobotDataset ``codebase_version`` v3.0):

    meta/info.json                   fps, features, paths, totals
    meta/stats.json                  min/max/mean/std/count per feature
    meta/tasks.parquet               task string -> task_index
    meta/episodes/chunk-000/file-000.parquet   one row per episode (lengths, file indices,
                                     frame ranges, video timestamps)
    data/chunk-000/file-000.parquet  one row per frame: action, observation.state, timestamp,
                                     frame_index, episode_index, index, task_index,
                                     next.reward, next.done
    videos/observation.images.<cam>/chunk-000/file-000.mp4   episodes back to back

``observation.state`` is the spec's proprio keys concatenated, ``action`` the recorded action;
each camera becomes ``observation.images.<name>`` (H.264 video, so images round-trip lossily).
Our success label travels as an extra ``success`` column of the episodes table; importing a
dataset without it takes ``--assume-success``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lps_robot.data.reader import DataError, list_episodes, load_episode, read_spec
from lps_robot.data.writer import DatasetWriter
from lps_robot.spec import Spec

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
DEFAULT_TASK = "pick the cube and place it on the target"


def image_key(camera: str) -> str:
    return f"observation.images.{camera}"


def state_names(spec: Spec) -> list[str]:
    """Names of the ``observation.state`` entries: joint names for joint_pos/joint_vel."""
    joints = list(spec.robot.joint_names)
    names: list[str] = []
    for key, dim in zip(spec.obs.proprio_keys, spec.obs.proprio_dims, strict=True):
        if key in ("joint_pos", "joint_vel") and dim == len(joints):
            names += joints if key == "joint_pos" else [f"{j}.vel" for j in joints]
        else:
            names += [f"{key}.{i}" for i in range(dim)]
    return names


def _features(spec: Spec, fps: float) -> dict:
    feats: dict = {
        "action": {
            "dtype": "float32",
            "shape": [spec.action.dim],
            "names": list(spec.robot.joint_names)[: spec.action.dim],
        },
        "observation.state": {
            "dtype": "float32",
            "shape": [sum(spec.obs.proprio_dims)],
            "names": state_names(spec),
        },
    }
    for cam in spec.cameras:
        feats[image_key(cam.name)] = {
            "dtype": "video",
            "shape": [cam.height, cam.width, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": cam.height,
                "video.width": cam.width,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": fps,
                "video.channels": 3,
                "has_audio": False,
            },
        }
    for name, dtype in (
        ("timestamp", "float32"),
        ("frame_index", "int64"),
        ("episode_index", "int64"),
        ("index", "int64"),
        ("task_index", "int64"),
        ("next.reward", "float32"),
        ("next.done", "bool"),
    ):
        feats[name] = {"dtype": dtype, "shape": [1], "names": None}
    return feats


def _stats(values: np.ndarray) -> dict:
    v = values.reshape(len(values), -1).astype(np.float64)
    return {
        "min": v.min(0).tolist(),
        "max": v.max(0).tolist(),
        "mean": v.mean(0).tolist(),
        "std": v.std(0).tolist(),
        "count": [len(v)],
    }


def _image_stats(frames: np.ndarray) -> dict:
    """Per-channel stats in [0, 1], shaped (3, 1, 1) as LeRobot stores them."""
    x = frames.reshape(-1, 3).astype(np.float64) / 255.0
    stat = {k: getattr(x, k)(0).reshape(3, 1, 1).tolist() for k in ("min", "max", "mean", "std")}
    stat["count"] = [len(frames)]
    return stat


def _tasks_table(tasks: list[str]):
    """task_index per task, with the task string as the pandas index (LeRobot reads it with
    pandas and looks tasks up by that index)."""
    import pyarrow as pa

    table = pa.table(
        {"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks)}
    )
    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": "task",
                "field_name": "task",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.0",
    }
    return table.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})


def export_lerobot(dataset: str | Path, out_dir: str | Path, task: str = DEFAULT_TASK) -> dict:
    """Write our episodes as a LeRobot v3 dataset in ``out_dir`` (which must not exist)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lps_robot.data.video import write_video

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: exists and is not empty (LeRobot export needs a new directory)")
    spec = read_spec(dataset)
    refs = list_episodes(dataset)
    if not refs:
        raise DataError(f"{dataset}: no episodes to export")
    fps = float(spec.robot.control_rate_hz)
    features = _features(spec, fps)
    frames: dict[str, list] = {k: [] for k in features if "images" not in k}
    cams = [c.name for c in spec.cameras if c.name in spec.obs.image_keys]
    episodes: list[dict] = []
    image_samples: dict[str, list[np.ndarray]] = {c: [] for c in cams}
    index = 0

    def video_frames(cam: str) -> Iterator[np.ndarray]:
        """Each episode's frames read once, streamed to the encoder; a few kept for stats."""
        for ref in refs:
            clip = load_episode(ref, keys=(cam,))[f"obs/{cam}"]
            image_samples[cam].append(clip[:: max(1, len(clip) // 8)])
            yield from clip

    for i, ref in enumerate(refs):
        ep = load_episode(ref, keys=spec.obs.proprio_keys)
        n = len(ep["actions"])
        state = np.concatenate([ep[f"obs/{k}"] for k in spec.obs.proprio_keys], axis=1)
        done = np.zeros(n, bool)
        done[-1] = True
        frames["action"] += list(ep["actions"].astype(np.float32))
        frames["observation.state"] += list(state.astype(np.float32))
        frames["timestamp"] += (np.arange(n) / fps).astype(np.float32).tolist()
        frames["frame_index"] += list(range(n))
        frames["episode_index"] += [i] * n
        frames["index"] += list(range(index, index + n))
        frames["task_index"] += [0] * n
        frames["next.reward"] += ep["rewards"].astype(np.float32).tolist()
        frames["next.done"] += done.tolist()
        row = {
            "episode_index": i,
            "tasks": [task],
            "length": n,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": index,
            "dataset_to_index": index + n,
            "meta/episodes/chunk_index": 0,
            "meta/episodes/file_index": 0,
            "success": bool(ep["attrs"].get("success", False)),
            "source": str(ref),
        }
        for cam in cams:
            key = image_key(cam)
            row |= {
                f"videos/{key}/chunk_index": 0,
                f"videos/{key}/file_index": 0,
                f"videos/{key}/from_timestamp": index / fps,
                f"videos/{key}/to_timestamp": (index + n) / fps,
            }
        row |= {f"stats/action/{k}": v for k, v in _stats(ep["actions"]).items() if k != "count"}
        episodes.append(row)
        index += n

    (out / "meta").mkdir(parents=True)
    data_file = out / DATA_PATH.format(chunk_index=0, file_index=0)
    data_file.parent.mkdir(parents=True)
    columns = {}
    for name, values in frames.items():
        if name in ("action", "observation.state"):
            columns[name] = pa.array(
                [v.tolist() for v in values], type=pa.list_(pa.float32(), len(values[0]))
            )
        else:
            dtype = features[name]["dtype"]
            columns[name] = pa.array(
                values,
                type={"float32": pa.float32(), "int64": pa.int64(), "bool": pa.bool_()}[dtype],
            )
    pq.write_table(pa.table(columns), data_file)
    for cam in cams:
        path = out / VIDEO_PATH.format(video_key=image_key(cam), chunk_index=0, file_index=0)
        written = write_video(path, video_frames(cam), fps)
        if written != index:
            raise DataError(f"{path}: wrote {written} frames, expected {index}")
    ep_file = out / EPISODES_PATH
    ep_file.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(episodes), ep_file)
    pq.write_table(_tasks_table([task]), out / "meta" / "tasks.parquet")
    stats = {
        "action": _stats(np.stack(frames["action"])),
        "observation.state": _stats(np.stack(frames["observation.state"])),
        **{image_key(c): _image_stats(np.concatenate(image_samples[c])) for c in cams},
        **{
            k: _stats(np.asarray(frames[k], np.float64))
            for k in ("timestamp", "frame_index", "episode_index", "index", "task_index")
        },
    }
    (out / "meta" / "stats.json").write_text(json.dumps(stats, indent=1))
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": spec.robot.name,
        "total_episodes": len(episodes),
        "total_frames": index,
        "total_tasks": 1,
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": fps,
        "splits": {"train": f"0:{len(episodes)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if cams else None,
        "features": features,
    }
    (out / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    return {"episodes": len(episodes), "frames": index, "path": str(out)}


def _read_info(root: Path) -> dict:
    try:
        info = json.loads((root / "meta" / "info.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{root}/meta/info.json: cannot read a LeRobot info file ({e})") from e
    version = str(info.get("codebase_version", ""))
    if not version.startswith("v3"):
        raise DataError(
            f"{root}/meta/info.json: codebase_version {version!r}, expected v3.x (convert older "
            "datasets with LeRobot's own converter first)"
        )
    return info


def _decode_video(path: Path) -> list[np.ndarray]:
    import av

    if not path.is_file():
        raise DataError(f"{path}: video file missing")
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def import_lerobot(
    src: str | Path, spec: Spec, out_dir: str | Path, assume_success: bool = False
) -> list[Path]:
    """Every episode of a LeRobot v3 dataset as one of our episode files.

    ``observation.state`` is split into the spec's proprio keys (its width must be their
    total), ``action`` must have the spec's action size, and every spec camera must be a
    ``observation.images.<name>`` video of the spec's resolution. The success label comes
    from the episodes table's ``success`` column; LeRobot datasets without one need
    ``assume_success`` (every episode then counts as a success)."""
    import pyarrow.parquet as pq

    root = Path(src)
    info = _read_info(root)
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
        f = feats.get(image_key(cam.name))
        if f is None or f.get("dtype") != "video":
            raise DataError(
                f"{root}: no video feature '{image_key(cam.name)}' for camera {cam.name}"
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
            vkey = image_key(cam.name)
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
