"""ROS message <-> numpy conversions, duck-typed (no rclpy import): shared by the nodes and
the rosbag2 importer."""

from __future__ import annotations

import numpy as np

ENCODINGS = {"rgb8": 3, "bgr8": 3}


def image_to_rgb(msg, width: int, height: int) -> np.ndarray:
    """sensor_msgs/Image (rgb8 | bgr8) -> (H, W, 3) uint8 RGB; ValueError names the problem."""
    if msg.encoding not in ENCODINGS:
        raise ValueError(f"image encoding '{msg.encoding}', expected one of {list(ENCODINGS)}")
    if (msg.width, msg.height) != (width, height):
        raise ValueError(f"image {msg.width}x{msg.height}, expected {width}x{height}")
    buf = np.frombuffer(msg.data, np.uint8)
    if msg.step < width * 3 or buf.size < msg.step * height:
        raise ValueError(f"image data of {buf.size} bytes is short for step {msg.step} x {height}")
    img = (
        buf[: msg.step * height]
        .reshape(height, msg.step)[:, : width * 3]
        .reshape(height, width, 3)
    )
    return np.ascontiguousarray(img[..., ::-1] if msg.encoding == "bgr8" else img)


def rgb_to_image(img: np.ndarray, msg_cls, stamp=None, frame_id: str = "camera"):
    msg = msg_cls()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(img.shape[0]), int(img.shape[1])
    msg.encoding = "rgb8"
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(img, np.uint8).tobytes()
    return msg


def reorder(names, values, order: tuple[str, ...]) -> np.ndarray | None:
    """Values arranged in ``order`` by joint name; None if a joint is missing."""
    if len(values) < len(names):
        return None
    index = {n: i for i, n in enumerate(names)}
    try:
        return np.array([values[index[n]] for n in order], np.float64)
    except KeyError:
        return None
