"""The simulated robots the sim task can host, keyed by their spec's ``robot.name``.

A `SimRobot` says what the task needs beyond the spec: how to build the MuJoCo model, which
actuator drives each spec joint and at what scale, the tool site and how its frame sits on
the hand, the reset pose, the gripper's open and closed commands, where the cube and the pad
may be placed, and what the cameras draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

ARM_XML = Path(str(resources.files("lps_robot") / "sim" / "arm.xml"))


@dataclass(frozen=True)
class SimRobot:
    name: str
    spec_file: str  # in lps_robot/specs
    build: Callable[[], Any]  # -> mujoco.MjModel
    actuators: tuple[str, ...]  # per spec joint
    ctrl_scale: tuple[float, ...]  # actuator ctrl = scale * joint target
    grip_site: str  # the tool centre point
    # the site's axes in the canonical hand frame (x: approach, y: finger axis), column-wise
    hand_axes: tuple[tuple[float, ...], ...]
    arm_joints: int  # the leading spec joints the IK moves; the last one is the gripper
    home: tuple[float, ...]  # reset pose: the tool 15 cm above the table at (0.3-0.45, 0), down
    gripper_open: float
    gripper_closed: float
    cube_x: tuple[float, float]
    cube_y: tuple[float, float]
    target_x: tuple[float, float]
    target_y: tuple[float, float]
    scene_option: Callable[[], Any] | None = None  # -> mujoco.MjvOption for the cameras
    # the scripted operator dwells at a waypoint only once the tool is this close (metres);
    # None: from when its command gets there (an arm that tracks its commands closely)
    arrive_tol: float | None = None
    # the scripted operator moves the gripper command no faster than the spec's velocity limit
    # (what the controller's safety filter will let a policy do), and dwells after a gripper
    # change only once the command got there; False: it steps the command at once
    operator_rate_limits_gripper: bool = False

    @property
    def spec_path(self) -> str:
        return str(resources.files("lps_robot") / "specs" / self.spec_file)


def _arm6_model():
    import mujoco

    return mujoco.MjModel.from_xml_path(str(ARM_XML))


def _ur5e_model():
    from lps_robot.sim.ur5e import build_model

    return build_model()


def _ur5e_option():
    from lps_robot.sim.ur5e import scene_option

    return scene_option()


SIM_ARM6 = SimRobot(
    name="sim_arm6",
    spec_file="sim_arm.yaml",
    build=_arm6_model,
    actuators=("shoulder_pan", "shoulder_lift", "elbow", "wrist_pitch", "wrist_roll", "gripper"),
    ctrl_scale=(1.0,) * 6,
    grip_site="grip",
    hand_axes=((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0)),
    arm_joints=5,
    home=(0.0, -1.108, 1.651, 1.027, 0.0, 0.0),
    gripper_open=0.0,
    gripper_closed=0.05,
    cube_x=(0.28, 0.45),
    cube_y=(-0.18, 0.18),
    target_x=(0.25, 0.45),
    target_y=(-0.2, 0.2),
)

UR5E_2F85 = SimRobot(
    name="ur5e_2f85",
    spec_file="ur5e_2f85.yaml",
    build=_ur5e_model,
    actuators=(
        "shoulder_pan",
        "shoulder_lift",
        "elbow",
        "wrist_1",
        "wrist_2",
        "wrist_3",
        "robotiq_85_fingers_actuator",
    ),  # fmt: skip
    ctrl_scale=(1.0,) * 6 + (255.0 / 0.8,),
    grip_site="robotiq_85_pinch",
    # the 2F-85 approaches along its base's z and closes along its y
    hand_axes=((0, 0, -1.0), (0, 1.0, 0), (1.0, 0, 0)),
    arm_joints=6,
    home=(-1.873, -1.612, 2.095, -2.053, -1.571, -3.444, 0.0),  # oracle.home_pose (0.45, 0, 0.15)
    gripper_open=0.0,
    gripper_closed=0.8,
    cube_x=(0.38, 0.58),
    cube_y=(-0.2, 0.2),
    target_x=(0.35, 0.6),
    target_y=(-0.22, 0.22),
    scene_option=_ur5e_option,
    arrive_tol=0.01,  # its position servos lag the commands by about 0.2 s
    # the sim's fingers close in 0.2 s, the 2F-85's limit (1.41 rad/s) takes 0.57 s: data
    # stepped at once taught policies to lift before the filtered close had finished
    operator_rate_limits_gripper=True,
)

ROBOTS = {r.name: r for r in (SIM_ARM6, UR5E_2F85)}


def sim_robot(name: str) -> SimRobot:
    try:
        return ROBOTS[name]
    except KeyError:
        raise ValueError(
            f"robot.name: the simulator hosts {sorted(ROBOTS)}, not {name!r}"
        ) from None


def hand_rotation(robot: SimRobot, down: np.ndarray) -> np.ndarray:
    """The tool site's world rotation for a canonical hand rotation ``down``."""
    return down @ np.asarray(robot.hand_axes, float).T
