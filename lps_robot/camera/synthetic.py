"""A RealSense with no hardware: a pyrealsense2 software device fed synthetic frames.

The frames (a moving gradient and box; depth a tilted plane) go through the real SDK
objects (software sensors, stream profiles with intrinsics and extrinsics, syncer, align),
so `RealSenseCamera` runs unchanged against it. Used by tests and demos on machines without
a camera.
"""

from __future__ import annotations

import threading
import time

import numpy as np


class SyntheticRealSense:
    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        enable_depth: bool = False,
        fx: float | None = None,
    ) -> None:
        import pyrealsense2 as rs

        self.rs, self.width, self.height, self.fps = rs, width, height, fps
        self.device = rs.software_device()
        self.device.register_info(rs.camera_info.name, "Synthetic RealSense (software device)")
        self.device.register_info(rs.camera_info.serial_number, "SYNTH0001")
        fx = fx or 0.9 * width
        self.color_sensor = self.device.add_sensor("RGB Camera")
        self.color_profile = self.color_sensor.add_video_stream(
            self._stream(rs.stream.color, rs.format.rgb8, 3, 0, fx)
        )
        self.depth_sensor = self.depth_profile = None
        if enable_depth:
            self.depth_sensor = self.device.add_sensor("Stereo Module")
            self.depth_profile = self.depth_sensor.add_video_stream(
                self._stream(rs.stream.depth, rs.format.z16, 2, 1, fx)
            )
            self.depth_sensor.add_read_only_option(rs.option.depth_units, 0.001)
            ex = rs.extrinsics()
            ex.rotation, ex.translation = [1, 0, 0, 0, 1, 0, 0, 0, 1], [0.0, 0.0, 0.0]
            self.depth_profile.register_extrinsics_to(self.color_profile, ex)
        self.device.create_matcher(rs.matchers.default)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.sent = 0

    def _stream(self, kind, fmt, bpp: int, uid: int, fx: float):
        rs = self.rs
        intr = rs.intrinsics()
        intr.width, intr.height = self.width, self.height
        intr.ppx, intr.ppy, intr.fx, intr.fy = self.width / 2, self.height / 2, fx, fx
        intr.model, intr.coeffs = rs.distortion.brown_conrady, [0.0] * 5
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid, vs.fmt, vs.bpp = kind, 0, uid, fmt, bpp
        vs.width, vs.height, vs.fps, vs.intrinsics = self.width, self.height, self.fps, intr
        return vs

    def color_image(self, i: int) -> np.ndarray:
        yy, xx = np.mgrid[0 : self.height, 0 : self.width]
        img = np.stack(
            [(xx + 3 * i) % 256, yy * 255 // max(self.height - 1, 1), np.full_like(xx, 90)], -1
        ).astype(np.uint8)
        x0 = (5 * i) % max(self.width - 40, 1)
        img[self.height // 3 : self.height // 3 + 40, x0 : x0 + 40] = (220, 40, 40)
        return img

    def _push(self, sensor, profile, pixels: np.ndarray, bpp: int, i: int, t_ms: float) -> None:
        rs = self.rs
        f = rs.software_video_frame()
        f.pixels, f.bpp, f.stride = pixels, bpp, self.width * bpp
        f.timestamp, f.domain, f.frame_number = t_ms, rs.timestamp_domain.hardware_clock, i
        f.profile = profile.as_video_stream_profile()
        sensor.on_video_frame(f)

    def _run(self) -> None:
        depth = 1000 + np.arange(self.width, dtype=np.uint16)[None, :].repeat(self.height, 0)
        t0 = time.monotonic()
        i = 0
        while not self._stop.is_set():
            t_ms = (time.monotonic() - t0) * 1000.0
            if self.depth_sensor is not None:
                self._push(self.depth_sensor, self.depth_profile, depth, 2, i, t_ms)
            self._push(self.color_sensor, self.color_profile, self.color_image(i), 3, i, t_ms)
            self.sent = i = i + 1
            self._stop.wait(max(0.0, t0 + i / self.fps - time.monotonic()))

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
