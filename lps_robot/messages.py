"""ROS message <-> numpy conversions, duck-typed (no rclpy import): shared by the nodes and
the rosbag2 importer, so a live recording and an imported bag read the same messages the
same way.

Cameras: ``sensor_msgs/Image`` (rgb8, bgr8, rgba8, bgra8, mono8) or ``CompressedImage``
(jpeg, png). Commands: ``std_msgs/Float64MultiArray`` (the spec's joint order),
``sensor_msgs/JointState`` (positions by name) or ``trajectory_msgs/JointTrajectory`` (its
first point, by name). Anything else is refused with one line naming the topic, its type and
the types accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
COMMAND_TYPES = (
    "std_msgs/msg/Float64MultiArray",
    "sensor_msgs/msg/JointState",
    "trajectory_msgs/msg/JointTrajectory",
)


def check_type(topic: str, msgtype: str, accepted: Sequence[str]) -> None:
    """ValueError naming the topic, its type and the accepted ones, unless accepted."""
    if msgtype not in accepted:
        raise ValueError(f"topic {topic}: type {msgtype}, expected one of {list(accepted)}")


def image_to_rgb(msg, width: int, height: int) -> np.ndarray:
    """sensor_msgs/Image or CompressedImage -> (H, W, 3) uint8 RGB; ValueError names the
    problem (encoding, size, short data)."""
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):
        return _compressed_to_rgb(msg, width, height)
    channels = ENCODINGS.get(msg.encoding)
    if channels is None:
        raise ValueError(f"image encoding '{msg.encoding}', expected one of {list(ENCODINGS)}")
    if (msg.width, msg.height) != (width, height):
        raise ValueError(f"image {msg.width}x{msg.height}, expected {width}x{height}")
    buf = np.frombuffer(msg.data, np.uint8)
    row = width * channels
    if msg.step < row or buf.size < msg.step * height:
        raise ValueError(f"image data of {buf.size} bytes is short for step {msg.step} x {height}")
    img = buf[: msg.step * height].reshape(height, msg.step)[:, :row].reshape(height, width, -1)
    if msg.encoding == "mono8":
        return np.ascontiguousarray(np.repeat(img, 3, axis=2))
    rgb = img[..., :3]
    return np.ascontiguousarray(rgb[..., ::-1] if msg.encoding.startswith("bgr") else rgb)


def _compressed_to_rgb(msg, width: int, height: int) -> np.ndarray:
    import cv2

    fmt = str(msg.format).lower()
    if "jpeg" not in fmt and "jpg" not in fmt and "png" not in fmt:
        raise ValueError(f"compressed image format '{msg.format}', expected jpeg or png")
    bgr = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"compressed image ({msg.format}) does not decode")
    if bgr.shape[:2] != (height, width):
        raise ValueError(f"image {bgr.shape[1]}x{bgr.shape[0]}, expected {width}x{height}")
    return np.ascontiguousarray(bgr[..., ::-1])


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


def command_vector(msg, joint_names: tuple[str, ...]) -> np.ndarray:
    """A joint command in the spec's joint order from a Float64MultiArray (as is), a
    JointState (positions by name) or a JointTrajectory (its first point, by name);
    ValueError names what is missing."""
    if hasattr(msg, "points"):  # JointTrajectory
        if not msg.points:
            raise ValueError("joint trajectory with no points")
        values = reorder(list(msg.joint_names), msg.points[0].positions, joint_names)
        what = "joint trajectory"
    elif hasattr(msg, "position"):  # JointState
        values = reorder(list(msg.name), msg.position, joint_names)
        what = "joint state command"
    else:
        values = np.asarray(msg.data, np.float64)
        if values.shape != (len(joint_names),):
            raise ValueError(f"command of {values.size} values, expected {len(joint_names)}")
        return values
    if values is None:
        raise ValueError(f"{what} lacks one of the joints {list(joint_names)}")
    return values
