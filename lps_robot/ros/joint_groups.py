"""Joint states as a ros2_control arm with a separate gripper driver publishes them.

One ``/joint_states`` publisher for the joints in no command group (the arm's broadcaster)
and one per group (e.g. the gripper driver's), each with its own joints: subscribers merge
them by name. Shared by the MuJoCo sim node and the fake robot.
"""

from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState

from lps_robot.spec import RobotSpec


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
