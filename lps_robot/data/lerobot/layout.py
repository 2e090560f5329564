"""The LeRobot v3 layout: paths, feature names and the info file (see the package doc)."""

from __future__ import annotations

import json
from pathlib import Path

from lps_robot.data.reader import DataError
from lps_robot.spec import Spec

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"


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


def feature_table(spec: Spec, fps: float) -> dict:
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


def read_info(root: Path) -> dict:
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
