"""One teleop tick, without ROS: the latest device input and the follower's measured joints
-> a safe joint command.

Motion needs the deadman held and input fresher than ``timeout_s``; otherwise the arm holds
its last command. A twist is solved by `DiffIK` from the last command (so motion is smooth
and re-engaging starts where the arm was told to be); a leader arm's joint targets are taken
as they are. Either way the command passes the same `SafetyFilter` as the policy's: joint
limits, a velocity step per tick and a bound around the measured position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lps_robot.runtime.safety import SafetyFilter
from lps_robot.spec import RobotSpec
from lps_robot.teleop.command import TeleopCommand, bounded
from lps_robot.teleop.ik import DiffIK, IKError


@dataclass
class Input:
    """The latest device input and when it arrived (monotonic s); ``joints`` for a leader."""

    command: TeleopCommand | None = None
    joints: np.ndarray | None = None
    time: float | None = None


class TeleopLoop:
    def __init__(
        self,
        robot: RobotSpec,
        ik: DiffIK | None,
        gripper_joint: str = "",
        timeout_s: float = 0.25,
        max_linear: float = 0.15,
        max_angular: float = 0.6,
    ) -> None:
        names = list(robot.joint_names)
        if gripper_joint and gripper_joint not in names:
            raise IKError(f"gripper_joint: '{gripper_joint}' is not a spec joint {names}")
        self.arm = np.array([names.index(j) for j in ik.joints]) if ik is not None else None
        self.grip = names.index(gripper_joint) if gripper_joint else None
        self.lower = np.asarray(robot.position_lower, np.float64)
        self.upper = np.asarray(robot.position_upper, np.float64)
        self.ik, self.dt = ik, 1.0 / robot.control_rate_hz
        self.timeout_s, self.max_linear, self.max_angular = timeout_s, max_linear, max_angular
        self.safety = SafetyFilter(robot)
        self.gripper = None  # 0 open .. 1 closed, once a button was pressed

    def tick(
        self, now: float, position: np.ndarray | None, fresh: np.ndarray | None, inp: Input
    ) -> tuple[np.ndarray | None, str]:
        """(the command to publish or None, status): 'moving', or why the arm holds."""
        if position is None or not np.isfinite(position).all():
            return self.safety.hold(None), "no_joint_states"
        if inp.time is None or now - inp.time > self.timeout_s:
            return self.safety.hold(position), "input_timeout" if inp.time else "no_input"
        if inp.joints is not None:
            target = inp.joints
        else:
            cmd = bounded(inp.command or TeleopCommand(), self.max_linear, self.max_angular)
            if not cmd.deadman:
                return self.safety.hold(position), "deadman_released"
            target = self._solve(cmd, position)
            if target is None:
                return self.safety.hold(position), "ik_failed"
        command, status = self.safety(target, position, fresh)
        return command, "moving" if status in ("ok", "clamped") else status

    def _solve(self, cmd: TeleopCommand, position: np.ndarray) -> np.ndarray | None:
        ref = self.safety.last if self.safety.last is not None else position
        target = np.array(ref, np.float64)
        if self.ik is not None and (cmd.linear.any() or cmd.angular.any()):
            try:
                target[self.arm] = self.ik.step(ref[self.arm], cmd.linear, cmd.angular, self.dt)
            except Exception:  # noqa: BLE001 - mink's NoSolutionFound and numerical failures
                return None
        if self.grip is not None:
            if cmd.gripper is not None:
                self.gripper = cmd.gripper
            if self.gripper is not None:
                lo, hi = self.lower[self.grip], self.upper[self.grip]
                target[self.grip] = lo + self.gripper * (hi - lo)
        return target
