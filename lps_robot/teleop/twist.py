"""SpaceMouse and other twist sources through ``geometry_msgs/TwistStamped`` (what the ROS 2
``spacenav`` node publishes). A twist device has no deadman button: input that keeps
arriving is the deadman (the node's input timeout stops the arm when it stops)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lps_robot.teleop.command import TeleopCommand


def twist_to_command(
    linear: Sequence[float],
    angular: Sequence[float],
    scale_linear: float = 0.15,
    scale_angular: float = 0.6,
    gripper: float | None = None,
) -> TeleopCommand:
    """A twist (spacenav publishes about -1..1 per axis) scaled to m/s and rad/s."""
    lin = np.asarray(linear, np.float64) * scale_linear
    ang = np.asarray(angular, np.float64) * scale_angular
    return TeleopCommand(lin, ang, gripper, deadman=True)
