"""Shared fixtures: a small spec and synthetic episode datasets written with the real writer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lps_robot.data.writer import DatasetWriter
from lps_robot.spec import ActionSpec, CameraSpec, ObsSpec, PolicySpec, RobotSpec, Spec

# Offscreen rendering and loopback-only DDS, also when pytest runs outside `make test`.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

# Small networks: one intra-op thread is as fast and never thrashes when the machine is busy
# (node subprocesses, a second test run); spawned processes inherit this too.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

JOINTS = ("j0", "j1", "j2")


def small_spec(chunk_length: int = 3, with_image: bool = True, rate_hz: float = 10.0) -> Spec:
    lo, hi = (-1.0, -2.0, 0.0), (1.0, 2.0, 0.5)
    cams = (CameraSpec("front", "/camera/camera/color/image_raw", 32, 24),) if with_image else ()
    return Spec(
        robot=RobotSpec("test_arm", JOINTS, lo, hi, (1.0, 1.0, 0.5), rate_hz),
        cameras=cams,
        obs=ObsSpec(("front",) if with_image else (), (16, 16), None, ("joint_pos",), (3,)),
        action=ActionSpec("joint_position", 3, lo, hi),
        policy=PolicySpec(chunk_length, chunk_length),
    )


def write_episodes(
    root: Path, spec: Spec, lengths: list[int], success: list[bool], seed: int = 0
) -> list[dict[str, np.ndarray]]:
    """Write episodes with the real writer; return what was written, for comparison."""
    rng = np.random.default_rng(seed)
    writer = DatasetWriter(root, spec)
    written = []
    for n, ok in zip(lengths, success, strict=True):
        ep = writer.begin_episode()
        rec: dict[str, list] = {"actions": [], "joint_pos": [], "front": [], "timestamps": []}
        for t in range(n):
            obs = {"joint_pos": rng.uniform(-0.5, 0.5, 3).astype(np.float32)}
            if spec.obs.image_keys:
                obs["front"] = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            action = rng.uniform((-0.5, -0.5, 0.0), (0.5, 0.5, 0.5)).astype(np.float32)
            ts = 100.0 + t / spec.robot.control_rate_hz
            ep.append(obs, action, timestamp=ts)
            rec["actions"].append(action)
            rec["joint_pos"].append(obs["joint_pos"])
            rec["front"].append(obs.get("front"))
            rec["timestamps"].append(ts)
        ep.finish(success=ok)
        written.append({k: np.asarray(v) for k, v in rec.items() if v[0] is not None})
    return written


@pytest.fixture
def spec() -> Spec:
    return small_spec()
