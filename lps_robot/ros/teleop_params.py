"""The teleop node's parameters: one table, checked without ROS (`Param`)."""

from __future__ import annotations

from importlib import resources

from lps_robot.runtime.params import Param

INPUTS = ("joy", "twist", "keyboard", "leader")
# `lps record --teleop DEVICE` -> the teleop node's input (the session's keyboard drives the
# arm as a virtual gamepad, so the node reads Joy)
DEVICE_INPUT = {"keyboard": "joy", "joy": "joy", "spacemouse": "twist"}
NODE_NAME = "lps_teleop"


def default_model_path() -> str:
    """The packaged sim arm's MJCF (the model of the packaged default spec)."""
    return str(resources.files("lps_robot") / "sim" / "arm.xml")


def _ws(axis: str, bound: str, default: float) -> Param:
    return Param(
        f"workspace_{bound}_{axis}",
        default,
        f"{bound} {axis} of the box the end effector is kept in (m, robot base frame)",
        low=-10.0,
        high=10.0,
    )


TELEOP_PARAMETERS: tuple[Param, ...] = (
    Param("input", "joy", "the device", choices=INPUTS),
    Param("robot_spec", "", "robot spec YAML (empty: the packaged sim_arm spec)"),
    Param("robot_model", "", "MJCF or URDF for the IK (empty: the packaged sim arm)"),
    Param("ee_site", "grip", "the model's site that the twist moves"),
    Param(
        "gripper_joint",
        "gripper",
        "the spec joint opened and closed by the gripper "
        "buttons, kept out of the IK (empty: none)",
    ),  # fmt: skip
    Param("joy_topic", "/joy", "sensor_msgs/Joy input (input joy)"),
    Param("twist_topic", "/spacenav/twist", "geometry_msgs/TwistStamped input (input twist)"),
    Param("leader_topic", "/leader/joint_states", "leader arm joint states (input leader)"),
    Param("mapping_file", "", "YAML: a Joy mapping (input joy) or a joint map (input leader)"),
    Param("command_topic", "/teleop/joint_command", "where joint targets are published"),
    Param("joint_states_topic", "/joint_states", "the follower's joint states"),
    Param(
        "input_timeout_s",
        0.25,
        "hold the arm when the device has been silent this long",
        low=0.01,
        high=5.0,
    ),
    Param("max_linear_speed", 0.15, "cap on the end effector's speed (m/s)", low=0.001, high=2.0),
    Param("max_angular_speed", 0.6, "cap on its rotation rate (rad/s)", low=0.001, high=6.0),
    Param(
        "max_obs_age_s",
        0.0,
        "hold when the follower's joint states are older (0: 4 control periods)",
        low=0.001,
        high=1.0,
        zero_ok=True,
    ),
    _ws("x", "min", 0.1),
    _ws("y", "min", -0.4),
    _ws("z", "min", 0.02),
    _ws("x", "max", 0.6),
    _ws("y", "max", 0.4),
    _ws("z", "max", 0.45),
)
