"""The last gate before a motor: finite targets only, joint limits, bounded step per tick."""

from __future__ import annotations

import numpy as np

from lps_robot.spec import RobotSpec


class SafetyError(ValueError):
    """The filter's limits or rate are invalid; it refuses to exist rather than invert."""


class SafetyFilter:
    """Maps a policy target to a safe joint command, or holds.

    A hold commands the last safe command (or, before any, the measured position clamped to
    the limits). The step per tick is bounded by ``velocity_limits / control_rate``.
    """

    def __init__(self, robot: RobotSpec, rate_hz: float | None = None, step_scale: float = 1.0):
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
        self.max_step = velocity / rate * step_scale
        self.last: np.ndarray | None = None

    def reset(self) -> None:
        self.last = None

    def hold(self, position: np.ndarray | None) -> np.ndarray | None:
        """The command that holds still; None if nothing safe is known yet."""
        if self.last is not None:
            return self.last
        if position is not None and np.isfinite(position).all():
            self.last = np.clip(np.asarray(position, np.float64), self.lower, self.upper)
            return self.last
        return None

    def __call__(
        self, target: np.ndarray | None, position: np.ndarray | None
    ) -> tuple[np.ndarray | None, str]:
        """(command, status); status is 'ok', 'clamped' or the reason for holding."""
        if target is None:
            return self.hold(position), "no_action"
        target = np.asarray(target, np.float64)
        if target.shape != self.lower.shape or not np.isfinite(target).all():
            return self.hold(position), "invalid_action"
        ref = self.hold(position) if self.last is None else self.last
        if ref is None:
            return None, "no_reference"
        cmd = np.clip(target, self.lower, self.upper)
        cmd = ref + np.clip(cmd - ref, -self.max_step, self.max_step)
        cmd = np.clip(cmd, self.lower, self.upper)
        self.last = cmd
        return cmd, "ok" if np.allclose(cmd, target) else "clamped"
