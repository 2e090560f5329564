"""The policy controller: a managed (lifecycle) node, camera + joint states -> safe commands.

Runs as ``ros2 run lps_robot policy_node`` (via ros_ws) or ``lps node policy --params-file F``.
Commands go to ``command_topic``, a spec's command groups (a gripper) to their own topics.
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
NEW.onnx`` or repointing the watched ``policies/current.onnx``. Rooms: parameters and their
checks (`policy_params`), sensor inputs (`policy_sensors`), policy loading and watching
(`policy_swaps`), diagnostics and the watchdog (`policy_diagnostics`), health levels
(`policy_health`); this module is the lifecycle and the tick that wire them.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback

import numpy as np
import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from lps_robot.dcio import ConfigError
from lps_robot.ros import commander, policy_health, policy_params
from lps_robot.ros.logs import LogLimiter, emit
from lps_robot.ros.policy_diagnostics import Diagnostics, Watchdog
from lps_robot.ros.policy_params import NODE_NAME, PARAMETERS, PARAMS_BY_NAME, default_spec_path
from lps_robot.ros.policy_sensors import SensorInputs
from lps_robot.ros.policy_swaps import PolicySwapper
from lps_robot.ros.spin import spin_node
from lps_robot.runtime.controller import ControlLoop
from lps_robot.runtime.params import ParameterError, check_params_file, params_files
from lps_robot.runtime.ticker import Ticker
from lps_robot.spec import Spec

__all__ = ["NODE_NAME", "PARAMETERS", "PARAMS_BY_NAME", "PolicyNode", "default_spec_path"]


class PolicyNode(LifecycleNode):
    def __init__(self, files: list[str] | None = None) -> None:
        super().__init__(NODE_NAME)
        # what destroy_node needs, first: rclpy destroys a node whose constructor raised
        self.watchdog: Watchdog | None = None
        self.swaps: PolicySwapper | None = None
        self.ticker: Ticker | None = None
        self._owned: list = []  # timers made at configure, destroyed at cleanup
        self.pubs: list = []  # (publisher, joint indices) per command topic: only while active
        self.split: list[tuple[str, list[int], list[str]]] = []  # (topic, indices, names)
        self.topics: list[str] = []
        self._pub_lock = threading.Lock()  # publish vs deactivate
        self.enabled = False
        self.loop: ControlLoop | None = None
        self.conflict, self._joined = "", time.monotonic()  # joined the graph: the gate's clock
        me = commander.fqn(self.get_namespace(), self.get_name())
        for path in files or ():
            check_params_file(path, me, tuple(PARAMS_BY_NAME))
        self._log = LogLimiter(self.get_logger())  # (level, key, message, period_s)
        self.diagnostics = Diagnostics(self, self.stats, self._log)
        self.p = policy_params.declare_all(self)
        self.diagnostics.stats_path = self.p["stats_path"]
        self.sensors = SensorInputs(self, self._log)
        self.swaps = PolicySwapper(self, self.p)
        self.lifecycle = self.last_status = "unconfigured"
        self.robot: Spec | None = None
        self.health: policy_health.LoopStats | None = None
        self.period: float | None = None
        self._conflict_named, self._gate = 0.0, commander.DiscoveryGate(0.0, 0.0, 0.0)
        self.config_error = self.activate_error = ""
        self.holds = self.tick_errors = 0
        self.last_hold = self.last_hold_detail = ""
        self._conflict_cleared: float | None = None
        self._seen_rollbacks = 0
        self.create_service(SetBool, "~/enable", self._on_enable)
        self.add_on_set_parameters_callback(self._on_params)
        self.watchdog = Watchdog(self, self.diagnostics, lambda: self.ticker, self._log)
        if self.p["gil_switch_interval_ms"] > 0:
            sys.setswitchinterval(self.p["gil_switch_interval_ms"] * 1e-3)
        if self.p["autostart"] != "none":
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                raise ParameterError(self.config_error or "configure failed")
            if self.p["autostart"] == "activate":
                self.trigger_activate()

    def _on_params(self, params) -> SetParametersResult:
        """Checks only, never a wait: a policy swap starts loading in the background."""
        for param in params:
            reason = policy_params.check_change(param.name, param.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            if param.name == "policy_path" and param.value and self.swaps.loader is not None:
                reason = self.swaps.request(param.value)
                if reason:
                    return SetParametersResult(successful=False, reason=reason)
                return SetParametersResult(
                    successful=True, reason="loading in the background; see /diagnostics"
                )
        return SetParametersResult(successful=True)

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
        self.health.activated()
        with self._pub_lock:
            array = self.p["command_type"] == "float64_array"
            kind = Float64MultiArray if array else JointTrajectory
            self.pubs = [(self.create_publisher(kind, t, 10), i, n) for t, i, n in self.split]
            grace = self.p["discovery_grace_s"]
            self._gate = commander.DiscoveryGate(grace, self._joined, time.monotonic())
            self.enabled = True
        self.lifecycle = "active"
        self.get_logger().info("active: commanding")
        return TransitionCallbackReturn.SUCCESS

    def _cannot_activate(self) -> str:
        if self.loop is None or self.ticker is None:
            return "not configured"
        if not self.ticker.wait_beat():  # a loop just started may not have run yet
            return "the control loop is not running"
        other = commander.conflict(self, self.topics, 0)
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
            pubs, self.pubs = self.pubs, []
        for pub, _, _ in pubs:
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
        t = policy_params.timing(p, robot)
        self.robot, self.rate, self.period = robot, t.rate, t.period
        names = robot.robot.joint_names  # per topic: joint indices and names, made once
        self.split = [
            (topic, list(idx), [names[i] for i in idx])
            for topic, idx in robot.robot.command_split(p["command_topic"])
        ]
        self.topics = [topic for topic, _, _ in self.split]
        self.loop = ControlLoop(
            robot,
            execution=p["execution"],
            ensemble_decay=p["ensemble_decay"],
            max_obs_age_s=t.max_age,
            max_image_age_s=p["max_image_age_s"],
            rate_hz=t.rate,
            probation_ticks=p["probation_ticks"],
            probation_max_misses=p["probation_max_misses"],
            inference=p["inference"],
        )
        self.health = policy_health.LoopStats(t.period)
        self.diagnostics.period, self.diagnostics.hardware_id = t.period, robot.robot.name
        self.sensors.start(robot, p["joint_states_topic"], t.max_age, p["clock_skew_tolerance_s"])
        first = self.swaps.configure(robot, t.rate, self.loop, self.sensors.latest_obs)
        if self.swaps.watch_path:
            self._owned.append(self.create_timer(p["watch_period_s"], self.swaps.on_watch))
        self.ticker = Ticker(
            self._on_tick, t.period, self._on_tick_error, priority=p["thread_priority"]
        )
        self.ticker.start()
        override = " (rate override)" if t.rate != t.spec_rate else ""
        self.get_logger().info(
            f"configured: {t.rate:g} Hz{override} on {', '.join(self.topics)}, joint states held "
            f"after {t.max_age * 1e3:.0f} ms, policy {first or 'none'} loading"
        )

    def _teardown(self) -> None:
        self._stop_commanding()
        self.swaps.teardown()  # a load still running belongs to the old configuration
        if self.ticker is not None:
            self.ticker.stop()
        self.ticker = None
        self.sensors.stop()
        for timer in self._owned:
            timer.cancel()
            self.destroy_timer(timer)
        self._owned.clear()
        if self.loop is not None:
            self.loop.close()  # its inference worker
        self.loop = None
        self.conflict = ""

    def destroy_node(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.swaps is not None:  # the parts exist: the constructor got past the parameters
            self._teardown()
            self.swaps.close()
        super().destroy_node()

    # --- control (control thread) ------------------------------------------------------------

    def _on_tick(self, start: float) -> None:
        self.health.tick_started(start)
        self.watchdog.after_tick(start)
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
        sensors = self.sensors.snapshot(start)
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
        infer = result.inference_ms if result.inferred else None
        compute = (time.monotonic() - start) * 1e3 if result.command is not None else None
        self.health.add(infer, compute, age, result.late, running)

    def _note_hold(self, status: str, detail: str) -> None:
        self.last_status = status
        self.holds += 1
        if status != self.last_hold:
            self._log("warning", f"hold:{status}", f"holding: {detail}", 1.0)
        self.last_hold, self.last_hold_detail = status, detail

    def _commander_hold(self, now: float) -> str:
        """'' when this node may command now; else why not (another commander on the topic,
        or still inside the discovery grace after activating)."""
        topics, mine = self.topics, len(self.topics)
        if commander.publisher_count(self, topics) > mine or self.watchdog.twins > 0:
            if not self.conflict or now >= self._conflict_named + commander.NAME_CHECK_S:
                # named again while it lasts: discovery may know the publisher before its node
                named = commander.conflict(self, topics, mine) or "another commander"
                if named != self.conflict:
                    emit(self.get_logger(), "error", f"another commander, holding: {named}")
                self.conflict, self._conflict_named = named, now
            self._conflict_cleared = None
            return "commander_conflict"
        if self.conflict:
            self._conflict_cleared = self._conflict_cleared or now
            if now - self._conflict_cleared < self.p["discovery_grace_s"]:
                return "commander_conflict"
            emit(self.get_logger(), "info", f"the other commander is gone: {self.conflict}")
            self.conflict = ""
        if not self._gate.settled(now, lambda: commander.graph_view(self, topics)):
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
        """One safe command, each command group's joints on its own topic."""
        with self._pub_lock:
            if not self.pubs or not self.enabled:
                return
            for pub, idx, names in self.pubs:
                values = cmd[idx].tolist()
                if self.p["command_type"] == "float64_array":
                    pub.publish(Float64MultiArray(data=values))
                    continue
                msg = JointTrajectory(joint_names=names)
                point = JointTrajectoryPoint(positions=values)
                point.time_from_start.nanosec = int(self.period * 1e9)
                msg.points = [point]
                pub.publish(msg)

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

    def stats(self) -> dict:
        """Everything /diagnostics and the stats file report, as plain values."""
        loop, swaps, ticker = self.loop, self.swaps, self.ticker
        policy = loop.policy if loop else None
        now = time.monotonic()
        s = {
            "state": self.lifecycle,
            "enabled": self.enabled,
            "active_policy": str(policy.path) if policy else "",
            "policy_hash": policy.content_hash if policy else "",
            "loading": swaps.loading,
            "rejected_swaps": swaps.rejected,
            "last_reject_reason": swaps.last_reject,
            **policy_health.loop_facts(loop),
            "holds": self.holds,
            "last_status": self.last_status,
            "last_hold_reason": self.last_hold,
            "last_hold_detail": self.last_hold_detail,
            "conflict": self.conflict,
            "bad_joint_msgs": self.sensors.bad_joint_msgs,
            "joint_stamp_offset_s": self.sensors.stamp_offset_s if loop else None,
            "tick_errors": self.tick_errors,
            "loop_restarts": ticker.restarts if ticker else 0,
            "loop_death": ticker.last_death if ticker else "",
            "loop_stalled_ms": round(ticker.stalled(now) * 1e3, 1) if ticker else 0.0,
            "loop_scheduling": ticker.scheduling if ticker else "",
            "config_error": self.config_error,
            "activate_error": self.activate_error,
            "stats_error": self.diagnostics.file.error,
        }
        if self.health is not None:
            s |= self.health.snapshot() | self.health.recent(now)
        return s


def _final_diagnostics(node: PolicyNode) -> None:
    node.watchdog.stop()  # a node that reaches the executor was built whole
    if node.ticker is not None:
        node.ticker.stop()
    if rclpy.ok():
        node.diagnostics.publish()


def main(argv: list[str] | None = None) -> int:
    files = params_files(list(sys.argv if argv is None else argv))
    return spin_node(lambda: PolicyNode(files), argv, _final_diagnostics)
