"""Camera node: frames from a `Camera` -> sensor_msgs/Image + CameraInfo on realsense-ros's
topic names (``/camera/camera/color/image_raw``, ``.../color/camera_info``,
``.../aligned_depth_to_color/image_raw``), so it can be swapped for realsense-ros.

A reader thread blocks on the camera; publishing never waits on the executor. CameraInfo
comes from a calibration file (``calibration_file``) when given, else from the device.
"""

from __future__ import annotations

import threading

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

from lps_robot.camera import make_camera
from lps_robot.messages import rgb_to_image
from lps_robot.ros.logs import LogLimiter
from lps_robot.ros.spin import spin_node

QOS = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("lps_camera")
        self._log = LogLimiter(self.get_logger())  # (level, key, message, period_s)
        params = {
            "backend": "realsense",
            "serial": "",
            "device_index": 0,
            "width": 640,
            "height": 480,
            "fps": 30,
            "enable_depth": False,
            "camera_namespace": "camera",
            "camera_name": "camera",
            "calibration_file": "",
            # realsense-ros publishes reliable by default; a reliable subscriber (rviz, a
            # recorder) never connects to a best-effort publisher, while best-effort
            # subscribers (ours) take either
            "qos_reliability": "reliable",
            # '' = realsense-ros's "<camera_name>_color_optical_frame"; match the spec's
            # camera frame_id so the launch files' static TF names this frame
            "frame_id": "",
        }
        for k, v in params.items():
            self.declare_parameter(k, v)
        p = {k: self.get_parameter(k).value for k in params}
        if p["qos_reliability"] not in QOS:
            raise ValueError(
                f"parameter qos_reliability: expected one of {list(QOS)}, "
                f"got {p['qos_reliability']!r}"
            )
        qos = QoSProfile(depth=5, reliability=QOS[p["qos_reliability"]])
        kwargs = {"width": p["width"], "height": p["height"], "fps": p["fps"]}
        if p["backend"].startswith("realsense"):
            kwargs.update(serial=p["serial"], enable_depth=p["enable_depth"])
        else:
            kwargs.update(index=p["device_index"])
        if p["backend"] == "realsense_synthetic":
            kwargs.pop("serial")
        self.camera = make_camera(p["backend"], **kwargs)
        self.camera.connect()
        base = f"/{p['camera_namespace']}/{p['camera_name']}"
        self.frame_id = p["frame_id"] or f"{p['camera_name']}_color_optical_frame"
        self.img_pub = self.create_publisher(Image, f"{base}/color/image_raw", qos)
        self.info_pub = self.create_publisher(CameraInfo, f"{base}/color/camera_info", qos)
        self.depth_pub = (
            self.create_publisher(Image, f"{base}/aligned_depth_to_color/image_raw", qos)
            if p["enable_depth"]
            else None
        )
        self.info = self._camera_info(p["calibration_file"])
        self.published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _camera_info(self, calibration_file: str) -> CameraInfo:
        info = CameraInfo(distortion_model="plumb_bob")
        if calibration_file:
            from lps_robot.calib.camera_info import load_camera_info

            cal = load_camera_info(calibration_file)
            info.width, info.height = cal.width, cal.height
            info.k, info.d = list(cal.camera_matrix), list(cal.distortion)
        else:
            i = self.camera.intrinsics
            info.width, info.height = i.width, i.height
            info.k, info.d = i.camera_matrix(), list(i.coeffs)
        k = info.k
        info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        info.p = [k[0], 0.0, k[2], 0.0, 0.0, k[4], k[5], 0.0, 0.0, 0.0, 1.0, 0.0]
        info.header.frame_id = self.frame_id
        return info

    def _loop(self) -> None:
        while not self._stop.is_set() and rclpy.ok(context=self.context):
            try:
                frame = self.camera.read(timeout_s=1.0)
            except (TimeoutError, RuntimeError) as e:
                self._log("warning", "read", f"camera: {e}", 5.0)
                continue
            try:
                self._publish(frame)
            except Exception:  # the context went away under us (shutdown): stop quietly
                if rclpy.ok(context=self.context):
                    raise
                return

    def _publish(self, frame) -> None:
        stamp = self.get_clock().now().to_msg()
        self.img_pub.publish(rgb_to_image(frame.color, Image, stamp, self.frame_id))
        self.info.header.stamp = stamp
        self.info_pub.publish(self.info)
        if self.depth_pub is not None and frame.depth is not None:
            d = Image(
                height=frame.depth.shape[0],
                width=frame.depth.shape[1],
                encoding="16UC1",
                step=frame.depth.shape[1] * 2,
                data=frame.depth.tobytes(),
            )
            d.header.stamp, d.header.frame_id = stamp, self.frame_id
            self.depth_pub.publish(d)
        self.published += 1

    def destroy_node(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.camera.disconnect()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return spin_node(CameraNode, argv)
