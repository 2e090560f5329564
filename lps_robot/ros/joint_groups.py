"""Joint states and commands split as a ros2_control arm with a separate gripper driver has them.

One ``/joint_states`` publisher for the joints in no command group (the arm's broadcaster)
and one per group (e.g. the gripper driver's), each with its own joints: subscribers merge
them by name. Commands likewise: one topic for the arm, one per group (`subscribe_commands`,
`command_publishers`). Shared by the sim node, the fake robot, the recorder and the teleop
node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.publisher import Publisher
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from lps_robot.spec import RobotSpec


def subscribe_commands(
    node: Node,
    robot: RobotSpec,
    topic: str,
    on_command: Callable[[Any, list[int], str], None],
    msg_type: type = Float64MultiArray,
    under_main: bool = False,
) -> list[tuple[str, list[int]]]:
    """One subscription per command topic (``topic`` for the arm, each group's own, or
    ``<topic>/<group>`` with ``under_main``); ``on_command(msg, joint indices, topic)``.
    Returns the (topic, joint indices) split."""
    split = [(t, list(idx)) for t, idx in robot.command_split(topic, under_main=under_main)]
    for t, idx in split:
        node.create_subscription(msg_type, t, lambda m, i=idx, t=t: on_command(m, i, t), 10)
    return split


def command_publishers(
    node: Node, robot: RobotSpec, topic: str, under_main: bool = False
) -> list[tuple[Publisher, list[int]]]:
    """A Float64MultiArray publisher per command topic, with the joints it carries."""
    return [
        (node.create_publisher(Float64MultiArray, t, 10), list(idx))
        for t, idx in robot.command_split(topic, under_main=under_main)
    ]


def publish_command(pubs: list[tuple[Publisher, list[int]]], command: np.ndarray) -> None:
    """Each publisher's joints of ``command`` (spec joint order)."""
    for pub, idx in pubs:
        pub.publish(Float64MultiArray(data=[float(v) for v in command[idx]]))


class GroupedJointStates:
    def __init__(self, node: Node, robot: RobotSpec, reverse_main: bool = False) -> None:
        """``reverse_main``: the arm's joints in reverse spec order (subscribers must
        reorder by name)."""
        parts = [list(idx) for _, idx in robot.command_split("")]  # ungrouped first, if any
        has_main = len(parts) > len(robot.command_groups)
        if reverse_main and has_main:
            parts[0].reverse()
        self.names = list(robot.joint_names)
        self.parts = [(node.create_publisher(JointState, "/joint_states", 10), i) for i in parts]

    def publish(self, stamp, position: np.ndarray, velocity: np.ndarray | None = None) -> None:
        for pub, idx in self.parts:
            msg = JointState(name=[self.names[i] for i in idx])
            msg.header.stamp = stamp
            msg.position = [float(v) for v in position[idx]]
            msg.velocity = (
                [0.0] * len(idx) if velocity is None else [float(v) for v in velocity[idx]]
            )
            pub.publish(msg)
