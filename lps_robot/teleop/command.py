"""What every teleop device produces: an end-effector twist, a gripper target, a deadman."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _zeros() -> np.ndarray:
    return np.zeros(3)


@dataclass(frozen=True)
class TeleopCommand:
    """An end-effector velocity in the robot's base frame (m/s, rad/s), a gripper target
    (0 open .. 1 closed; None leaves it where it is) and whether the deadman is held (no
    motion without it)."""

    linear: np.ndarray = field(default_factory=_zeros)
    angular: np.ndarray = field(default_factory=_zeros)
    gripper: float | None = None
    deadman: bool = False


HOLD = TeleopCommand()


def bounded(cmd: TeleopCommand, max_linear: float, max_angular: float) -> TeleopCommand:
    """``cmd`` made safe to act on: a non-finite value anywhere drops the deadman (hostile or
    broken input moves nothing); speeds are scaled down to ``max_linear`` / ``max_angular``
    (direction kept); the gripper target is clipped to [0, 1]."""
    lin = np.asarray(cmd.linear, np.float64).reshape(-1)[:3]
    ang = np.asarray(cmd.angular, np.float64).reshape(-1)[:3]
    grip = cmd.gripper
    finite = lin.size == 3 and ang.size == 3 and np.isfinite(lin).all() and np.isfinite(ang).all()
    if grip is not None and not np.isfinite(grip):
        finite = False
    if not finite:
        return TeleopCommand(gripper=None, deadman=False)
    lin = _cap(lin, max_linear)
    ang = _cap(ang, max_angular)
    grip = None if grip is None else float(np.clip(grip, 0.0, 1.0))
    return TeleopCommand(lin, ang, grip, bool(cmd.deadman))


def _cap(v: np.ndarray, limit: float) -> np.ndarray:
    """``v`` scaled down to norm ``limit`` (computed without overflow for huge values)."""
    peak = float(np.abs(v).max())
    if peak == 0.0:
        return v
    unit = v / peak
    norm = float(np.linalg.norm(unit))
    return unit * (limit / norm) if norm > limit / peak else v
