"""The observation/action spec: one source of truth shared by recording, training, export and
the controller node.

A `Spec` is written into every HDF5 file, read by the trainer, embedded in the exported ONNX
model's metadata and checked by the node against its robot config. It is plain frozen
dataclasses (no torch, no ROS) that load from and save to YAML and JSON. Validation errors are
`SpecError`s whose message starts with the dotted path of the offending field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lps_robot.dcio import ConfigError, from_plain, to_plain

ACTION_TYPES = ("joint_position", "joint_delta", "ee_delta")
IMAGE_ENCODINGS = ("rgb8", "bgr8")


class SpecError(ConfigError):
    """A spec field is missing or invalid; the message names the field and what was expected."""


def _fail(name: str, msg: str) -> None:
    raise SpecError(f"{name}: {msg}")


def _check_len(name: str, values: tuple, n: int, what: str) -> None:
    if len(values) != n:
        _fail(name, f"expected {n} values ({what}), got {len(values)}")


def _check_finite(name: str, values: tuple) -> None:
    for i, v in enumerate(values):
        if not math.isfinite(v):
            _fail(f"{name}[{i}]", f"expected a finite number, got {v}")


def _check_filled(data: Any) -> None:
    """A limit left empty (``lps spec init`` leaves what the model does not say) is refused
    with the joint it belongs to, before the generic type checks."""
    robot = data.get("robot") if isinstance(data, dict) else None
    if not isinstance(robot, dict):
        return
    names = robot.get("joint_names") or []
    for fname, unit in (
        ("velocity_limits", "the arm's published limit, rad/s (m/s for a prismatic joint)"),
        ("position_lower", "the joint's lower limit, rad (m for a prismatic joint)"),
        ("position_upper", "the joint's upper limit, rad (m for a prismatic joint)"),
    ):
        values = robot.get(fname)
        if not isinstance(values, list):
            continue
        for i, v in enumerate(values):
            if v is None:
                joint = names[i] if i < len(names) else f"#{i}"
                _fail(f"robot.{fname}[{i}]", f"joint '{joint}' has none: fill in {unit}")


DEFAULT_TRACKING_S = 0.15  # default tracking tolerance: 0.15 s of motion at the velocity limit


@dataclass(frozen=True)
class CommandGroup:
    """Joints commanded on a topic of their own (a gripper on its own forward command
    controller, as ros2_control with a separate gripper driver has it)."""

    name: str  # e.g. "gripper"
    joints: tuple[str, ...]  # spec joints, commanded in spec order
    topic: str  # its std_msgs/Float64MultiArray (or JointTrajectory) command topic


@dataclass(frozen=True)
class RobotSpec:
    """The arm: joint order, limits and the control rate."""

    name: str  # robot name, e.g. "sim_arm6"
    joint_names: tuple[str, ...]  # commanded joints, in command order
    position_lower: tuple[float, ...]  # lower position limit per joint (rad or m)
    position_upper: tuple[float, ...]  # upper position limit per joint
    velocity_limits: tuple[float, ...]  # max |velocity| per joint (units/s), bounds the step
    control_rate_hz: float  # control loop rate
    # how far (rad or m) each joint may lag its command before the arm is said not to follow
    # it; None: the distance it covers in DEFAULT_TRACKING_S at its velocity limit. A gripper
    # closing on an object lags by up to its whole stroke.
    tracking_tolerance: tuple[float, ...] | None = None
    # joints commanded on topics of their own; the rest go to the node's command topic
    command_groups: tuple[CommandGroup, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        self._check_groups()
        if n == 0:
            _fail("joint_names", "expected at least one joint")
        if len(set(self.joint_names)) != n:
            _fail("joint_names", f"expected unique names, got {list(self.joint_names)}")
        for fname in ("position_lower", "position_upper", "velocity_limits"):
            vals = getattr(self, fname)
            _check_len(fname, vals, n, "one per joint")
            _check_finite(fname, vals)
        for i, (lo, hi) in enumerate(zip(self.position_lower, self.position_upper, strict=True)):
            if not lo < hi:
                _fail(
                    f"position_lower[{i}]",
                    f"expected lower < upper for joint '{self.joint_names[i]}', got {lo} >= {hi}",
                )
        for i, v in enumerate(self.velocity_limits):
            if v <= 0:
                _fail(f"velocity_limits[{i}]", f"expected > 0, got {v}")
        if not self.control_rate_hz > 0:
            _fail("control_rate_hz", f"expected > 0, got {self.control_rate_hz}")
        if self.tracking_tolerance is not None:
            _check_len("tracking_tolerance", self.tracking_tolerance, n, "one per joint")
            _check_finite("tracking_tolerance", self.tracking_tolerance)
            for i, v in enumerate(self.tracking_tolerance):
                if v <= 0:
                    _fail(f"tracking_tolerance[{i}]", f"expected > 0, got {v}")

    def _check_groups(self) -> None:
        seen: dict[str, str] = {}
        names, topics = set(), set()
        for g, group in enumerate(self.command_groups):
            where = f"command_groups[{g}]"
            if not group.joints:
                _fail(f"{where}.joints", "expected at least one joint")
            if group.name in names or group.topic in topics:
                _fail(
                    where, f"expected a unique name and topic, got '{group.name}' on {group.topic}"
                )
            names.add(group.name)
            topics.add(group.topic)
            for j in group.joints:
                if j not in self.joint_names:
                    _fail(f"{where}.joints", f"'{j}' is not one of {list(self.joint_names)}")
                if j in seen:
                    _fail(f"{where}.joints", f"'{j}' is already in group '{seen[j]}'")
                seen[j] = group.name

    def command_split(
        self, main_topic: str, under_main: bool = False
    ) -> list[tuple[str, tuple[int, ...]]]:
        """(topic, joint indices in spec order) per command topic: ``main_topic`` for the
        joints in no group (left out when there are none), then each group's: its own topic,
        or with ``under_main`` ``<main_topic>/<group name>`` (the operator's commands, e.g.
        ``/teleop/joint_command/gripper``)."""
        grouped = {j for g in self.command_groups for j in g.joints}
        index = {n: i for i, n in enumerate(self.joint_names)}
        main = tuple(i for i, n in enumerate(self.joint_names) if n not in grouped)
        out = [(main_topic, main)] if main else []
        for g in self.command_groups:
            topic = f"{main_topic}/{g.name}" if under_main else g.topic
            out.append((topic, tuple(sorted(index[j] for j in g.joints))))
        return out

    @property
    def tracking(self) -> tuple[float, ...]:
        """The tracking tolerance per joint (the spec's, or its default)."""
        if self.tracking_tolerance is not None:
            return tuple(self.tracking_tolerance)
        return tuple(v * DEFAULT_TRACKING_S for v in self.velocity_limits)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)


@dataclass(frozen=True)
class CameraSpec:
    """One camera as recorded (native resolution) and where it publishes."""

    name: str  # observation key, e.g. "front"
    topic: str  # sensor_msgs/Image topic
    width: int  # native width in pixels
    height: int  # native height in pixels
    calibration_id: str | None = None  # file stem in calibration/ (camera_info YAML), or None
    encoding: str = "rgb8"  # pixel encoding of the recorded frames
    # the optical frame (z forward, x right, y down) in ``base_frame``: x, y, z, qx, qy, qz,
    # qw; the launch files publish it as a static TF to ``optical_frame``
    pose: tuple[float, ...] | None = None
    base_frame: str = "base_link"
    # the frame the camera driver stamps its images with ('' = "<name>_color_optical_frame";
    # realsense-ros with camera_name "camera": "camera_color_optical_frame")
    frame_id: str = ""

    @property
    def optical_frame(self) -> str:
        return self.frame_id or f"{self.name}_color_optical_frame"

    def __post_init__(self) -> None:
        if self.pose is not None:
            if len(self.pose) != 7 or not all(math.isfinite(v) for v in self.pose):
                _fail("pose", f"expected 7 finite values (x y z qx qy qz qw), got {self.pose}")
            if abs(math.hypot(*self.pose[3:]) - 1.0) > 1e-3:
                _fail("pose", f"quaternion {self.pose[3:]} is not unit length")
        if not self.base_frame:
            _fail("base_frame", "expected a TF frame name, got ''")
        if not self.name.isidentifier():
            _fail("name", f"expected an identifier-like key, got '{self.name}'")
        for fname in ("width", "height"):
            if getattr(self, fname) <= 0:
                _fail(fname, f"expected a positive pixel count, got {getattr(self, fname)}")
        if self.encoding not in IMAGE_ENCODINGS:
            _fail("encoding", f"expected one of {IMAGE_ENCODINGS}, got '{self.encoding}'")


@dataclass(frozen=True)
class ObsSpec:
    """What the policy sees: preprocessed image keys and proprioceptive vectors."""

    image_keys: tuple[str, ...] = ()  # camera names fed to the policy
    image_size: tuple[int, int] = (64, 64)  # (height, width) after crop + resize
    crop: tuple[int, int, int, int] | None = None  # (x, y, w, h) in native pixels, or None
    proprio_keys: tuple[str, ...] = ("joint_pos",)  # proprioceptive observation keys
    proprio_dims: tuple[int, ...] = (6,)  # dimension of each proprio key

    def __post_init__(self) -> None:
        _check_len("proprio_dims", self.proprio_dims, len(self.proprio_keys), "one per key")
        for i, d in enumerate(self.proprio_dims):
            if d <= 0:
                _fail(f"proprio_dims[{i}]", f"expected > 0, got {d}")
        if len(self.image_size) != 2 or min(self.image_size) <= 0:
            _fail("image_size", f"expected (height, width) > 0, got {self.image_size}")
        if self.crop is not None and (len(self.crop) != 4 or min(self.crop[2:]) <= 0):
            _fail("crop", f"expected (x, y, w, h) with w, h > 0, got {self.crop}")
        keys = self.image_keys + self.proprio_keys
        if len(set(keys)) != len(keys):
            _fail("image_keys", f"expected unique keys across images and proprio, got {keys}")
        if not keys:
            _fail("proprio_keys", "expected at least one observation key")

    @property
    def proprio_dim(self) -> int:
        return sum(self.proprio_dims)


@dataclass(frozen=True)
class ActionSpec:
    """The action the policy emits; `low`/`high` map linearly to [-1, 1] for the model.

    ``joint_position``: absolute joint targets. ``joint_delta``: joint targets relative to the
    joint positions observed at the chunk's first step (every step of a chunk is relative to
    that one observation; the runtime adds it back). ``ee_delta``: end-effector deltas.
    """

    type: str = "joint_position"  # joint_position | joint_delta | ee_delta
    dim: int = 6  # action dimension per step
    low: tuple[float, ...] = ()  # normalisation lower bound per dim (raw units)
    high: tuple[float, ...] = ()  # normalisation upper bound per dim

    def __post_init__(self) -> None:
        if self.type not in ACTION_TYPES:
            _fail("type", f"expected one of {ACTION_TYPES}, got '{self.type}'")
        if self.dim <= 0:
            _fail("dim", f"expected > 0, got {self.dim}")
        _check_len("low", self.low, self.dim, "one per action dim")
        _check_len("high", self.high, self.dim, "one per action dim")
        _check_finite("low", self.low)
        _check_finite("high", self.high)
        for i, (lo, hi) in enumerate(zip(self.low, self.high, strict=True)):
            if not lo < hi:
                _fail(f"low[{i}]", f"expected low < high, got {lo} >= {hi}")


@dataclass(frozen=True)
class PolicySpec:
    """How the policy acts in time."""

    chunk_length: int = 5  # h: actions predicted per query
    execute_steps: int = 5  # actions executed open loop before re-querying (<= chunk_length)

    def __post_init__(self) -> None:
        if self.chunk_length <= 0:
            _fail("chunk_length", f"expected >= 1, got {self.chunk_length}")
        if not 1 <= self.execute_steps <= self.chunk_length:
            _fail(
                "execute_steps",
                f"expected 1..chunk_length={self.chunk_length}, got {self.execute_steps}",
            )


@dataclass(frozen=True)
class NormStats:
    """Proprio normalisation statistics, computed once from the dataset."""

    proprio_mean: tuple[float, ...]  # mean of the concatenated proprio vector
    proprio_std: tuple[float, ...]  # std (floored) of the concatenated proprio vector

    def __post_init__(self) -> None:
        _check_len("proprio_std", self.proprio_std, len(self.proprio_mean), "as proprio_mean")
        _check_finite("proprio_mean", self.proprio_mean)
        _check_finite("proprio_std", self.proprio_std)
        for i, s in enumerate(self.proprio_std):
            if s <= 0:
                _fail(f"proprio_std[{i}]", f"expected > 0, got {s}")


@dataclass(frozen=True)
class Spec:
    """Everything a policy needs to agree on with the robot and the data."""

    robot: RobotSpec
    obs: ObsSpec
    action: ActionSpec
    policy: PolicySpec = field(default_factory=PolicySpec)
    cameras: tuple[CameraSpec, ...] = ()
    stats: NormStats | None = None
    version: int = 1  # spec format version

    def __post_init__(self) -> None:
        names = [c.name for c in self.cameras]
        for i, key in enumerate(self.obs.image_keys):
            if key not in names:
                _fail(f"obs.image_keys[{i}]", f"expected a camera name from {names}, got '{key}'")
        joint_action = self.action.type in ("joint_position", "joint_delta")
        if joint_action and self.action.dim != self.robot.num_joints:
            _fail(
                "action.dim",
                f"expected {self.robot.num_joints} (one per joint for "
                f"'{self.action.type}'), got {self.action.dim}",
            )
        if self.stats is not None:
            _check_len(
                "stats.proprio_mean", self.stats.proprio_mean, self.obs.proprio_dim, "proprio dim"
            )

    def camera(self, name: str) -> CameraSpec:
        for c in self.cameras:
            if c.name == name:
                return c
        raise SpecError(f"cameras: no camera named '{name}'")

    # --- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        if path.suffix == ".json":
            path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
        else:
            path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, data: Any) -> Spec:
        _check_filled(data)
        return from_plain(cls, data, error=SpecError)

    @classmethod
    def from_json(cls, text: str) -> Spec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"spec: expected JSON, got a parse error ({e})") from e
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> Spec:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise SpecError(f"{path}: cannot read spec file ({e.strerror})") from e
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as e:
            raise SpecError(f"{path}: not valid {path.suffix[1:].upper()} ({e})") from e
        try:
            return cls.from_dict(data)
        except SpecError as e:
            raise SpecError(f"{path}: {e}") from e

    def replace(self, **changes: Any) -> Spec:
        return dataclasses.replace(self, **changes)
