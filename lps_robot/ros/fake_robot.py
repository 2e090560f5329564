"""A fake ros2_control arm for tests and loop benchmarks (a stand-in: no physics).

Publishes ``/joint_states`` (joints in reverse spec order, so subscribers must reorder by
name) and a synthetic camera per spec camera; follows position commands exactly (an ideal
position controller); logs every command as a JSON line with its receipt time. A
``std_msgs/String`` on ``/fake_robot/mode`` switches faults: ``normal``, ``nan_joints``,
``freeze_camera``, ``arm_only`` (the last spec joint left to another publisher, as a gripper
driver would), ``frozen_joints`` (joint states keep coming, the arm no longer follows),
``flood`` (joint states as fast as rclpy publishes them, from a thread), and joint-state
stamps that lie: ``zero_stamps``, ``lagging_stamps`` (0.5 s behind: a skewed clock),
``old_stamps`` (every other message 3 s old, out of order), ``back_stamps`` (the clock jumps
back 2 s). A spec with command groups (a gripper on its own controller) is served as
ros2_control + a gripper driver would: each group's commands on its own topic, its joint states
from a publisher of its own. The MuJoCo sim node replaces it when physics and real rendering
matter.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String

from lps_robot.messages import rgb_to_image
from lps_robot.ros.joint_groups import GroupedJointStates, subscribe_commands
from lps_robot.ros.policy_params import default_spec_path
from lps_robot.ros.spin import spin_node
from lps_robot.spec import Spec


class FakeRobot(Node):
    def __init__(self) -> None:
        super().__init__("fake_robot")
        self.declare_parameter("robot_spec", "")
        self.declare_parameter("joint_rate_hz", 100.0)
        self.declare_parameter("camera_rate_hz", 30.0)
        self.declare_parameter("command_topic", "/forward_position_controller/commands")
        self.declare_parameter("log_path", "")
        spec_path = self.get_parameter("robot_spec").value or default_spec_path()
        self.spec = Spec.load(spec_path)
        r = self.spec.robot
        self.names = list(reversed(r.joint_names))
        self.pos = (np.asarray(r.position_lower) + np.asarray(r.position_upper)) / 2
        self.mode = "normal"
        self._flood: threading.Thread | None = None
        self.frame_i = self.joint_i = 0
        log = self.get_parameter("log_path").value
        self.log = open(log, "a", buffering=1) if log else None  # noqa: SIM115 (closed in destroy)
        self.js_pub = self.create_publisher(JointState, "/joint_states", 10)
        self.cams = {
            c.name: self.create_publisher(Image, c.topic, qos_profile_sensor_data)
            for c in self.spec.cameras
        }
        topic = self.get_parameter("command_topic").value
        self.split = subscribe_commands(self, r, topic, self._on_command)
        # a gripper driver's own joint-state publisher per group, beside the arm's
        self.grouped = GroupedJointStates(self, r, reverse_main=True) if r.command_groups else None
        self.create_subscription(String, "/fake_robot/mode", self._on_mode, 10)
        self.create_timer(1.0 / self.get_parameter("joint_rate_hz").value, self._publish_joints)
        self.create_timer(1.0 / self.get_parameter("camera_rate_hz").value, self._publish_images)

    def _on_mode(self, msg: String) -> None:
        self.mode = msg.data
        self.get_logger().info(f"mode -> {self.mode}")
        if self.mode == "flood" and self._flood is None:
            self._flood = threading.Thread(target=self._flood_joints, daemon=True)
            self._flood.start()

    def _flood_joints(self) -> None:
        """Publish joint states back to back while the mode is 'flood'."""
        self.flood_count = 0
        while self.mode == "flood" and rclpy.ok(context=self.context):
            self._publish_joints()
            self.flood_count += 1
        self.get_logger().info(f"flood ended after {self.flood_count} joint-state messages")
        self._flood = None

    def _on_command(self, msg: Float64MultiArray, idx: tuple[int, ...], topic: str) -> None:
        cmd = np.asarray(msg.data, np.float64)
        ok = cmd.shape == (len(idx),) and np.isfinite(cmd).all()
        if ok and self.mode != "frozen_joints":
            self.pos[list(idx)] = cmd
        if self.log:
            entry = {"t": time.time(), "mode": self.mode, "cmd": list(msg.data), "topic": topic}
            self.log.write(json.dumps(entry) + "\n")

    def _publish_joints(self) -> None:
        stamp = self._joint_stamp()
        if self.grouped is not None:
            self.grouped.publish(stamp, self.pos)
            return
        msg = JointState(name=self.names)
        msg.header.stamp = stamp
        pos = self.pos[::-1].copy()
        if self.mode == "nan_joints":
            pos[0] = np.nan
        if self.mode == "arm_only":  # names are reversed: the first is the last spec joint
            msg.name, pos = self.names[1:], pos[1:]
        msg.position = pos.tolist()
        msg.velocity = [0.0] * len(pos)
        self.js_pub.publish(msg)

    def _joint_stamp(self):
        """The header stamp the current mode gives a joint-state message."""
        now = self.get_clock().now()
        lie = {"lagging_stamps": 0.5, "back_stamps": 2.0}.get(self.mode, 0.0)
        if self.mode == "old_stamps":
            self.joint_i += 1
            lie = 3.0 * (self.joint_i % 2)
        if self.mode == "zero_stamps":
            return Time().to_msg()
        return (now - Duration(seconds=lie)).to_msg()

    def _publish_images(self) -> None:
        if self.mode == "freeze_camera":
            return
        self.frame_i += 1
        stamp = self.get_clock().now().to_msg()
        for cam in self.spec.cameras:
            yy, xx = np.mgrid[0 : cam.height, 0 : cam.width]
            img = np.stack([(xx + self.frame_i) % 256, yy % 256, np.full_like(xx, 128)], -1)
            self.cams[cam.name].publish(rgb_to_image(img.astype(np.uint8), Image, stamp, cam.name))

    def destroy_node(self) -> None:
        if self.log:
            self.log.close()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return spin_node(FakeRobot, argv)
