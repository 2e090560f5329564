"""Cameras behind one tiny interface (connect / read / disconnect, context manager).

SDKs are imported lazily inside `make_camera`, so nothing here needs pyrealsense2 or a
camera unless one is asked for. Backends implement `lps_robot.camera.base.Camera`.
"""

from __future__ import annotations

from typing import Any

from lps_robot.camera.base import Camera, Frame, Intrinsics

__all__ = ["Camera", "Frame", "Intrinsics", "make_camera"]


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
