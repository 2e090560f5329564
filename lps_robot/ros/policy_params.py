"""The policy controller's parameters: one table, checked without ROS (`Param`).

``config/policy.yaml`` sets them on a robot; the node turns each into a ROS descriptor so
``ros2 param describe`` shows the same facts. `declare_all` declares and checks them at
start, `check_change` checks a change at run time, `timing` derives the loop's rate, period
and joint-state age limit from them and the robot spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

from lps_robot.runtime.ahead import INFERENCE_MODES
from lps_robot.runtime.executor import MODES
from lps_robot.runtime.loader import DEFAULT_MAX_BYTES
from lps_robot.runtime.params import Param, ParameterError
from lps_robot.runtime.policy import EXECUTION_PROVIDERS
from lps_robot.spec import Spec

MAX_AGE_PERIODS = 5  # max_obs_age_s may not exceed this many control periods
AUTO_AGE_PERIODS = 4  # max_obs_age_s 0: this many periods
NODE_NAME = "lps_policy"
PARAMETERS: tuple[Param, ...] = (  # config/policy.yaml sets them on a robot
    Param(
        "policy_path",
        "",
        "ONNX policy loaded at configure (the watched link wins when it resolves); set it at "
        "run time to hot-swap: the reply refuses a missing, non-regular or oversized file at "
        "once; the load then runs in the background and its result shows on /diagnostics",
        read_only=False,
    ),
    Param("robot_spec", "", "robot spec YAML (empty: the packaged sim_arm spec)"),
    Param(
        "command_topic",
        "forward_position_controller/commands",
        "joint command topic (relative names resolve in the node's namespace)",
    ),
    Param(
        "command_type",
        "float64_array",
        "command message type",
        choices=("float64_array", "joint_trajectory"),
    ),
    Param(
        "joint_states_topic",
        "joint_states",
        "sensor_msgs/JointState topic (relative names resolve in the node's namespace)",
    ),
    Param(
        "control_rate_hz",
        0.0,
        "control rate in Hz; 0 uses the robot spec's, which policies are trained and checked "
        "at; another value needs allow_rate_override",
        low=0.0,
        high=2000.0,
        low_open=True,
        zero_ok=True,
    ),
    Param(
        "allow_rate_override",
        False,
        "run at a control_rate_hz other than the spec's (policies then run at a rate they were "
        "not trained at)",
    ),
    Param(
        "max_obs_age_s",
        0.0,
        "hold when the joint states are older than this (s); 0: 4 control periods; at most "
        f"{MAX_AGE_PERIODS} periods (every tick on older states is a step taken blind)",
        low=1e-3,
        high=1.0,
        zero_ok=True,
    ),
    Param(
        "max_image_age_s", 0.2, "hold when a camera frame is older than this", low=1e-3, high=1.0
    ),
    Param(
        "clock_skew_tolerance_s",
        1.0,
        "joint-state header stamps further than this from our clock are treated as clock "
        "skew (warned, receipt time used); closer ones give the joint's age",
        low=0.0,
        high=3600.0,
    ),
    Param(
        "discovery_grace_s",
        4.0,
        "listen for other publishers on the command topic at least this long after the node "
        "starts, and half of it after activating with the ROS graph unchanged, before the "
        "first command (a second controller on it is refused or holds both); keep it above "
        "the DDS participant announcement period (Fast DDS: 3 s)",
        low=0.0,
        high=10.0,
    ),
    Param("execution", "open_loop", "chunk execution", choices=MODES),
    Param(
        "inference",
        "tick",
        "tick: a chunk is computed on the tick that needs it; ahead: on a worker thread, "
        "started early enough from the freshest observation that no tick waits for it "
        "(open_loop only; the warm-up budget then spans chunk_length - 1 periods)",
        choices=INFERENCE_MODES,
    ),
    Param(
        "execution_provider",
        "auto",
        "onnxruntime execution provider: auto (CUDA when this onnxruntime has it, else the "
        "CPU) | cpu | cuda | tensorrt; the one running shows on /diagnostics",
        choices=EXECUTION_PROVIDERS,
    ),
    Param("ensemble_decay", 0.1, "temporal ensembling weight decay", low=0.0, high=10.0),
    Param("watch_path", "", "policy file or link to watch for hot-swaps"),
    Param("watch_period_s", 0.5, "file watch period", low=0.05, high=60.0),
    Param(
        "autostart",
        "configure",
        "lifecycle transitions taken at start: none | configure | activate",
        choices=("none", "configure", "activate"),
    ),
    Param("warmup_iters", 20, "inference runs before a policy may take over", low=1, high=10**4),
    Param(
        "warmup_latency_fraction",
        0.5,
        "reject a policy whose warm-up p99 latency exceeds this fraction of the period",
        low=0.0,
        high=1.0,
        low_open=True,
    ),
    Param(
        "load_timeout_s",
        10.0,
        "give up loading + warming up a policy after this",
        low=0.1,
        high=600.0,
    ),
    Param(
        "max_policy_bytes", DEFAULT_MAX_BYTES, "refuse larger policy files", low=1, high=2**31 - 1
    ),
    Param(
        "probation_ticks",
        50,
        "commanded ticks after a swap during which a failing policy is rolled back",
        low=0,
        high=10**6,
    ),
    Param(
        "probation_max_misses",
        1,
        "deadline misses (inference longer than the period) tolerated during probation",
        low=0,
        high=10**6,
    ),
    Param("threads", 1, "onnxruntime intra-op threads", low=1, high=64),
    Param("stats_path", "", "write a JSON summary of loop statistics here once a second"),
    Param(
        "thread_priority",
        0,
        "SCHED_FIFO priority of the control thread (ros2_control's controller manager uses "
        "50; needs rtprio rights: limits.conf or CAP_SYS_NICE, else a warning and normal "
        "scheduling); 0: normal scheduling (see docs/benchmarks.md for what it changed here)",
        low=0,
        high=99,
    ),
    Param(
        "gil_switch_interval_ms",
        0.5,
        "Python's thread switch interval (default 5 ms): how long the control thread may wait "
        "for the GIL after its deadline while a callback runs; 0 keeps Python's default",
        low=0.01,
        high=100.0,
        zero_ok=True,
    ),
)
PARAMS_BY_NAME = {p.name: p for p in PARAMETERS}
_ROS_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}


def default_spec_path() -> str:
    return str(resources.files("lps_robot") / "specs" / "sim_arm.yaml")


def descriptor(p: Param) -> ParameterDescriptor:
    """The ROS descriptor of a parameter: type, description, range or choices, read-only."""
    d = ParameterDescriptor(
        name=p.name, type=_ROS_TYPES[p.kind], description=p.description, read_only=p.read_only
    )
    if p.choices:
        d.additional_constraints = f"one of {list(p.choices)}"
    if p.kind is float and p.low is not None and p.high is not None:
        low = min(0.0, p.low) if p.zero_ok else p.low
        d.floating_point_range = [FloatingPointRange(from_value=low, to_value=p.high)]
    elif p.kind is int and p.low is not None and p.high is not None:
        d.integer_range = [IntegerRange(from_value=int(p.low), to_value=int(p.high), step=1)]
    if p.low_open or p.zero_ok:
        d.additional_constraints = (
            f"{'> ' if p.low_open else '>= '}{p.low:g}{' or 0' if p.zero_ok else ''}"
        )
    return d


def diag_value(v: object) -> str:
    """A plain-string diagnostic value (no JSON quoting)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def declare_all(node: Node, table: tuple[Param, ...] = PARAMETERS) -> dict:
    """Declare every parameter of ``table`` on ``node`` with its descriptor; their checked
    values. Raises `ParameterError` naming the first bad one."""
    values = {}
    for p in table:
        try:
            value = node.declare_parameter(p.name, p.default, descriptor(p)).value
        except (InvalidParameterValueException, InvalidParameterTypeException) as e:
            raise ParameterError(f"parameter {p.name}: {e}") from None
        reason = p.check(value)
        if reason:
            raise ParameterError(f"parameter {reason}")
        values[p.name] = value
    return values


def check_change(name: str, value: object) -> str:
    """Why a run-time change of parameter ``name`` to ``value`` is refused; '' if allowed
    (names outside the table are not ours to check)."""
    spec = PARAMS_BY_NAME.get(name)
    if spec is None:
        return ""
    reason = spec.check(value)
    if reason:
        return reason
    return f"{name} is read-only at run time" if spec.read_only else ""


@dataclass(frozen=True)
class Timing:
    """The loop's rate and period, and how old joint states may be before it holds."""

    rate: float
    period: float
    max_age: float
    spec_rate: float


def timing(p: dict, robot: Spec) -> Timing:
    """`Timing` from the parameters and the robot spec; `ParameterError` when the rate
    departs from the spec's without ``allow_rate_override`` or ``max_obs_age_s`` allows more
    than `MAX_AGE_PERIODS` periods of blind steps."""
    spec_rate = robot.robot.control_rate_hz
    rate = p["control_rate_hz"] or spec_rate
    if abs(rate - spec_rate) > 1e-9 and not p["allow_rate_override"]:
        raise ParameterError(
            f"parameter control_rate_hz: {rate:g} Hz differs from the robot spec's "
            f"{spec_rate:g} Hz, which policies are trained and checked at "
            "(set allow_rate_override:=true to run it anyway)"
        )
    period = 1.0 / rate
    max_age = p["max_obs_age_s"] or AUTO_AGE_PERIODS * period
    if max_age > MAX_AGE_PERIODS * period + 1e-9:
        raise ParameterError(
            f"parameter max_obs_age_s: {max_age:g} s is more than {MAX_AGE_PERIODS} control "
            f"periods ({MAX_AGE_PERIODS * period:g} s at {rate:g} Hz); older joint states "
            "mean steps taken blind"
        )
    return Timing(rate, period, max_age, spec_rate)
