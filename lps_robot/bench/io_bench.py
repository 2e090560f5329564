"""Recorder write throughput: a 30 Hz stream of 640x480 RGB + 16 joint values into HDF5.

Frames are synthetic but camera-like (a textured scene with moving objects and sensor noise),
so compression sees realistic content; pure noise would be incompressible and unrealistic.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from lps_robot.data.writer import DatasetWriter
from lps_robot.spec import ActionSpec, CameraSpec, ObsSpec, RobotSpec, Spec


def stream_spec(
    n_joints: int = 16, width: int = 640, height: int = 480, rate: float = 30.0
) -> Spec:
    names = tuple(f"j{i}" for i in range(n_joints))
    lo, hi = (-3.0,) * n_joints, (3.0,) * n_joints
    return Spec(
        robot=RobotSpec("bench", names, lo, hi, (1.0,) * n_joints, rate),
        cameras=(CameraSpec("front", "/camera/camera/color/image_raw", width, height),),
        obs=ObsSpec(("front",), (64, 64), None, ("joint_pos",), (n_joints,)),
        action=ActionSpec("joint_position", n_joints, lo, hi),
    )


def synthetic_frames(n: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """Camera-like frames: gradient background, a moving box, and +-4 sensor noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack(
        [xx * 255 // width, yy * 255 // height, (xx + yy) * 127 // (width + height)], -1
    )
    frames = []
    for i in range(n):
        img = base.astype(np.int16)
        x0 = (40 + 7 * i) % (width - 80)
        img[200:280, x0 : x0 + 80] = (200, 30, 30)
        img += rng.integers(-4, 5, img.shape, dtype=np.int16)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def run(seconds: float = 20.0, rate: float = 30.0, compression: str | None = None) -> dict:
    spec = stream_spec(rate=rate)
    steps = int(seconds * rate)
    frames = synthetic_frames(32, 640, 480)
    joints = np.zeros(16, np.float32)
    raw_bytes = steps * (640 * 480 * 3 + 16 * 4 * 2 + 16)
    with tempfile.TemporaryDirectory() as tmp:
        writer = DatasetWriter(Path(tmp), spec, compression=compression)
        ep = writer.begin_episode()
        t0 = time.perf_counter()
        for i in range(steps):
            joints[:] = np.sin(0.01 * i + np.arange(16))
            ep.append(
                {"front": frames[i % len(frames)], "joint_pos": joints}, joints, timestamp=i / rate
            )
        path = ep.finish(success=True)
        wall = time.perf_counter() - t0
        size = path.stat().st_size
    return {
        "stream": f"{rate:g} Hz 640x480 RGB + 16 joints",
        "compression": compression or "none",
        "stream_seconds": seconds,
        "wall_s": round(wall, 3),
        "realtime_factor": round(seconds / wall, 2),
        "raw_MB_per_s_written": round(raw_bytes / wall / 1e6, 1),
        "file_MB_per_min": round(size / 1e6 * 60 / seconds, 1),
        "compression_ratio": round(raw_bytes / size, 2),
    }
