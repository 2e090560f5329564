"""The policy controller: a managed (lifecycle) node, camera + joint states -> safe commands.

Runs as ``ros2 run lps_robot policy_node`` (via ros_ws) or ``lps node policy --params-file F``.

Lifecycle, as ros2_control and Nav2 do it: *configure* loads the spec, checks the parameters
and starts loading the policy; *activate* starts commanding (refused while another node
publishes on the command topic or shares this node's name); *deactivate* stops (the robot
holds its last command); *cleanup* drops everything. ``autostart`` walks these at start;
``~/enable`` (SetBool) activates or deactivates as a convenience.

Threads: the control loop ticks on its own supervised thread (`Ticker`); a watchdog thread
restarts it if it dies and puts ``/diagnostics`` at ERROR within a period when ticks stop;
sensors are served by a second executor on a hidden node (``_<name>_sensors``); parameters,
services, the file watch and diagnostics run on the main executor. Policies load in the
background (parsed and hashed in a child process, `stage`), so a swap never blocks a
service, a stop or a tick; each load carries a generation, and a load that finishes after a
newer request or a cleanup is discarded. Hot-swap: ``ros2 param set /lps_policy policy_path
NEW.onnx`` or repointing the watched ``policies/current.onnx``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
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
from lps_robot.ros import commander, policy_health
from lps_robot.ros.convert import image_to_rgb
from lps_robot.ros.logs import LogLimiter, emit
from lps_robot.ros.policy_params import (
    AUTO_AGE_PERIODS,
    MAX_AGE_PERIODS,
    NODE_NAME,
    PARAMETERS,
    PARAMS_BY_NAME,
    default_spec_path,
    descriptor,
    diag_value,
)
from lps_robot.ros.spin import spin_node
from lps_robot.runtime.controller import ControlLoop, Sensors
from lps_robot.runtime.joints import JointStateMerger
from lps_robot.runtime.loader import WorkerLoader, check_model_file
from lps_robot.runtime.manifest import PolicyRejected
from lps_robot.runtime.params import ParameterError, check_params_file, params_files
from lps_robot.runtime.policy import OnnxPolicy
from lps_robot.runtime.stage import Stager
from lps_robot.runtime.ticker import Ticker
from lps_robot.spec import Spec

__all__ = ["NODE_NAME", "PARAMETERS", "PARAMS_BY_NAME", "PolicyNode", "default_spec_path"]
STATS_RETRY_S = 5.0  # after a failed stats write, try again this much later


class PolicyNode(LifecycleNode):
    def __init__(self, files: list[str] | None = None) -> None:
        super().__init__(NODE_NAME)
        self._watchdog_stop = threading.Event()
        self._diag_due = threading.Event()  # set by the control thread once a second
        self._diag_last = 0.0
        self.ticker: Ticker | None = None
        self._sensor_node = self._sensor_exec = self._sensor_thread = None
        self._owned: list = []  # timers made at configure, destroyed at cleanup
        self.pub = None  # the command publisher: exists only while active
        self._pub_lock = threading.Lock()  # publish vs deactivate
        self.enabled = False
        self.loop: ControlLoop | None = None
        self.loader: WorkerLoader | None = None  # made at configure
        self._generation = 0  # of policy loads: a finished load of an older one is discarded
        self.loading = self.active_path = self.conflict = ""
        self.stager = Stager()
        me = commander.fqn(self.get_namespace(), self.get_name())
        for path in files or ():
            check_params_file(path, me, tuple(PARAMS_BY_NAME))
        self._log = LogLimiter(self.get_logger())  # (level, key, message, period_s)
        self.p = self._declare_parameters()
        self.lifecycle = "unconfigured"
        self.robot: Spec | None = None
        self.health: policy_health.LoopStats | None = None
        self.period: float | None = None
        self._pub_since = 0.0
        self.rejected = 0
        self.last_reject = ""
        self.config_error = self.activate_error = self.stats_error = ""
        self._stats_retry = 0.0
        self.holds = self.bad_joint_msgs = self.tick_errors = 0
        self.last_status = "unconfigured"
        self.last_hold = self.last_hold_detail = ""
        self._conflict_cleared: float | None = None
        self._conflict_named = 0.0
        self._twins = 0  # other nodes with this node's name (watchdog thread)
        self._seen_rollbacks = 0
        self._stalled_reported = 0.0
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_service(SetBool, "~/enable", self._on_enable)
        self.add_on_set_parameters_callback(self._on_params)
        self._watchdog = threading.Thread(
            target=self._watch_loop, name="lps_watchdog", daemon=True
        )
        self._watchdog.start()
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
        """Checks only, never a wait: a policy swap starts loading in the background."""
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
                reason = self._request_load(param.value)
                if reason:
                    return SetParametersResult(successful=False, reason=reason)
                return SetParametersResult(
                    successful=True, reason="loading in the background; see /diagnostics"
                )
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
        self.config_error = ""
        self.lifecycle = "inactive"
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        reason = self._cannot_activate()
        if reason:
            self.activate_error = reason
            self.get_logger().error(f"activate refused: {reason}")
            return TransitionCallbackReturn.FAILURE
        self.activate_error = ""
        self.loop.reset()
        with self._pub_lock:
            array = self.p["command_type"] == "float64_array"
            kind = Float64MultiArray if array else JointTrajectory
            self.pub = self.create_publisher(kind, self.p["command_topic"], 10)
            self._pub_since = time.monotonic()
            self.enabled = True
        self.lifecycle = "active"
        self.get_logger().info("active: commanding")
        return TransitionCallbackReturn.SUCCESS

    def _cannot_activate(self) -> str:
        if self.loop is None or self.ticker is None:
            return "not configured"
        if not self.ticker.alive or self.ticker.stalled() > 0:
            return "the control loop is not running"
        other = commander.conflict(self, [self.p["command_topic"]], 0)
        return f"another commander: {other}" if other else ""

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_commanding()
        if self.loop is not None:
            self.loop.reset()
        self.lifecycle = "inactive"
        self.get_logger().info("inactive: not commanding")
        return TransitionCallbackReturn.SUCCESS

    def _stop_commanding(self) -> None:
        with self._pub_lock:
            self.enabled = False
            pub, self.pub = self.pub, None
        if pub is not None:
            self.destroy_publisher(pub)

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
        period = 1.0 / rate
        max_age = p["max_obs_age_s"] or AUTO_AGE_PERIODS * period
        if max_age > MAX_AGE_PERIODS * period + 1e-9:
            raise ParameterError(
                f"parameter max_obs_age_s: {max_age:g} s is more than {MAX_AGE_PERIODS} control "
                f"periods ({MAX_AGE_PERIODS * period:g} s at {rate:g} Hz); older joint states "
                "mean steps taken blind"
            )
        self.robot, self.rate, self.period, self.max_age = robot, rate, period, max_age
        self.loop = ControlLoop(
            robot,
            execution=p["execution"],
            ensemble_decay=p["ensemble_decay"],
            max_obs_age_s=max_age,
            max_image_age_s=p["max_image_age_s"],
            rate_hz=rate,
            probation_ticks=p["probation_ticks"],
            probation_max_misses=p["probation_max_misses"],
        )
        self.health = policy_health.LoopStats(period)
        self.pre = Preprocessor(robot)
        self.joints = JointStateMerger(robot.robot.joint_names, p["clock_skew_tolerance_s"])
        self.images: dict[str, tuple[np.ndarray, float]] = {}
        self.loader = WorkerLoader(self._build, p["load_timeout_s"])
        self.stager.start()  # spawned now, before commanding: a spawn stalls the GIL
        self._generation += 1
        self._start_sensors(robot)
        self.watch_path = p["watch_path"]
        self._watch_seen, self._watch_problem = None, ""
        watched = self._watch_key() if self.watch_path else None
        policy_path = self.get_parameter("policy_path").value  # may have been set since start
        first = watched[0] if watched else policy_path
        if watched and policy_path and first != os.path.realpath(policy_path):
            self.get_logger().info(f"the watched {self.watch_path} wins over policy_path")
        self._watch_seen = watched
        if first:
            self._request_load(first)
        if self.watch_path:
            self._owned.append(self.create_timer(p["watch_period_s"], self._on_watch))
        self.ticker = Ticker(self._on_tick, period, self._on_tick_error)
        self.ticker.start()
        override = " (rate override)" if rate != spec_rate else ""
        self.get_logger().info(
            f"configured: {rate:g} Hz{override} on {p['command_topic']}, joint states held "
            f"after {max_age * 1e3:.0f} ms, policy {first or 'none'} loading"
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
                emit(self.get_logger(), "error", f"sensor executor stopped: {e!r}")

    def _teardown(self) -> None:
        self._stop_commanding()
        self._generation += 1  # a load still running belongs to the old configuration
        if self.ticker is not None:
            self.ticker.stop()
        self.ticker = None
        if self._sensor_exec is not None:
            self._sensor_exec.shutdown(timeout_sec=1.0)
            self._sensor_node.destroy_node()
            self._sensor_thread.join(timeout=2)
        self._sensor_node = self._sensor_exec = self._sensor_thread = None
        for timer in self._owned:
            timer.cancel()
            self.destroy_timer(timer)
        self._owned.clear()
        self.loop = self.loader = None
        self.active_path = self.loading = self.conflict = ""

    def destroy_node(self) -> None:
        self._watchdog_stop.set()
        self._diag_due.set()
        self._teardown()
        self.stager.close()
        super().destroy_node()

    # --- sensors (sensor executor thread) ----------------------------------------------------

    def _on_joints(self, msg: JointState, info: dict) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        gid = (info or {}).get("publisher_gid") or {}
        source = bytes(gid.get("data", b"")) or None
        note = self.joints.update(
            msg.name, msg.position, msg.velocity, stamp, time.monotonic(), time.time(), source
        )
        if note is None:
            return
        topic = self.p["joint_states_topic"]
        if note.startswith("malformed"):
            self.bad_joint_msgs += 1
            self._log("warning", "joints", f"{topic}: refused a {note}", 5.0)
        elif note.startswith("conflict"):
            self._log(
                "error",
                "conflict",
                f"{topic}: two publishers take turns sending joint "
                f"'{self.joints.conflict}' (conflicting joint-state sources): holding",
                5.0,
            )
        else:
            self._log(
                "warning",
                "skew",
                f"{topic}: header stamps are {self.joints.last_skew_s:.3f}"
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
        times = self.joints.times()  # before the snapshot: never newer than its values
        pos, vel, t, fault = self.joints.snapshot(now, self.max_age)
        return Sensors(pos, vel, t, dict(self.images), fault, times)

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

    def _on_tick(self, start: float) -> None:
        self.health.tick_started(start)
        if start - self._diag_last >= 1.0:
            self._diag_due.set()  # the watchdog thread publishes them now, after this tick
        loop = self.loop
        if not self.enabled:  # swaps are taken while inactive too (tick takes them otherwise)
            loop.take_pending()
            self.last_status = self.lifecycle
            return
        waiting = self._commander_hold(start)
        if waiting:
            loop.reset()  # resume from where the arm is, never from a stale command
            self._note_hold(waiting, self.conflict or waiting)
            return
        sensors = self._sensors(start)
        result = loop.tick(sensors, start)
        self.last_status = result.status
        if loop.rollbacks != self._seen_rollbacks:
            self._seen_rollbacks = loop.rollbacks
            emit(self.get_logger(), "error", f"policy failed in probation: {loop.last_rollback}")
        if result.status not in policy_health.RUNNING:
            detail = result.status
            if result.status in ("policy_error", "invalid_action", "action_out_of_range"):
                detail = f"{result.status}: {loop.last_policy_error}"
            self._note_hold(result.status, detail)
        if result.command is not None:
            self._publish(result.command)
        running = result.status in policy_health.RUNNING
        age = (start - sensors.joint_time) * 1e3 if running else None
        self.health.add(
            result.inference_ms if result.inferred else None,
            (time.monotonic() - start) * 1e3 if result.command is not None else None,
            age,
        )

    def _note_hold(self, status: str, detail: str) -> None:
        self.last_status = status
        self.holds += 1
        if status != self.last_hold:
            self._log("warning", f"hold:{status}", f"holding: {detail}", 1.0)
        self.last_hold, self.last_hold_detail = status, detail

    def _commander_hold(self, now: float) -> str:
        """'' when this node may command now; else why not (another commander on the topic,
        or still inside the discovery grace after activating)."""
        topics = [self.p["command_topic"]]
        if commander.publisher_count(self, topics) > 1 or self._twins > 0:
            if not self.conflict or now >= self._conflict_named + commander.NAME_CHECK_S:
                # named again while it lasts: discovery may know the publisher before its node
                named = commander.conflict(self, topics, 1) or "another commander"
                if named != self.conflict:
                    emit(self.get_logger(), "error", f"another commander, holding: {named}")
                self.conflict, self._conflict_named = named, now
            self._conflict_cleared = None
            return "commander_conflict"
        grace = self.p["discovery_grace_s"]
        if self.conflict:
            self._conflict_cleared = self._conflict_cleared or now
            if now - self._conflict_cleared < grace:
                return "commander_conflict"
            emit(self.get_logger(), "info", f"the other commander is gone: {self.conflict}")
            self.conflict = ""
        if now - self._pub_since < grace:
            return "waiting_for_discovery"
        return ""

    def _on_tick_error(self, e: BaseException) -> None:
        """A failed tick becomes a hold on the last safe command, with its reason."""
        self.tick_errors += 1
        self.last_status = self.last_hold = "tick_error"
        self.last_hold_detail = f"tick_error: {type(e).__name__}: {e}"
        if self.tick_errors == 1:  # the first with its traceback, then throttled
            emit(self.get_logger(), "error", f"control tick failed:\n{traceback.format_exc()}")
        else:
            self._log("error", "tick", f"control tick failed: {e!r}", 1.0)
        loop = self.loop
        if loop is not None and loop.safety.last is not None:
            self._publish(loop.safety.last)

    def _publish(self, cmd: np.ndarray) -> None:
        with self._pub_lock:
            if self.pub is None or not self.enabled:
                return
            if self.p["command_type"] == "float64_array":
                self.pub.publish(Float64MultiArray(data=cmd.tolist()))
                return
            msg = JointTrajectory(joint_names=list(self.robot.robot.joint_names))
            point = JointTrajectoryPoint(positions=cmd.tolist())
            point.time_from_start.nanosec = int(self.period * 1e9)
            msg.points = [point]
            self.pub.publish(msg)

    # --- watchdog (its own thread) -----------------------------------------------------------

    def _watch_loop(self) -> None:
        """Publish diagnostics right after a tick (in the slack of the period, so their
        GIL-bound message building never delays one), restart a dead control thread, report
        a stalled one within a period, and look for nodes with this node's name."""
        next_names = 0.0
        while True:
            due = self._diag_due.wait(min(self.period or 0.05, 0.05))
            if self._watchdog_stop.is_set():
                return
            try:
                now = time.monotonic()
                if due or (self.ticker is None and now - self._diag_last >= 1.0):
                    self._diag_due.clear()
                    self._diag_last = now
                    self._on_diagnostics()
                if now >= next_names:
                    next_names = now + commander.NAME_CHECK_S
                    self._twins = commander.namesakes(self)
                self._supervise(now)
            except Exception as e:  # noqa: BLE001 - the watchdog must outlive what it watches
                self._log("error", "watchdog", f"watchdog: {e!r}", 5.0)

    def _supervise(self, now: float) -> None:
        ticker = self.ticker
        if ticker is None:
            return
        if ticker.supervise():
            emit(
                self.get_logger(),
                "error",
                f"control loop died ({ticker.last_death}); restarted ({ticker.restarts})",
            )
        if ticker.stalled(now) > 0 and now - self._stalled_reported >= 1.0:
            self._stalled_reported = self._diag_last = now
            self._on_diagnostics()

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
            isolate_s=self.p["load_timeout_s"],
            stager=self.stager,
        )
        trained = policy.spec.robot.control_rate_hz
        if abs(trained - self.rate) > 1e-9:
            self.get_logger().warning(
                f"{path}: trained at {trained:g} Hz, runs at {self.rate:g} Hz (rate override)"
            )
        return policy

    def _request_load(self, path: str) -> str:
        """Start loading ``path`` in the background; '' or the reason it was refused at once."""
        try:
            check_model_file(path, self.p["max_policy_bytes"])
            if self.loader.busy:
                raise PolicyRejected(f"{path}: refused, the load of {self.loader.busy} is running")
        except PolicyRejected as e:
            return self._reject(str(e))
        self._generation += 1
        generation = self._generation
        self.loading = path
        self.loader.start(path, lambda pol, why: self._accept(generation, path, pol, why))
        return ""

    def _reject(self, reason: str) -> str:
        self.rejected += 1
        self.last_reject = reason
        emit(self.get_logger(), "error", f"policy rejected, keeping the running one: {reason}")
        return reason

    def _accept(self, generation: int, path: str, policy: OnnxPolicy | None, why: str) -> None:
        """A finished load (worker thread): swap it in unless a newer request or a cleanup
        came since, or it is the running policy's very file content."""
        if generation != self._generation or self.loop is None:
            emit(self.get_logger(), "warning", f"discarded the stale load of {path}")
            return
        self.loading = ""
        if policy is None:
            self._reject(why)
            return
        running = self.loop.policy
        if running is not None and running.file_hash == policy.file_hash:
            emit(self.get_logger(), "info", f"{path}: same content as the running policy")
            return
        self.loop.offer(policy)
        self.active_path = path
        emit(
            self.get_logger(),
            "info",
            f"policy {path} ({policy.content_hash[:12]}, warm-up p99 "
            f"{policy.warmup_p99_ms:.2f} ms) ready; swapping in",
        )

    def _watch_key(self) -> tuple | None:
        """What identifies the watched file's content cheaply (its target, inode, size,
        mtime and ctime: a rewrite that keeps the mtime still changes the ctime); None, with
        the problem logged once, when it does not resolve to a file."""
        try:
            real = os.path.realpath(self.watch_path)
            st = os.stat(self.watch_path)
        except OSError as e:
            kind = "a symlink loop" if e.errno == errno.ELOOP else f"unreadable ({e.strerror})"
            if e.errno == errno.ENOENT and os.path.islink(self.watch_path):
                kind = f"a link to the missing {os.readlink(self.watch_path)}"
            problem = f"watch_path {self.watch_path} is {kind}"
            if problem != self._watch_problem:
                self._watch_problem = problem
                emit(self.get_logger(), "warning", f"{problem}; keeping the running policy")
            return None
        self._watch_problem = ""
        return (real, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _on_watch(self) -> None:
        key = self._watch_key()
        if key is None or key == self._watch_seen or self.loader is None or self.loader.busy:
            return  # a busy loader: look again next period
        self._watch_seen = key
        self._request_load(key[0])

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        """Convenience over the lifecycle: true configures (if needed) and activates; the
        reply fails when the loop is not running or another node commands the arm."""
        if request.data:
            if self.lifecycle == "unconfigured":
                self.trigger_configure()
            if self.lifecycle == "inactive":
                self.trigger_activate()
            ticking = self.ticker is not None and self.ticker.alive and not self.ticker.stalled()
            response.success = self.lifecycle == "active" and ticking
        else:
            if self.lifecycle == "active":
                self.trigger_deactivate()
            response.success = self.lifecycle != "active"
        problem = self.config_error if self.lifecycle == "unconfigured" else self.activate_error
        response.message = f"state={self.lifecycle}" + (f"; {problem}" if problem else "")
        return response

    # --- diagnostics -------------------------------------------------------------------------

    def stats(self) -> dict:
        loop = self.loop
        policy = loop.policy if loop else None
        ticker = self.ticker
        now = time.monotonic()
        s = {
            "state": self.lifecycle,
            "enabled": self.enabled,
            "active_policy": str(policy.path) if policy else "",
            "policy_hash": policy.content_hash if policy else "",
            "loading": self.loading,
            "swaps": loop.swaps if loop else 0,
            "rejected_swaps": self.rejected,
            "last_reject_reason": self.last_reject,
            "rollbacks": loop.rollbacks if loop else 0,
            "last_rollback_reason": loop.last_rollback if loop else "",
            "holds": self.holds,
            "last_status": self.last_status,
            "last_hold_reason": self.last_hold,
            "last_hold_detail": self.last_hold_detail,
            "conflict": self.conflict,
            "bad_joint_msgs": self.bad_joint_msgs,
            "joint_stamp_offset_s": round(self.joints.stamp_offset_s, 4) if loop else None,
            "tick_errors": self.tick_errors,
            "loop_restarts": ticker.restarts if ticker else 0,
            "loop_death": ticker.last_death if ticker else "",
            "loop_stalled_ms": round(ticker.stalled(now) * 1e3, 1) if ticker else 0.0,
            "config_error": self.config_error,
            "activate_error": self.activate_error,
            "stats_error": self.stats_error,
        }
        if self.health is not None:
            s |= self.health.snapshot() | self.health.recent(now)
        return s

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
        status.level, status.message = policy_health.level(s, self.period)
        status.values = [KeyValue(key=k, value=diag_value(v)) for k, v in s.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(arr)
        if self.p["stats_path"]:
            self._write_stats(s)

    def _write_stats(self, s: dict) -> None:
        """The stats file, atomically; a full disk (or any write error) stops the writes with
        the reason on /diagnostics and retries every STATS_RETRY_S, never ends the node."""
        now = time.monotonic()
        if self.stats_error and now < self._stats_retry:
            return
        path = self.p["stats_path"]
        tmp = Path(path + ".tmp")
        try:
            tmp.write_text(json.dumps(s))
            tmp.replace(path)
        except OSError as e:
            self._stats_retry = now + STATS_RETRY_S
            if not self.stats_error:
                emit(self.get_logger(), "error", f"stats_path {path}: {e.strerror}; retrying")
            self.stats_error = f"{path}: {e.strerror} (retrying every {STATS_RETRY_S:g} s)"
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return
        if self.stats_error:
            emit(self.get_logger(), "info", f"stats_path {path}: writing again")
        self.stats_error = ""


def _final_diagnostics(node: PolicyNode) -> None:
    node._watchdog_stop.set()
    node._diag_due.set()
    if node.ticker is not None:
        node.ticker.stop()
    if rclpy.ok():
        node._on_diagnostics()


def main(argv: list[str] | None = None) -> int:
    files = params_files(list(sys.argv if argv is None else argv))
    return spin_node(lambda: PolicyNode(files), argv, _final_diagnostics)
