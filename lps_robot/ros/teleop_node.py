"""The teleop node: a device (gamepad via ``sensor_msgs/Joy``, SpaceMouse via
``geometry_msgs/TwistStamped``, the terminal's keyboard, or a leader arm's joint states) ->
joint position targets at the control rate on ``/teleop/joint_command``.

Runs as ``lps teleop --input joy`` or ``lps node teleop``. Twists are solved by mink's
differential IK on the robot's model within joint, velocity and workspace limits; every
command passes the controller's safety filter. Motion only while the deadman is held and the
device keeps talking (``input_timeout_s``); otherwise the arm holds its last command.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState, Joy

from lps_robot.dcio import ConfigError
from lps_robot.ros.joint_groups import command_publishers, publish_command
from lps_robot.ros.logs import LogLimiter, emit
from lps_robot.ros.policy_params import declare_all, default_spec_path
from lps_robot.ros.spin import spin_node
from lps_robot.ros.teleop_params import NODE_NAME, TELEOP_PARAMETERS, default_model_path
from lps_robot.runtime.joints import JointStateMerger
from lps_robot.runtime.params import ParameterError
from lps_robot.spec import Spec
from lps_robot.teleop.ik import DiffIK, IKError
from lps_robot.teleop.joy import JoyMapping, joy_to_command
from lps_robot.teleop.keyboard import HELP, KeyTwist, TerminalKeys
from lps_robot.teleop.leader import LeaderMap
from lps_robot.teleop.loop import Input, TeleopLoop
from lps_robot.teleop.twist import twist_to_command

AUTO_AGE_PERIODS = 4


class TeleopNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self.keys: TerminalKeys | None = None
        self._log = LogLimiter(self.get_logger())
        p = self.p = declare_all(self, TELEOP_PARAMETERS)
        try:
            self.spec = Spec.load(p["robot_spec"] or default_spec_path())
            robot = self.spec.robot
            self.loop = TeleopLoop(
                robot,
                self._make_ik(robot) if p["input"] != "leader" else None,
                p["gripper_joint"],
                p["input_timeout_s"],
                p["max_linear_speed"],
                p["max_angular_speed"],
            )
        except (ConfigError, IKError) as e:
            raise ParameterError(str(e)) from None
        self.period = 1.0 / robot.control_rate_hz
        self.max_age = p["max_obs_age_s"] or AUTO_AGE_PERIODS * self.period
        self.joints = JointStateMerger(robot.joint_names)
        self.input = Input()
        self.lock = threading.Lock()
        self.status = ""
        self._last_times: np.ndarray | None = None
        self.create_subscription(JointState, p["joint_states_topic"], self._on_joints, 50)
        self._connect_device(p, robot)
        # a command group (a gripper on its own driver) goes to <command_topic>/<group name>
        self.pubs = command_publishers(self, robot, p["command_topic"], under_main=True)
        self.create_timer(self.period, self._on_tick)
        self.get_logger().info(
            f"teleop from {p['input']} at {robot.control_rate_hz:g} Hz on {p['command_topic']}"
        )

    def _make_ik(self, robot) -> DiffIK:
        p = self.p
        grip = p["gripper_joint"]
        joints = [j for j in robot.joint_names if j != grip]
        limits = dict(zip(robot.joint_names, robot.velocity_limits, strict=True))
        box = (
            [p[f"workspace_min_{a}"] for a in "xyz"],
            [p[f"workspace_max_{a}"] for a in "xyz"],
        )
        return DiffIK(p["robot_model"] or default_model_path(), joints, p["ee_site"], limits, box)

    def _connect_device(self, p: dict, robot) -> None:
        kind = p["input"]
        if kind == "joy":
            self.mapping = JoyMapping.load(p["mapping_file"])
            self.create_subscription(Joy, p["joy_topic"], self._on_joy, 10)
        elif kind == "twist":
            self.create_subscription(TwistStamped, p["twist_topic"], self._on_twist, 10)
        elif kind == "leader":
            self.leader = LeaderMap.load(robot.joint_names, p["mapping_file"])
            self.create_subscription(JointState, p["leader_topic"], self._on_leader, 10)
        else:
            self.key_twist = KeyTwist(p["max_linear_speed"], p["max_angular_speed"])
            self.keys = TerminalKeys(self.key_twist.press)
            try:
                self.keys.connect()
            except RuntimeError as e:
                raise ParameterError(f"input keyboard: {e}") from None
            print(HELP, file=sys.stderr)

    # --- inputs (executor thread) ------------------------------------------------------------

    def _on_joints(self, msg: JointState) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        note = self.joints.update(
            msg.name, msg.position, msg.velocity, stamp, time.monotonic(), time.time()
        )
        if note and note.startswith("malformed"):
            self._log("warning", "joints", f"{self.p['joint_states_topic']}: {note}", 5.0)

    def _on_joy(self, msg: Joy) -> None:
        cmd = joy_to_command(msg.axes, msg.buttons, self.mapping)
        with self.lock:
            self.input = Input(command=cmd, time=time.monotonic())

    def _on_twist(self, msg: TwistStamped) -> None:
        t = msg.twist
        cmd = twist_to_command(
            [t.linear.x, t.linear.y, t.linear.z], [t.angular.x, t.angular.y, t.angular.z],
            self.p["max_linear_speed"], self.p["max_angular_speed"],
        )  # fmt: skip
        with self.lock:
            self.input = Input(command=cmd, time=time.monotonic())

    def _on_leader(self, msg: JointState) -> None:
        target = self.leader(msg.name, msg.position)
        if target is None:
            self._log("warning", "leader", "leader joint state missing a mapped joint", 5.0)
            return
        with self.lock:
            self.input = Input(joints=target, time=time.monotonic())

    # --- the tick -----------------------------------------------------------------------------

    def _on_tick(self) -> None:
        now = time.monotonic()
        if self.keys is not None:
            self.input = Input(command=self.key_twist.command(now), time=now)
        times = self.joints.times()
        pos, _, _, fault = self.joints.snapshot(now, self.max_age)
        fresh = None
        if times is not None:
            last = self._last_times
            fresh = np.ones_like(times, bool) if last is None else times > last
            self._last_times = times
        with self.lock:
            inp = self.input
        command, status = self.loop.tick(now, None if fault else pos, fresh, inp)
        if status != self.status:
            level = "info" if status == "moving" else "warning"
            emit(self.get_logger(), level, f"teleop: {status}")
            self.status = status
        if command is not None:
            publish_command(self.pubs, command)

    def destroy_node(self) -> None:
        if self.keys is not None:
            self.keys.disconnect()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    return spin_node(TeleopNode, argv)
