"""The policy controller: a managed (lifecycle) node, camera + joint states -> safe commands.

Runs as ``ros2 run lps_robot policy_node`` (via ros_ws) or ``lps node policy --params-file F``.

Lifecycle, as ros2_control and Nav2 do it: *configure* loads the spec, checks the parameters
and loads the policy; *activate* starts commanding; *deactivate* stops (the robot holds its
last command); *cleanup* drops everything. ``autostart`` walks these at start;
``~/enable`` (SetBool) activates or deactivates as a convenience.

Threads: the control loop ticks on its own thread, paced by deadlines; sensors are served by
a second executor on a hidden node of their own (``_<name>_sensors``); parameters, services,
the file watch and diagnostics run on the main executor. Loading and warm-up run on a worker
thread with a timeout, so neither a slow model nor a bad file ever stalls sensors or ticks.
Hot-swap: ``ros2 param set /lps_policy policy_path NEW.onnx`` (the reply carries the
rejection reason) or repointing the watched ``policies/current.onnx``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from importlib import resources
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from lps_robot.dcio import ConfigError
from lps_robot.preprocess import Preprocessor
from lps_robot.ros.convert import image_to_rgb
from lps_robot.ros.logs import LogLimiter
from lps_robot.ros.spin import spin_node
from lps_robot.runtime.controller import ControlLoop, Sensors
from lps_robot.runtime.executor import MODES
from lps_robot.runtime.histogram import Histogram
from lps_robot.runtime.joints import JointStateMerger
from lps_robot.runtime.loader import DEFAULT_MAX_BYTES, WorkerLoader
from lps_robot.runtime.manifest import PolicyRejected
from lps_robot.runtime.params import Param, ParameterError
from lps_robot.runtime.policy import OnnxPolicy
from lps_robot.spec import Spec

NODE_NAME = "lps_policy"
RUNNING = ("ok", "clamped")  # tick statuses that command the policy's action
STALE_PREFIXES = ("stale_", "missing_joint")
PARAMETERS: tuple[Param, ...] = (  # config/policy.yaml sets them on a robot
    Param(
        "policy_path",
        "",
        "ONNX policy loaded at configure (the watched link wins when it resolves); set it at "
        "run time to hot-swap, the reply carries any rejection reason",
        read_only=False,
    ),
    Param("robot_spec", "", "robot spec YAML (empty: the packaged sim_arm spec)"),
    Param("command_topic", "/forward_position_controller/commands", "joint command topic"),
    Param(
        "command_type",
        "float64_array",
        "command message type",
        choices=("float64_array", "joint_trajectory"),
    ),
    Param("joint_states_topic", "/joint_states", "sensor_msgs/JointState topic"),
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
        "max_obs_age_s", 0.2, "hold when an observation is older than this", low=1e-3, high=10.0
    ),
    Param(
        "clock_skew_tolerance_s",
        1.0,
        "joint-state header stamps further than this from our clock are treated as clock "
        "skew (warned, receipt time used); closer ones give the joint's age",
        low=0.0,
        high=3600.0,
    ),
    Param("execution", "open_loop", "chunk execution", choices=MODES),
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
        d.floating_point_range = [FloatingPointRange(from_value=p.low, to_value=p.high)]
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


class PolicyNode(LifecycleNode):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        self._stop = threading.Event()
        self._log = LogLimiter(self.get_logger())  # (level, key, message, period_s)
        self._owned: list = []  # publishers/timers made at configure, destroyed at cleanup
        self._sensor_node = self._sensor_exec = self._sensor_thread = None
        self._control: threading.Thread | None = None
        self.p = self._declare_parameters()
        self.lifecycle = "unconfigured"
        self.enabled = False
        self.robot: Spec | None = None
        self.loop: ControlLoop | None = None
        self.loader: WorkerLoader | None = None  # made at configure
        self.rejected = 0
        self.last_reject = ""
        self.active_path = ""
        self.config_error = ""
        self.ticks = self.missed = self.holds = self.bad_joint_msgs = self.tick_errors = 0
        self.last_status = "unconfigured"
        self.last_hold = ""
        self._seen_rollbacks = 0
        # loop statistics since start, as streaming histograms: O(1) per tick, and reading them
        # never holds the GIL long enough to delay a tick (sorting sample buffers did)
        self.period_sum = 0.0  # seconds over jitter_ms.n ticks: the measured rate
        self.jitter_ms, self.compute_ms = Histogram(), Histogram()
        self.infer_ms, self.obs_age_ms = Histogram(), Histogram()
        self._samples_lock = threading.Lock()  # control thread adds, diagnostics read
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_service(SetBool, "~/enable", self._on_enable)
        self.add_on_set_parameters_callback(self._on_params)
        self.create_timer(1.0, self._on_diagnostics)
        if self.p["gil_switch_interval_ms"] > 0:
            sys.setswitchinterval(self.p["gil_switch_interval_ms"] * 1e-3)
        if self.p["autostart"] != "none":
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise ParameterError(self.config_error or "configure failed")
            if self.p["autostart"] == "activate":
                self.trigger_activate()

    # --- parameters --------------------------------------------------------------------------

    def _declare_parameters(self) -> dict:
        values = {}
        for p in PARAMETERS:
            try:
                value = self.declare_parameter(p.name, p.default, descriptor(p)).value
            except (InvalidParameterValueException, InvalidParameterTypeException) as e:
                raise ParameterError(f"parameter {p.name}: {e}") from None
            reason = p.check(value)
            if reason:
                raise ParameterError(f"parameter {reason}")
            values[p.name] = value
        return values

    def _on_params(self, params) -> SetParametersResult:
        for param in params:
            spec = PARAMS_BY_NAME.get(param.name)
            if spec is None:
                continue
            reason = spec.check(param.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            if spec.read_only:
                return SetParametersResult(
                    successful=False, reason=f"{param.name} is read-only at run time"
                )
            if param.name == "policy_path" and param.value and self.loader is not None:
                reason = self._load_now(param.value)
                if reason:
                    return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    # --- lifecycle ---------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except (ConfigError, ParameterError, ValueError) as e:
            self.config_error = str(e)
            self.get_logger().error(f"configure failed: {e}")
            self._teardown()
            return TransitionCallbackReturn.FAILURE
        self.lifecycle = "inactive"
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.loop is not None
        self.loop.reset()
        self.enabled = True
        self.lifecycle = "active"
        self.get_logger().info("active: commanding")
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.enabled = False
        if self.loop is not None:
            self.loop.reset()
        self.lifecycle = "inactive"
        self.get_logger().info("inactive: not commanding")
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self.lifecycle = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self.lifecycle = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def _configure(self) -> None:
        p = self.p
        robot = Spec.load(p["robot_spec"] or default_spec_path())
        spec_rate = robot.robot.control_rate_hz
        rate = p["control_rate_hz"] or spec_rate
        if abs(rate - spec_rate) > 1e-9 and not p["allow_rate_override"]:
            raise ParameterError(
                f"parameter control_rate_hz: {rate:g} Hz differs from the robot spec's "
                f"{spec_rate:g} Hz, which policies are trained and checked at "
                "(set allow_rate_override:=true to run it anyway)"
            )
        self.robot, self.rate, self.period = robot, rate, 1.0 / rate
        self.loop = ControlLoop(
            robot,
            execution=p["execution"],
            ensemble_decay=p["ensemble_decay"],
            max_obs_age_s=p["max_obs_age_s"],
            rate_hz=rate,
            probation_ticks=p["probation_ticks"],
            probation_max_misses=p["probation_max_misses"],
        )
        self.pre = Preprocessor(robot)
        self.joints = JointStateMerger(robot.robot.joint_names, p["clock_skew_tolerance_s"])
        self.images: dict[str, tuple[np.ndarray, float]] = {}
        self.loader = WorkerLoader(self._build, p["load_timeout_s"])
        if p["command_type"] == "float64_array":
            self.pub = self.create_publisher(Float64MultiArray, p["command_topic"], 10)
        else:
            self.pub = self.create_publisher(JointTrajectory, p["command_topic"], 10)
        self._owned.append(self.pub)
        self._start_sensors(robot)
        self.watch_path = p["watch_path"]
        self._watch_seen = self._watch_key() if self.watch_path else None
        policy_path = self.get_parameter("policy_path").value  # may have been set since start
        first = self._watch_seen[0] if self._watch_seen else policy_path
        if self._watch_seen and policy_path and first != os.path.realpath(policy_path):
            self.get_logger().info(f"the watched {self.watch_path} wins over policy_path")
        if first:
            self._load_now(first)
        if self.watch_path:
            self._owned.append(self.create_timer(p["watch_period_s"], self._on_watch))
        self._stop.clear()
        self._control = threading.Thread(
            target=self._control_loop, name="lps_control", daemon=True
        )
        self._control.start()
        override = " (rate override)" if rate != spec_rate else ""
        self.get_logger().info(
            f"configured: {rate:g} Hz{override} on {p['command_topic']}, "
            f"policy {self.active_path or 'none'}"
        )

    def _start_sensors(self, robot: Spec) -> None:
        """Sensor subscriptions on their own node and executor thread."""
        name = f"_{self.get_name()}_sensors"
        node = rclpy.create_node(
            name,
            namespace=self.get_namespace(),
            context=self.context,
            start_parameter_services=False,
        )
        node.create_subscription(JointState, self.p["joint_states_topic"], self._on_joints, 50)
        for key in robot.obs.image_keys:
            node.create_subscription(
                Image,
                robot.camera(key).topic,
                lambda m, k=key: self._on_image(k, m),
                qos_profile_sensor_data,
            )
        # rclpy's experimental EventsExecutor was measured here: beside the main executor it
        # left the node's services unanswered (~/enable timed out after 20 s), so: not used.
        executor = SingleThreadedExecutor(context=self.context)
        executor.add_node(node)
        self._sensor_node, self._sensor_exec = node, executor
        self._sensor_thread = threading.Thread(
            target=self._spin_sensors, name="lps_sensors", daemon=True
        )
        self._sensor_thread.start()

    def _spin_sensors(self) -> None:
        try:
            self._sensor_exec.spin()
        except Exception as e:  # noqa: BLE001 - shutdown races end the spin; log the rest
            if rclpy.ok(context=self.context):
                self.get_logger().error(f"sensor executor stopped: {e!r}")

    def _teardown(self) -> None:
        self.enabled = False
        self._stop.set()
        if self._control is not None and self._control.is_alive():
            self._control.join(timeout=2)
        self._control = None
        if self._sensor_exec is not None:
            self._sensor_exec.shutdown(timeout_sec=1.0)
            self._sensor_node.destroy_node()
            self._sensor_thread.join(timeout=2)
        self._sensor_node = self._sensor_exec = self._sensor_thread = None
        for entity in self._owned:
            if hasattr(entity, "cancel"):
                entity.cancel()
                self.destroy_timer(entity)
            else:
                self.destroy_publisher(entity)
        self._owned.clear()
        self.loop = self.loader = None
        self.active_path = ""

    def destroy_node(self) -> None:
        self._teardown()
        super().destroy_node()

    # --- sensors (sensor executor thread) ----------------------------------------------------

    def _on_joints(self, msg: JointState) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        note = self.joints.update(
            msg.name, msg.position, msg.velocity, stamp, time.monotonic(), time.time()
        )
        if note is None:
            return
        if note.startswith("malformed"):
            self.bad_joint_msgs += 1
            self._log(
                "warning", "joints", f"{self.p['joint_states_topic']}: refused a {note}", 5.0
            )
        else:
            self._log(
                "warning",
                "skew",
                f"{self.p['joint_states_topic']}: header stamps are {self.joints.last_skew_s:.3f}"
                " s from this clock (clock skew): using receipt times",
                10.0,
            )

    def _on_image(self, key: str, msg: Image) -> None:
        cam = self.robot.camera(key)
        try:
            rgb = image_to_rgb(msg, cam.width, cam.height)
        except ValueError as e:
            self._log("warning", f"camera:{key}", f"camera '{key}': {e}", 5.0)
            return
        self.images[key] = (self.pre.images[key](rgb), time.monotonic())

    def _sensors(self, now: float) -> Sensors:
        pos, vel, t, fault = self.joints.snapshot(now, self.p["max_obs_age_s"])
        return Sensors(pos, vel, t, dict(self.images), fault)

    def _latest_obs(self) -> dict[str, np.ndarray] | None:
        """The latest real observation, for warming a new policy up on it (None if partial)."""
        s = self._sensors(time.monotonic())
        if s.joint_fault or any(k not in s.images for k in self.robot.obs.image_keys):
            return None
        obs = {k: s.images[k][0] for k in self.robot.obs.image_keys}
        obs["joint_pos"] = s.joint_pos
        obs["joint_vel"] = s.joint_vel if s.joint_vel is not None else np.zeros_like(s.joint_pos)
        return obs

    # --- control (control thread) ------------------------------------------------------------

    def _control_loop(self) -> None:
        """Tick at the control rate on deadlines; a late tick is counted, never made up."""
        deadline = time.monotonic()
        self._last_tick: float | None = None
        while not self._stop.is_set():
            deadline += self.period
            delay = deadline - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -self.period:
                deadline = time.monotonic()  # fell behind: restart the schedule from now
            if self._stop.is_set():
                break
            try:
                self._on_tick()
            except Exception as e:  # a failing tick must not kill the loop silently
                if not rclpy.ok(context=self.context):
                    break
                self.tick_errors += 1
                if self.tick_errors == 1:  # the first with its traceback, then throttled
                    self.get_logger().error(f"control tick failed:\n{traceback.format_exc()}")
                else:
                    self._log("error", "tick", f"control tick failed: {e!r}", 1.0)

    def _on_tick(self) -> None:
        start = time.monotonic()
        if self._last_tick is not None:
            dt = start - self._last_tick
            with self._samples_lock:
                self.period_sum += dt
                self.jitter_ms.add(abs(dt - self.period) * 1e3)
            if dt > 1.5 * self.period:
                self.missed += int(round(dt / self.period)) - 1
        self._last_tick = start
        self.ticks += 1
        loop = self.loop
        if not self.enabled:  # swaps are taken while inactive too (tick takes them otherwise)
            loop.take_pending()
            self.last_status = self.lifecycle
            return
        sensors = self._sensors(start)
        result = loop.tick(sensors, start)
        self.last_status = result.status
        if loop.rollbacks != self._seen_rollbacks:
            self._seen_rollbacks = loop.rollbacks
            self.get_logger().error(f"policy failed in probation: {loop.last_rollback}")
        if result.status not in RUNNING:
            self.holds += 1
            if result.status != self.last_hold:
                self._log("warning", "hold", f"holding: {result.status}", 1.0)
            self.last_hold = result.status
        if result.command is not None:
            self._publish(result.command)
        with self._samples_lock:
            if result.inferred:
                self.infer_ms.add(result.inference_ms)
            if result.command is not None:
                self.compute_ms.add((time.monotonic() - start) * 1e3)
                if result.status in RUNNING:
                    self.obs_age_ms.add((start - sensors.joint_time) * 1e3)

    def _publish(self, cmd: np.ndarray) -> None:
        if self.p["command_type"] == "float64_array":
            self.pub.publish(Float64MultiArray(data=cmd.tolist()))
            return
        msg = JointTrajectory(joint_names=list(self.robot.robot.joint_names))
        point = JointTrajectoryPoint(positions=cmd.tolist())
        point.time_from_start.nanosec = int(self.period * 1e9)
        msg.points = [point]
        self.pub.publish(msg)

    # --- policies ----------------------------------------------------------------------------

    def _build(self, path: str) -> OnnxPolicy:
        """Load, validate and warm up (worker thread); raises `PolicyRejected`."""
        policy = OnnxPolicy(
            path,
            self.robot,
            threads=self.p["threads"],
            warmup_iters=self.p["warmup_iters"],
            max_warmup_p99_ms=self.p["warmup_latency_fraction"] * self.period * 1e3,
            warmup_obs=self._latest_obs(),
            max_bytes=self.p["max_policy_bytes"],
        )
        trained = policy.spec.robot.control_rate_hz
        if abs(trained - self.rate) > 1e-9:
            self.get_logger().warning(
                f"{path}: trained at {trained:g} Hz, runs at {self.rate:g} Hz (rate override)"
            )
        return policy

    def _accept(self, path: str, policy: OnnxPolicy | None, reason: str) -> str:
        if policy is None:
            self.rejected += 1
            self.last_reject = reason
            self.get_logger().error(f"policy rejected, keeping the running one: {reason}")
            return reason
        self.loop.offer(policy)
        self.active_path = path
        self.get_logger().info(
            f"policy {path} ({policy.content_hash[:12]}, warm-up p99 "
            f"{policy.warmup_p99_ms:.2f} ms) ready; swapping in"
        )
        return ""

    def _load_now(self, path: str) -> str:
        """Load on the worker and wait for it (bounded); '' on success, else the reason."""
        try:
            return self._accept(path, self.loader.load(path), "")
        except PolicyRejected as e:
            return self._accept(path, None, str(e))

    def _watch_key(self) -> tuple | None:
        try:
            real = os.path.realpath(self.watch_path)
            st = os.stat(real)
            return (real, st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    def _on_watch(self) -> None:
        key = self._watch_key()
        if key is None or key == self._watch_seen or self.loader is None or self.loader.busy:
            return  # a busy loader: look again next period
        self._watch_seen = key
        self.loader.start(key[0], lambda pol, why: self._accept(key[0], pol, why))

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        """Convenience over the lifecycle: true configures (if needed) and activates."""
        if request.data:
            if self.lifecycle == "unconfigured":
                self.trigger_configure()
            if self.lifecycle == "inactive":
                self.trigger_activate()
            response.success = self.lifecycle == "active"
        else:
            if self.lifecycle == "active":
                self.trigger_deactivate()
            response.success = self.lifecycle != "active"
        response.message = f"state={self.lifecycle}" + (
            f"; configure failed: {self.config_error}" if self.lifecycle == "unconfigured" else ""
        )
        return response

    # --- diagnostics -------------------------------------------------------------------------

    def stats(self) -> dict:
        def pct(hist: Histogram, q: float) -> float | None:
            value = hist.percentile(q)
            return None if value is None else round(value, 3)

        with self._samples_lock:  # snapshot: the control thread keeps adding
            period_sum = self.period_sum
            jitter, compute_ms = self.jitter_ms.copy(), self.compute_ms.copy()
            infer_ms, obs_age_ms = self.infer_ms.copy(), self.obs_age_ms.copy()
        loop = self.loop
        policy = loop.policy if loop else None
        return {
            "state": self.lifecycle,
            "enabled": self.enabled,
            "active_policy": str(policy.path) if policy else "",
            "policy_hash": policy.content_hash if policy else "",
            "swaps": loop.swaps if loop else 0,
            "rejected_swaps": self.rejected,
            "last_reject_reason": self.last_reject,
            "rollbacks": loop.rollbacks if loop else 0,
            "last_rollback_reason": loop.last_rollback if loop else "",
            "ticks": self.ticks,
            "missed_ticks": self.missed,
            "holds": self.holds,
            "last_status": self.last_status,
            "last_hold_reason": self.last_hold,
            "bad_joint_msgs": self.bad_joint_msgs,
            "config_error": self.config_error,
            "rate_hz": round(jitter.n / period_sum, 3) if period_sum > 0 else None,
            "jitter_p99_ms": pct(jitter, 99),
            "latency_p50_ms": pct(compute_ms, 50),
            "latency_p99_ms": pct(compute_ms, 99),
            "inference_p50_ms": pct(infer_ms, 50),
            "inference_p99_ms": pct(infer_ms, 99),
            "obs_age_p99_ms": pct(obs_age_ms, 99),
        }

    def level(self, s: dict) -> tuple[bytes, str]:
        """Diagnostic level and message: STALE on stale inputs, ERROR when active but unable
        to run a policy, WARN when not commanding, OK when running."""
        status = s["last_status"]
        if not s["enabled"]:
            problem = s["config_error"] or s["last_reject_reason"]
            msg = f"{s['state']}" + (f": {problem}" if problem else "")
            return DiagnosticStatus.WARN, msg
        if status in RUNNING:
            return DiagnosticStatus.OK, f"running {s['active_policy']}"
        if status.startswith(STALE_PREFIXES):
            return DiagnosticStatus.STALE, f"holding: {status}"
        return DiagnosticStatus.ERROR, f"holding: {status}"

    def _on_diagnostics(self) -> None:
        """Publish (and write) the statistics; a failure here is logged, never fatal: an
        exception in a callback would end the executor and with it every service."""
        try:
            self._publish_diagnostics()
        except Exception as e:  # noqa: BLE001
            self._log("error", "diagnostics", f"diagnostics failed: {e!r}", 5.0)

    def _publish_diagnostics(self) -> None:
        s = self.stats()
        hw = self.robot.robot.name if self.robot else ""
        status = DiagnosticStatus(name=f"{NODE_NAME}: controller", hardware_id=hw)
        status.level, status.message = self.level(s)
        status.values = [KeyValue(key=k, value=diag_value(v)) for k, v in s.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(arr)
        if self.p["stats_path"]:
            tmp = Path(self.p["stats_path"] + ".tmp")
            tmp.write_text(json.dumps(s))
            tmp.replace(self.p["stats_path"])


def _final_diagnostics(node: PolicyNode) -> None:
    node._stop.set()
    if rclpy.ok():
        node._on_diagnostics()


def main(argv: list[str] | None = None) -> int:
    return spin_node(PolicyNode, argv, _final_diagnostics)
