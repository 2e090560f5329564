"""The last gate before a motor: finite targets only, joint limits, bounded steps.

Every command is bounded twice: within one velocity step of the previous command, and within
one step plus the joint's tracking tolerance of where the arm *is* (the measured position).
The second bound is what keeps a robot that stalls or freezes from being told to jump when it
resumes: commands cannot walk away from an arm that does not follow them. A third rule
forbids blind steps: a joint whose measurement is not newer than at the previous tick
(``fresh`` False) may not be commanded further from its measured position than it already
is. Two faults hold with their own reason and re-anchor the command at the measured position:

- ``tracking_error:<joint>``: the arm is further from the last command than that bound (it
  was pushed, jumped, or its driver restarted elsewhere);
- ``not_following:<joint>``: the arm bound has held a joint back for ``follow_ticks`` ticks
  in a row (the arm is stuck, frozen while its joint states keep arriving, or pushing into
  an obstacle).
"""

from __future__ import annotations

import math

import numpy as np

from lps_robot.spec import RobotSpec

FOLLOW_S = 0.5  # default: a joint held back by the arm bound this long is not following


class SafetyError(ValueError):
    """The filter's limits or rate are invalid; it refuses to exist rather than invert."""


class SafetyFilter:
    """Maps a policy target to a safe joint command, or holds.

    A hold commands the last safe command (or, before any, the measured position clamped to
    the limits). The step per tick is bounded by ``velocity_limits / control_rate``.
    """

    def __init__(
        self,
        robot: RobotSpec,
        rate_hz: float | None = None,
        step_scale: float = 1.0,
        follow_ticks: int | None = None,
    ):
        self.names = tuple(robot.joint_names)
        self.lower = np.asarray(robot.position_lower, np.float64)
        self.upper = np.asarray(robot.position_upper, np.float64)
        velocity = np.asarray(robot.velocity_limits, np.float64)
        rate = robot.control_rate_hz if rate_hz is None else rate_hz
        # A filter that can be inverted is worse than none: a negative rate once made the step
        # bound negative, and np.clip with min > max drove every joint to its lower limit.
        n = len(robot.joint_names)
        if not (self.lower.shape == self.upper.shape == velocity.shape == (n,)):
            raise SafetyError(f"limits: expected {n} values per limit (one per joint)")
        if not (np.isfinite(self.lower).all() and np.isfinite(self.upper).all()):
            raise SafetyError("position limits: expected finite numbers")
        if not (self.lower < self.upper).all():
            raise SafetyError("position limits: expected lower < upper for every joint")
        if not (np.isfinite(velocity).all() and (velocity > 0).all()):
            raise SafetyError(f"velocity_limits: expected finite values > 0, got {velocity}")
        if not (np.isfinite(rate) and rate > 0):
            raise SafetyError(f"control rate: expected a finite rate > 0 Hz, got {rate}")
        if not (np.isfinite(step_scale) and step_scale > 0):
            raise SafetyError(f"step_scale: expected a finite value > 0, got {step_scale}")
        tolerance = np.asarray(robot.tracking, np.float64)
        if tolerance.shape != (n,) or not (np.isfinite(tolerance).all() and (tolerance > 0).all()):
            raise SafetyError(f"tracking_tolerance: expected {n} finite values > 0")
        self.max_step = velocity / rate * step_scale
        self.arm_bound = self.max_step + tolerance  # |command - measured position| allowed
        self.follow_ticks = follow_ticks or max(2, math.ceil(FOLLOW_S * rate))
        self._held_back = np.zeros(n, np.int64)
        self.last: np.ndarray | None = None

    def reset(self) -> None:
        self.last = None
        self._held_back[:] = 0

    def _anchor(self, position: np.ndarray) -> np.ndarray:
        self.last = np.clip(np.asarray(position, np.float64), self.lower, self.upper)
        self._held_back[:] = 0
        return self.last

    def _far(self, position: np.ndarray | None) -> int | None:
        """The first joint whose measured position is beyond the arm bound of the last
        command, or None."""
        if self.last is None or position is None:
            return None
        far = np.abs(self.last - position) > self.arm_bound + 1e-9
        return int(np.argmax(far)) if far.any() else None

    def hold(self, position: np.ndarray | None) -> np.ndarray | None:
        """The command that holds still; None if nothing safe is known yet. With a measured
        position, never a command beyond the arm bound of it (re-anchored there instead)."""
        ok = position is not None and np.isfinite(position).all()
        if self.last is not None and not (ok and self._far(position) is not None):
            return self.last
        return self._anchor(position) if ok else self.last

    def __call__(
        self,
        target: np.ndarray | None,
        position: np.ndarray | None,
        fresh: np.ndarray | None = None,
    ) -> tuple[np.ndarray | None, str]:
        """(command, status); status is 'ok', 'clamped' or the reason for holding.
        ``fresh``: per joint, whether its measurement is newer than at the last call."""
        if target is None:
            return self.hold(position), "no_action"
        target = np.asarray(target, np.float64)
        if target.shape != self.lower.shape or not np.isfinite(target).all():
            return self.hold(position), "invalid_action"
        if position is None or not np.isfinite(position).all():
            return self.hold(None), "no_reference"
        position = np.asarray(position, np.float64)
        far = self._far(position)
        if far is not None:
            return self._anchor(position), f"tracking_error:{self.names[far]}"
        ref = self._anchor(position) if self.last is None else self.last
        cmd = np.clip(target, self.lower, self.upper)
        cmd = ref + np.clip(cmd - ref, -self.max_step, self.max_step)
        reach = self.arm_bound
        if fresh is not None:  # no new measurement: no step further away from the arm
            reach = np.where(fresh, reach, np.minimum(reach, np.abs(ref - position)))
        bounded = np.clip(cmd, position - reach, position + reach)
        held = (np.abs(bounded - cmd) > 1e-12) & (True if fresh is None else fresh)
        self._held_back = np.where(held, self._held_back + 1, 0)
        if (self._held_back >= self.follow_ticks).any():
            joint = self.names[int(np.argmax(self._held_back))]
            return self._anchor(position), f"not_following:{joint}"
        cmd = np.clip(bounded, self.lower, self.upper)
        self.last = cmd
        return cmd, "ok" if np.allclose(cmd, target) else "clamped"
