"""A spec proposed from a foreign dataset: `lps spec init --from-dataset`.

A robomimic file or a LeRobot v3 dataset says which observations it holds (images by their
shape, vectors by their width), the action's width and, for LeRobot, the joint names and the
frame rate. What it cannot say is estimated from the data and marked for a person to check:
position limits are the range the data covers plus 10 % of it on either side, velocity limits
1.5x the fastest joint motion in the data. ``key_map`` renames the dataset's keys in the spec
(``agentview_image`` -> ``front``); `lps data import` takes the same mapping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from lps_robot.data import schema
from lps_robot.data.lerobot.layout import read_info
from lps_robot.data.reader import DataError
from lps_robot.spec_draft import draft_camera, draft_spec

IMAGE_PREFIX = "observation.images."
MARGIN = 0.1  # of the observed range, on either side
SPEED_FACTOR = 1.5  # times the fastest observed joint speed
MAX_DEMOS = 50  # demos read for the ranges


def _ranges(q: np.ndarray, rate: float, dt_index: np.ndarray | None = None) -> dict:
    """Limits estimated from joint positions ``q`` (T, n), rows ``1/rate`` apart within an
    episode (``dt_index``: episode id per row, so no difference spans two episodes)."""
    lo, hi = q.min(0), q.max(0)
    span = np.maximum(hi - lo, 1e-3)
    dq = np.abs(np.diff(q, axis=0))
    if dt_index is not None:
        dq = dq[np.diff(dt_index) == 0]
    speed = dq.max(0) * rate if len(dq) else np.zeros(q.shape[1])
    return {
        "position_lower": [round(float(v), 5) for v in lo - MARGIN * span],
        "position_upper": [round(float(v), 5) for v in hi + MARGIN * span],
        "velocity_limits": [round(float(v), 5) for v in np.maximum(SPEED_FACTOR * speed, 1e-3)],
    }


def _assemble(
    name: str,
    rate: float,
    joints: list[str],
    limits: dict,
    cameras: list[tuple[str, int, int]],
    proprio: list[tuple[str, int]],
    action: tuple[str, np.ndarray, np.ndarray],
) -> dict:
    kind, alow, ahigh = action
    span = np.maximum(ahigh - alow, 1e-6)
    robot = {"name": name, "joint_names": joints, **limits, "control_rate_hz": rate}
    act = {
        "type": kind,
        "dim": len(alow),
        "low": [round(float(v), 5) for v in alow - MARGIN * span],
        "high": [round(float(v), 5) for v in ahigh + MARGIN * span],
    }
    cams = [draft_camera(c, w, h) for c, h, w in cameras]
    return draft_spec(robot, cams, 64, proprio, act)


def _joint_key(proprio: list[tuple[str, int]], source: Mapping[str, str]) -> str | None:
    """The proprio key that holds joint positions (its source name says so)."""
    for key, _ in proprio:
        src = source.get(key, key)
        if src.endswith("joint_pos") or src.endswith("qpos") or src == "joint_pos":
            return key
    return None


def from_robomimic(path: Path, key_map: Mapping[str, str], rate: float | None) -> dict:
    with h5py.File(path, "r") as f:
        data = f.get(schema.DATA_GROUP)
        if not isinstance(data, h5py.Group) or not schema.demo_names(data):
            raise DataError(f"{path}: no '/{schema.DATA_GROUP}/demo_*' groups (not robomimic)")
        names = schema.demo_names(data)[:MAX_DEMOS]
        first = data[names[0]]
        if "obs" not in first or "actions" not in first:
            raise DataError(f"{path}:/{schema.DATA_GROUP}/{names[0]}: needs obs/ and actions")
        cameras, proprio = [], []
        for src in sorted(first["obs"]):
            ds = first["obs"][src]
            key = key_map.get(src, src)
            if ds.ndim == 4 and ds.shape[-1] == 3 and ds.dtype == np.uint8:
                cameras.append((key, int(ds.shape[1]), int(ds.shape[2])))
            elif ds.ndim == 2:
                proprio.append((key, int(ds.shape[1])))
        env = json.loads(schema.attr_str(data.attrs.get("env_args", "{}")) or "{}")
        kwargs = env.get("env_kwargs", {})
        if rate is None:
            rate = float(kwargs.get("control_freq", 20.0))
        # robosuite's default controller (OSC_POSE) commands end-effector deltas
        controller = str(kwargs.get("controller_configs", {}).get("type", "OSC_POSE"))
        source = {v: k for k, v in key_map.items()}
        actions = np.concatenate([data[n]["actions"][()] for n in names]).astype(np.float64)
        jkey = _joint_key(proprio, source)
        if jkey is None:
            raise DataError(
                f"{path}: no joint-position observation (a key ending in joint_pos or qpos) "
                f"among {[k for k, _ in proprio]}: the robot's joints cannot be proposed"
            )
        q = [data[n]["obs"][source.get(jkey, jkey)][()] for n in names]
        episode = np.concatenate([np.full(len(x), i) for i, x in enumerate(q)])
        q = np.concatenate(q).astype(np.float64)
    joints = [f"joint_{i}" for i in range(q.shape[1])]
    joint_action = controller == "JOINT_POSITION" and actions.shape[1] == q.shape[1]
    kind = "joint_position" if joint_action else "ee_delta"
    action = (kind, actions.min(0), actions.max(0))
    return _assemble(path.stem, rate, joints, _ranges(q, rate, episode), cameras, proprio, action)


def from_lerobot(root: Path, key_map: Mapping[str, str], rate: float | None) -> dict:
    import pyarrow.parquet as pq

    info = read_info(root)
    feats = info.get("features", {})
    cameras = [
        (key_map.get(k[len(IMAGE_PREFIX) :], k[len(IMAGE_PREFIX) :]), *f["shape"][:2])
        for k, f in feats.items()
        if k.startswith(IMAGE_PREFIX) and f.get("dtype") in ("video", "image")
    ]
    state, act = feats.get("observation.state"), feats.get("action")
    if state is None or act is None:
        raise DataError(f"{root}/meta/info.json: needs observation.state and action features")
    names = list(state.get("names") or [])
    width = int(state["shape"][0])
    vel = [n for n in names if n.endswith(".vel")]
    pos = [n for n in names if not n.endswith(".vel")]
    if names and vel and [f"{n}.vel" for n in pos] == vel and names == pos + vel:
        joints, proprio = pos, [("joint_pos", len(pos)), ("joint_vel", len(vel))]
    else:
        joints = pos if len(pos) == width else [f"joint_{i}" for i in range(width)]
        proprio = [("joint_pos", width)]
    fps = float(rate or info.get("fps") or 0)
    if fps <= 0:
        raise DataError(f"{root}/meta/info.json: no fps; pass --rate")
    files = sorted((root / "data").rglob("*.parquet"))
    if not files:
        raise DataError(f"{root}/data: no parquet files")
    cols = ["observation.state", "action", "episode_index"]
    table = {k: [] for k in cols}
    for f in files:
        part = pq.read_table(f, columns=cols).to_pydict()
        for k in cols:
            table[k] += part[k]
    s = np.asarray(table["observation.state"], np.float64)
    a = np.asarray(table["action"], np.float64)
    q = s[:, : len(joints)]
    anames = list(act.get("names") or [])
    kind = "joint_position" if anames == joints or a.shape[1] == len(joints) else "ee_delta"
    limits = _ranges(q, fps, np.asarray(table["episode_index"]))
    name = str(info.get("robot_type") or root.name)
    return _assemble(name, fps, joints, limits, cameras, proprio, (kind, a.min(0), a.max(0)))


def propose_spec(
    path: str | Path, key_map: Mapping[str, str] | None = None, rate: float | None = None
) -> tuple[dict, str]:
    """(the proposed spec as plain data, the dataset's format)."""
    path = Path(path)
    key_map = dict(key_map or {})
    if path.is_dir() and (path / "meta" / "info.json").exists():
        return from_lerobot(path, key_map, rate), "lerobot"
    if path.is_file() and h5py.is_hdf5(path):
        return from_robomimic(path, key_map, rate), "robomimic"
    raise DataError(f"{path}: neither a robomimic HDF5 file nor a LeRobot v3 dataset directory")


ESTIMATED = (
    "# Estimated from the data (check them against the robot before deploying): "
    "robot.position_lower/upper (the data's range + 10 %), robot.velocity_limits (1.5x the "
    "fastest joint motion in the data), action.low/high."
)
