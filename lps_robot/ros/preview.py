"""A live camera preview for the recording session: the latest frame of each camera side by
side in one OpenCV window, when a display exists and OpenCV can open windows.

The wheel this project installs (``opencv-python-headless``) has no GUI: there, and without
``DISPLAY``/``WAYLAND_DISPLAY``, the session runs without a preview and says why. A robot
workstation with a GUI OpenCV (Debian's ``python3-opencv``, or ``opencv-python``) gets the
window.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from lps_robot.messages import image_to_rgb

WINDOW = "lps record: cameras"
PERIOD_S = 0.1  # window refresh


def preview_unavailable() -> str:
    """'' when a window can open, else why not."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "no display"
    import cv2

    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        return "this OpenCV has no GUI (opencv-python-headless)"
    return ""


def mosaic(frames: list[np.ndarray], height: int = 240) -> np.ndarray:
    """RGB frames scaled to ``height`` and placed side by side (BGR, for OpenCV)."""
    import cv2

    tiles = []
    for f in frames:
        w = max(1, round(f.shape[1] * height / f.shape[0]))
        tiles.append(cv2.resize(f, (w, height), interpolation=cv2.INTER_NEAREST))
    return cv2.cvtColor(np.concatenate(tiles, axis=1), cv2.COLOR_RGB2BGR)


class Preview:
    """Subscribes to ``topics`` on ``node``; `show` refreshes the window at most every
    `PERIOD_S` (call it from the session's loop)."""

    def __init__(self, node: Node, topics: list[str]) -> None:
        self.topics = topics
        self.latest: dict[str, np.ndarray] = {}
        self._shown = 0.0
        for t in topics:
            node.create_subscription(
                Image, t, lambda m, t=t: self._on_image(t, m), qos_profile_sensor_data
            )

    def _on_image(self, topic: str, msg: Image) -> None:
        with contextlib.suppress(ValueError):  # an encoding the recorder refuses (and reports)
            self.latest[topic] = image_to_rgb(msg, msg.width, msg.height)

    def show(self) -> None:
        import cv2

        now = time.monotonic()
        if now - self._shown < PERIOD_S or not self.latest:
            return
        self._shown = now
        frames = [self.latest[t] for t in self.topics if t in self.latest]
        cv2.imshow(WINDOW, mosaic(frames))
        cv2.waitKey(1)

    def close(self) -> None:
        import cv2

        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(WINDOW)
