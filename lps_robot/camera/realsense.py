"""Intel RealSense color (+ aligned depth) through pyrealsense2's sensor API.

Streams are opened per sensor and combined by an ``rs.syncer``; depth is aligned to color
with ``rs.align``. This path works for hardware and for ``rs.software_device`` alike (the
``rs.pipeline`` API does not enumerate software devices in pyrealsense2 2.59, so tests
without a camera drive this class through a software device).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lps_robot.camera.base import Camera, Frame, Intrinsics


class RealSenseCamera(Camera):
    def __init__(
        self,
        serial: str = "",
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        enable_depth: bool = False,
        device: Any = None,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        import pyrealsense2 as rs

        self.rs = rs
        self.serial, self.width, self.height, self.fps = serial, width, height, fps
        self.enable_depth = enable_depth
        self.device = device
        self._on_connect, self._on_disconnect = on_connect, on_disconnect
        self._sensors: list = []
        self._sync = None
        self._align = None

    def _find_device(self) -> Any:
        devices = list(self.rs.context().query_devices())
        for dev in devices:
            if not self.serial or dev.get_info(self.rs.camera_info.serial_number) == self.serial:
                return dev
        found = [d.get_info(self.rs.camera_info.serial_number) for d in devices]
        raise RuntimeError(f"realsense: no device with serial '{self.serial}' (found {found})")

    def _profile(self, sensor: Any, stream: Any, fmt: Any) -> Any:
        for p in sensor.get_stream_profiles():
            v = p.as_video_stream_profile()
            if (
                p.stream_type() == stream
                and p.format() == fmt
                and p.fps() == self.fps
                and v.width() == self.width
                and v.height() == self.height
            ):
                return p
        return None

    def connect(self) -> None:
        rs = self.rs
        dev = self.device if self.device is not None else self._find_device()
        self._sync = rs.syncer()
        wanted = [(rs.stream.color, rs.format.rgb8)]
        if self.enable_depth:
            wanted.append((rs.stream.depth, rs.format.z16))
        for stream, fmt in wanted:
            for sensor in dev.query_sensors():
                profile = self._profile(sensor, stream, fmt)
                if profile is not None:
                    sensor.open(profile)
                    sensor.start(self._sync)
                    self._sensors.append(sensor)
                    if stream == rs.stream.color:
                        i = profile.as_video_stream_profile().get_intrinsics()
                        self.intrinsics = Intrinsics(
                            i.width,
                            i.height,
                            i.fx,
                            i.fy,
                            i.ppx,
                            i.ppy,
                            str(i.model).split(".")[-1],
                            tuple(i.coeffs),
                        )
                    break
            else:
                size = f"{self.width}x{self.height}@{self.fps}"
                raise RuntimeError(f"realsense: no {stream} {fmt} profile at {size}")
        self._align = rs.align(rs.stream.color) if self.enable_depth else None
        if self._on_connect:
            self._on_connect()

    def read(self, timeout_s: float = 1.0) -> Frame:
        if self._sync is None:
            raise RuntimeError("realsense: read() before connect()")
        deadline = time.monotonic() + timeout_s
        while True:
            left = max(1, int((deadline - time.monotonic()) * 1000))
            frames = self._sync.wait_for_frames(left)
            if self._align is not None:
                frames = self._align.process(frames)
            color = frames.get_color_frame()
            depth = frames.get_depth_frame() if self.enable_depth else None
            if color and (depth or not self.enable_depth):
                break
            if time.monotonic() > deadline:  # incomplete framesets at start-up are skipped
                raise TimeoutError("realsense: no complete frameset in time")
        return Frame(
            color=np.asanyarray(color.get_data()).copy(),
            timestamp_s=color.get_timestamp() / 1000.0,
            frame_number=int(color.get_frame_number()),
            domain=str(color.get_frame_timestamp_domain()).split(".")[-1],
            depth=np.asanyarray(depth.get_data()).copy() if depth else None,
        )

    def disconnect(self) -> None:
        if self._on_disconnect:
            self._on_disconnect()
        for sensor in self._sensors:
            try:
                sensor.stop()
                sensor.close()
            except RuntimeError:
                pass
        self._sensors, self._sync = [], None
