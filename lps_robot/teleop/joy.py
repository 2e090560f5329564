"""Gamepads through ``sensor_msgs/Joy`` (what ROS 2's ``joy`` node publishes).

A `JoyMapping` says which axis drives which twist component (with a scale, negative to flip
it), which button is the deadman and which buttons close and open the gripper. The default
fits the common Xbox-layout pads under Linux (``joy`` with the xpad driver): left stick
forward/back and left/right, right stick up/down and yaw, LB the deadman, A closes, B opens.
A YAML file (``teleop_joy.yaml``) overrides any part of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from lps_robot.dcio import ConfigError, from_plain
from lps_robot.teleop.command import TeleopCommand

TWIST_AXES = ("linear_x", "linear_y", "linear_z", "angular_x", "angular_y", "angular_z")


@dataclass(frozen=True)
class AxisMap:
    """One twist component from one axis: ``scale`` times the axis value (-1..1)."""

    axis: int = -1  # -1: not driven
    scale: float = 1.0


@dataclass(frozen=True)
class JoyMapping:
    linear_x: AxisMap = field(default_factory=lambda: AxisMap(1, 1.0))
    linear_y: AxisMap = field(default_factory=lambda: AxisMap(0, 1.0))
    linear_z: AxisMap = field(default_factory=lambda: AxisMap(4, 1.0))
    angular_x: AxisMap = field(default_factory=AxisMap)
    angular_y: AxisMap = field(default_factory=AxisMap)
    angular_z: AxisMap = field(default_factory=lambda: AxisMap(3, 1.0))
    deadman_button: int = 4  # LB
    close_button: int = 0  # A
    open_button: int = 1  # B
    start_button: int = 7  # Start: begin an episode (a recording session)
    success_button: int = 3  # Y: stop it as a success
    failure_button: int = 2  # X: stop it as a failure
    discard_button: int = 6  # Back: discard it
    deadzone: float = 0.1  # |axis| below this counts as 0
    max_linear: float = 0.15  # m/s at full stick
    max_angular: float = 0.6  # rad/s at full stick

    def __post_init__(self) -> None:
        if not 0.0 <= self.deadzone < 1.0:
            raise ConfigError(f"deadzone: expected 0 <= deadzone < 1, got {self.deadzone}")
        for name in ("max_linear", "max_angular"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ConfigError(f"{name}: expected a finite value > 0, got {value}")

    @classmethod
    def load(cls, path: str | Path | None) -> JoyMapping:
        """The default mapping, with what ``path`` (YAML) sets; errors name the file and field."""
        if not path:
            return cls()
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
            return from_plain(cls, data)
        except (OSError, yaml.YAMLError, ConfigError) as e:
            raise ConfigError(f"{path}: {e}") from None


def _pressed(buttons: Sequence[int], index: int) -> bool:
    return 0 <= index < len(buttons) and bool(buttons[index])


def joy_to_command(
    axes: Sequence[float], buttons: Sequence[int], mapping: JoyMapping
) -> TeleopCommand:
    """One Joy message as a command. Axes or buttons a pad does not have read as zero and
    released; values beyond -1..1 are clipped (a driver glitch is not a faster robot)."""
    values = []
    for name in TWIST_AXES:
        m: AxisMap = getattr(mapping, name)
        v = float(axes[m.axis]) if 0 <= m.axis < len(axes) else 0.0
        v = float(np.clip(v, -1.0, 1.0)) if np.isfinite(v) else float("nan")
        if abs(v) < mapping.deadzone:
            v = 0.0
        values.append(v * m.scale)
    lin = np.array(values[:3]) * mapping.max_linear
    ang = np.array(values[3:]) * mapping.max_angular
    close, open_ = _pressed(buttons, mapping.close_button), _pressed(buttons, mapping.open_button)
    gripper = 1.0 if close and not open_ else 0.0 if open_ and not close else None
    return TeleopCommand(lin, ang, gripper, _pressed(buttons, mapping.deadman_button))


def command_to_joy(cmd: TeleopCommand, mapping: JoyMapping) -> tuple[list[float], list[int]]:
    """The Joy message (axes, buttons) that ``mapping`` reads back as ``cmd``: a virtual
    gamepad, for operators that are programs (the keyboard session, the scripted operator)."""
    twist = [*np.asarray(cmd.linear, float), *np.asarray(cmd.angular, float)]
    fields = [getattr(mapping, n) for n in TWIST_AXES]
    n_axes = max([m.axis for m in fields] + [0]) + 1
    axes = [0.0] * n_axes
    for value, m, name in zip(twist, fields, TWIST_AXES, strict=True):
        if m.axis >= 0 and m.scale != 0:
            top = mapping.max_linear if name.startswith("linear") else mapping.max_angular
            axes[m.axis] = float(np.clip(value / (top * m.scale), -1.0, 1.0))
    used = [mapping.deadman_button, mapping.close_button, mapping.open_button]
    buttons = [0] * (max(used) + 1)
    buttons[mapping.deadman_button] = int(cmd.deadman)
    if cmd.gripper is not None:
        buttons[mapping.close_button if cmd.gripper >= 0.5 else mapping.open_button] = 1
    return axes, buttons
