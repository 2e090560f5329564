"""The simulated arm behind the same ROS 2 interfaces as a real ros2_control arm.

Publishes ``/joint_states`` (every physics tick; a spec with command groups, as the UR5e +
Robotiq 2F-85's gripper, gets one publisher per group beside the arm's), ``sensor_msgs/Image``
+ ``CameraInfo`` per spec camera (realsense-ros topic names), accepts
``/forward_position_controller/commands`` (and each group's commands on its own topic), and
offers ``~/reset`` (std_srvs/Trigger) and a task status (``/sim/task``, JSON String). With
``scripted_teleop`` the scripted operator drives the arm and publishes what it commands on
``/teleop/joint_command`` (a group's joints on ``/teleop/joint_command/<group>``), as a leader
arm or teleop bridge would on a real robot. With ``teleop_autostart`` false it holds the reset
pose (still publishing it) until ``~/teleop_start``, like an operator who presses record before
moving: no recorded episode misses its start. With ``teleop_device: joy`` the scripted
operator is a person on a gamepad instead: it publishes ``sensor_msgs/Joy`` on ``/joy`` (tool
velocity toward its plan, deadman held while it moves, close/open buttons) for the teleop node
to solve, and the arm follows ``command_topic`` (set it to ``/teleop/joint_command``) once the
operator has started.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, Joy
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

from lps_robot.messages import rgb_to_image
from lps_robot.ros.joint_groups import (
    GroupedJointStates,
    command_publishers,
    publish_command,
    subscribe_commands,
)
from lps_robot.ros.logs import LogLimiter
from lps_robot.ros.spin import spin_node
from lps_robot.runtime.params import ParameterError
from lps_robot.sim.env import SimArmEnv
from lps_robot.spec import Spec
from lps_robot.teleop.command import TeleopCommand
from lps_robot.teleop.joy import JoyMapping, command_to_joy

TELEOP_TOPIC = "/teleop/joint_command"
TELEOP_DEVICES = ("joint", "joy")  # the scripted operator's output: joint targets or a gamepad


def camera_info_for(env: SimArmEnv, name: str, width: int, height: int, frame: str) -> CameraInfo:
    """Pinhole intrinsics of a MuJoCo camera (no distortion)."""
    fovy = math.radians(float(env.model.cam(name).fovy[0]))
    f = (height / 2) / math.tan(fovy / 2)
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    info.header.frame_id = frame
    info.k = [f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0]
    info.d = [0.0] * 5
    info.r = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    info.p = [f, 0.0, width / 2, 0.0, 0.0, f, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


class SimRobotNode(Node):
    def __init__(self) -> None:
        super().__init__("sim_robot")
        self._log = LogLimiter(self.get_logger())  # (level, key, message, period_s)
        params = {
            "robot_spec": "",
            "physics_rate_hz": 100.0,
            "camera_rate_hz": 30.0,
            "command_topic": "/forward_position_controller/commands",
            "seed": 0,
            "max_episode_s": 10.0,
            "scripted_teleop": False,
            "teleop_noise": 0.01,
            "teleop_failure_rate": 0.0,
            "teleop_mistake_rate": 0.0,
            "teleop_autostart": True,
            "teleop_device": "joint",
            "teleop_mapping_file": "",
        }
        for k, v in params.items():
            self.declare_parameter(k, v)
        p = {k: self.get_parameter(k).value for k in params}
        if p["teleop_device"] not in TELEOP_DEVICES:
            raise ParameterError(
                f"teleop_device: expected one of {TELEOP_DEVICES}, got {p['teleop_device']!r}"
            )
        spec = Spec.load(p["robot_spec"]) if p["robot_spec"] else None
        self.env = SimArmEnv(spec, render=True, seed=p["seed"])
        self.spec = self.env.spec
        self.seed, self.episode, self.max_s = p["seed"], 0, p["max_episode_s"]
        self.substeps = max(1, round(1.0 / (p["physics_rate_hz"] * self.env.model.opt.timestep)))
        self.env.reset(seed=self.seed)
        self.episode_start = time.monotonic()
        self.episode_sim_start = 0.0
        self.teleop = None
        self.joy_pub = None
        self.autostart = p["teleop_autostart"]
        self.teleop_moving = self.autostart
        self.hold = self.env.joint_pos().astype(np.float64)
        self.command = self.hold.copy()
        if p["scripted_teleop"]:
            from lps_robot.sim.oracle import ScriptedTeleop

            self.teleop = ScriptedTeleop(
                self.env,
                p["teleop_noise"],
                p["teleop_failure_rate"],
                seed=self.seed,
                mistake_rate=p["teleop_mistake_rate"],
            )
            self.teleop.reset()
            if p["teleop_device"] == "joy":  # the teleop node publishes the joint targets
                self.joy_mapping = JoyMapping.load(p["teleop_mapping_file"])
                self.joy_pub = self.create_publisher(Joy, "/joy", 10)
            else:
                self.teleop_pubs = command_publishers(self, self.spec.robot, TELEOP_TOPIC, True)
            self.create_timer(1.0 / self.spec.robot.control_rate_hz, self._on_teleop)
            self.create_service(Trigger, "~/teleop_start", self._on_teleop_start)
        self.joint_states = GroupedJointStates(self, self.spec.robot)
        self.cam_pubs = {}
        for cam in self.spec.cameras:
            info_topic = cam.topic.rsplit("/", 1)[0] + "/camera_info"
            self.cam_pubs[cam.name] = (
                self.create_publisher(Image, cam.topic, qos_profile_sensor_data),
                self.create_publisher(CameraInfo, info_topic, qos_profile_sensor_data),
                camera_info_for(self.env, cam.name, cam.width, cam.height, cam.optical_frame),
            )
        self.task_pub = self.create_publisher(String, "/sim/task", 10)
        subscribe_commands(self, self.spec.robot, p["command_topic"], self._on_command)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_timer(self.substeps * self.env.model.opt.timestep, self._on_physics)
        self.create_timer(1.0 / p["camera_rate_hz"], self._on_camera)
        self.create_timer(0.1, self._on_status)

    def _on_command(self, msg: Float64MultiArray, idx: list[int], topic: str) -> None:
        if self.joy_pub is not None and not self.teleop_moving:
            return  # the gamepad operator has not started: the reset pose holds
        cmd = np.asarray(msg.data, np.float64)
        if cmd.shape == (len(idx),) and np.isfinite(cmd).all():
            self.command[idx] = cmd
            self.env.set_command(self.command)
        else:
            self._log(
                "warning",
                topic,
                f"{topic}: ignoring a command of shape {cmd.shape} or with non-finite values "
                f"(expected {len(idx)} finite values)",
                2.0,
            )

    def _on_teleop(self) -> None:
        if self.joy_pub is not None:
            self._on_gamepad()
            return
        action = self.teleop.act() if self.teleop_moving else self.hold
        self.command = np.asarray(action, np.float64)
        self.env.set_command(self.command)
        publish_command(self.teleop_pubs, action)

    def _on_gamepad(self) -> None:
        """The scripted operator's hands on a virtual gamepad (the deadman up until it starts)."""
        cmd = TeleopCommand()
        if self.teleop_moving:
            velocity, grip = self.teleop.steer()
            cmd = TeleopCommand(linear=velocity, gripper=grip, deadman=True)
        axes, buttons = command_to_joy(cmd, self.joy_mapping)
        msg = Joy(axes=axes, buttons=buttons)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.joy_pub.publish(msg)

    def _on_physics(self) -> None:
        self.env.advance(self.substeps)
        stamp = self.get_clock().now().to_msg()
        self.joint_states.publish(stamp, self.env.joint_pos(), self.env.joint_vel())

    def _on_camera(self) -> None:
        stamp = self.get_clock().now().to_msg()
        for cam in self.spec.cameras:
            img_pub, info_pub, info = self.cam_pubs[cam.name]
            img_pub.publish(
                rgb_to_image(self.env.render(cam.name), Image, stamp, info.header.frame_id)
            )
            info.header.stamp = stamp
            info_pub.publish(info)

    def status(self) -> dict:
        elapsed = time.monotonic() - self.episode_start
        success = self.env.success()
        return {
            "episode": self.episode,
            "elapsed_s": round(elapsed, 3),
            # simulated seconds this episode: elapsed_s / sim_s is how far physics lags real time
            "sim_s": round(self.env.data.time - self.episode_sim_start, 3),
            "success": success,
            # the scripted operator stops an attempt it has seen fail (a teleoperator would)
            "done": success or elapsed > self.max_s or self._operator_gave_up(),
            "failure": getattr(self.teleop, "failure", None),
        }

    def _operator_gave_up(self) -> bool:
        return self.teleop is not None and self.teleop_moving and self.teleop.finished

    def _on_status(self) -> None:
        self.task_pub.publish(String(data=json.dumps(self.status())))

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.episode += 1
        self.env.reset(seed=self.seed * 100_000 + self.episode)
        self.hold = self.env.joint_pos().astype(np.float64)
        self.command = self.hold.copy()
        self.env.set_command(self.hold)
        if self.teleop is not None:
            self.teleop.reset()
        self.teleop_moving = self.autostart
        self.episode_start = time.monotonic()
        self.episode_sim_start = self.env.data.time
        response.success, response.message = True, json.dumps(self.status())
        return response

    def _on_teleop_start(
        self, request: Trigger.Request, response: Trigger.Response
    ) -> Trigger.Response:
        """The scripted operator starts moving; the episode clock starts now."""
        if self.teleop_moving:
            response.success, response.message = False, "the operator is already moving"
            return response
        self.teleop_moving = True
        self.episode_start = time.monotonic()
        self.episode_sim_start = self.env.data.time
        response.success, response.message = True, json.dumps(self.status())
        return response


def main(argv: list[str] | None = None) -> int:
    return spin_node(SimRobotNode, argv, lambda node: node.env.close())
