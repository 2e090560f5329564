"""Any V4L2 / UVC camera through OpenCV: the fallback when no RealSense is attached."""

from __future__ import annotations

import time

import numpy as np

from lps_robot.camera.base import Camera, Frame, Intrinsics


class OpenCVCamera(Camera):
    def __init__(
        self, index: int | str = 0, width: int = 640, height: int = 480, fps: int = 30, **_: object
    ) -> None:
        self.index, self.width, self.height, self.fps = index, width, height, fps
        self._cap = None
        self._n = 0

    def connect(self) -> None:
        import cv2

        cap = cv2.VideoCapture(
            self.index, cv2.CAP_V4L2 if isinstance(self.index, int) else cv2.CAP_ANY
        )
        if not cap.isOpened():
            raise RuntimeError(f"opencv camera: cannot open {self.index!r}")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        self._cap = cap
        # no factory intrinsics: a pinhole guess until `lps calibrate camera` provides real ones
        f = 0.9 * self.width
        self.intrinsics = Intrinsics(
            self.width, self.height, f, f, self.width / 2, self.height / 2, "plumb_bob", (0.0,) * 5
        )

    def read(self, timeout_s: float = 1.0) -> Frame:
        import cv2

        if self._cap is None:
            raise RuntimeError("opencv camera: read() before connect()")
        ok, bgr = self._cap.read()
        if not ok:
            raise TimeoutError(f"opencv camera {self.index!r}: no frame")
        if bgr.shape[:2] != (self.height, self.width):
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_AREA)
        self._n += 1
        return Frame(np.ascontiguousarray(bgr[..., ::-1]), time.time(), self._n, "host")

    def disconnect(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
