"""Our episodes written as a LeRobot v3 dataset (parquet frames, H.264 videos, metadata)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lps_robot.data.lerobot.layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_PATH,
    VIDEO_PATH,
    feature_table,
    image_key,
)
from lps_robot.data.reader import DataError, list_episodes, load_episode, read_spec
from lps_robot.data.schema import DEFAULT_TASK


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
    features = feature_table(spec, fps)
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
