"""Cameras behind one tiny interface (connect / read / disconnect, context manager).

SDKs are imported lazily inside `make_camera`, so nothing here needs pyrealsense2 or a
camera unless one is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Frame:
    color: np.ndarray  # (H, W, 3) uint8 RGB
    timestamp_s: float  # device time when available (hardware clock), else host time
    frame_number: int
    domain: str  # 'hardware_clock' | 'system_time' | 'global_time' | 'host'
    depth: np.ndarray | None = None  # (H, W) uint16 aligned to color, in depth_units


@dataclass
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    ppx: float
    ppy: float
    model: str
    coeffs: tuple[float, ...]

    def camera_matrix(self) -> list[float]:
        return [self.fx, 0.0, self.ppx, 0.0, self.fy, self.ppy, 0.0, 0.0, 1.0]


class Camera:
    """Base class: subclasses implement connect / read / disconnect and set `intrinsics`."""

    intrinsics: Intrinsics | None = None

    def connect(self) -> None:
        raise NotImplementedError

    def read(self, timeout_s: float = 1.0) -> Frame:
        raise NotImplementedError

    def disconnect(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Camera:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.disconnect()


def make_camera(kind: str, **kwargs: Any) -> Camera:
    """'realsense' | 'realsense_synthetic' (software device, no hardware) | 'opencv'."""
    if kind == "realsense":
        from lps_robot.camera.realsense import RealSenseCamera

        return RealSenseCamera(**kwargs)
    if kind == "realsense_synthetic":
        from lps_robot.camera.realsense import RealSenseCamera
        from lps_robot.camera.synthetic import SyntheticRealSense

        source = SyntheticRealSense(
            kwargs.get("width", 640),
            kwargs.get("height", 480),
            kwargs.get("fps", 30),
            kwargs.get("enable_depth", False),
        )
        return RealSenseCamera(
            device=source.device, on_connect=source.start, on_disconnect=source.stop, **kwargs
        )
    if kind == "opencv":
        from lps_robot.camera.opencv import OpenCVCamera

        return OpenCVCamera(**kwargs)
    raise ValueError(
        f"camera backend: expected realsense | realsense_synthetic | opencv, got {kind!r}"
    )
