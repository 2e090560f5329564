"""The policy controller node: camera + joint states -> ONNX policy -> safe joint commands.

Runs as ``ros2 run lps_robot policy_node`` (via ros_ws) or ``lps node policy --params-file F``.
The control loop runs on its own thread, paced by deadlines at the control rate; sensors,
parameters, the file watch and diagnostics run on a single-threaded executor, so loading a
new model never blocks a tick. (rclpy's MultiThreadedExecutor was measured to spend ~95% of
a core in its own spin loop here, with 50 Hz ticks arriving late by up to a second.)
Hot-swap: ``ros2 param set /lps_policy policy_path NEW.onnx`` (the reply carries the
rejection reason) or repointing the watched ``policies/current.onnx``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from lps_robot.preprocess import Preprocessor
from lps_robot.ros.convert import image_to_rgb, reorder
from lps_robot.ros.spin import spin_node
from lps_robot.runtime.controller import ControlLoop, Sensors
from lps_robot.runtime.histogram import Histogram
from lps_robot.runtime.manifest import PolicyRejected
from lps_robot.runtime.policy import OnnxPolicy
from lps_robot.spec import Spec

NODE_NAME = "lps_policy"
PARAMETERS = {  # name: (default, description); config/policy.yaml sets them on a robot
    "policy_path": ("", "ONNX policy to load at start (empty: hold until one is set)"),
    "robot_spec": ("", "robot spec YAML (empty: the packaged sim_arm spec)"),
    "command_topic": ("/forward_position_controller/commands", "joint command topic"),
    "command_type": ("float64_array", "float64_array | joint_trajectory"),
    "joint_states_topic": ("/joint_states", "sensor_msgs/JointState topic"),
    "control_rate_hz": (0.0, "control rate; 0 uses the spec's"),
    "max_obs_age_s": (0.2, "hold when an observation is older than this"),
    "execution": ("open_loop", "open_loop | temporal_ensemble"),
    "ensemble_decay": (0.1, "temporal ensembling weight decay"),
    "watch_path": ("", "policy file to watch for hot-swaps (e.g. policies/current.onnx)"),
    "watch_period_s": (0.5, "file watch period"),
    "start_enabled": (False, "publish commands from the start (else wait for ~/enable)"),
    "warmup_iters": (20, "inference runs before a policy may take over"),
    "max_warmup_p99_ms": (50.0, "reject a policy whose warm-up p99 latency exceeds this"),
    "threads": (1, "onnxruntime intra-op threads"),
    "stats_path": ("", "write a JSON summary of loop statistics here once a second"),
    "gil_switch_interval_ms": (
        0.5,
        "Python's thread switch interval (default 5 ms): how long the control thread may wait "
        "for the GIL after its deadline while a callback runs; 0 keeps Python's default",
    ),
}


def default_spec_path() -> str:
    return str(resources.files("lps_robot") / "specs" / "sim_arm.yaml")


class PolicyNode(Node):
    def __init__(self) -> None:
        super().__init__(NODE_NAME)
        for name, (default, _) in PARAMETERS.items():
            self.declare_parameter(name, default)
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        self.robot = Spec.load(p["robot_spec"] or default_spec_path())
        self.rate = p["control_rate_hz"] or self.robot.robot.control_rate_hz
        self.period = 1.0 / self.rate
        self.loop = ControlLoop(
            self.robot,
            execution=p["execution"],
            ensemble_decay=p["ensemble_decay"],
            max_obs_age_s=p["max_obs_age_s"],
            rate_hz=self.rate,
        )
        self.pre = Preprocessor(self.robot)
        self.sensors = Sensors()
        self.enabled = bool(p["start_enabled"])
        self.load_opts = {
            "threads": p["threads"],
            "warmup_iters": p["warmup_iters"],
            "max_warmup_p99_ms": p["max_warmup_p99_ms"],
        }
        self.rejected = 0
        self.last_reject = ""
        self.active_path = ""
        self.stats_path = p["stats_path"]
        self.ticks = self.missed = self.holds = 0
        self.last_status = "starting"
        # loop statistics since start, as streaming histograms: O(1) per tick, and reading them
        # never holds the GIL long enough to delay a tick (sorting sample buffers did)
        self.period_sum = 0.0  # seconds over jitter_ms.n ticks: the measured rate
        self.jitter_ms, self.compute_ms = Histogram(), Histogram()
        self.infer_ms, self.obs_age_ms = Histogram(), Histogram()
        self._samples_lock = threading.Lock()  # control thread adds, diagnostics read
        self._last_tick: float | None = None
        self._joint_stamp = 0.0
        self.create_subscription(JointState, p["joint_states_topic"], self._on_joints, 10)
        for key in self.robot.obs.image_keys:
            cam = self.robot.camera(key)
            self.create_subscription(
                Image, cam.topic, lambda m, k=key: self._on_image(k, m), qos_profile_sensor_data
            )
        if p["command_type"] == "float64_array":
            self.pub = self.create_publisher(Float64MultiArray, p["command_topic"], 10)
        elif p["command_type"] == "joint_trajectory":
            self.pub = self.create_publisher(JointTrajectory, p["command_topic"], 10)
        else:
            raise ValueError(
                "command_type: expected float64_array | joint_trajectory, "
                f"got {p['command_type']!r}"
            )
        self.command_type = p["command_type"]
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_service(SetBool, "~/enable", self._on_enable)
        self.add_on_set_parameters_callback(self._on_params)
        if p["policy_path"]:
            self._try_load(p["policy_path"])
        self.watch_path = p["watch_path"]
        self._watch_seen = self._watch_key() if self.watch_path else None
        if self.watch_path:
            self.create_timer(p["watch_period_s"], self._on_watch)
        self.create_timer(1.0, self._on_diagnostics)
        if p["gil_switch_interval_ms"] > 0:
            sys.setswitchinterval(p["gil_switch_interval_ms"] * 1e-3)
        self._stop = threading.Event()
        self._control = threading.Thread(
            target=self._control_loop, name="lps_control", daemon=True
        )
        self._control.start()
        self.get_logger().info(
            f"controller at {self.rate:g} Hz on {p['command_topic']}; enabled={self.enabled}"
        )

    # --- sensors -----------------------------------------------------------------------------

    def _on_joints(self, msg: JointState) -> None:
        names = self.robot.robot.joint_names
        pos = reorder(msg.name, msg.position, names)
        vel = reorder(msg.name, msg.velocity, names) if len(msg.velocity) else None
        if pos is None:
            pos = np.full(len(names), np.nan)  # a missing joint is as bad as a NaN
        self.sensors.joint_pos, self.sensors.joint_vel = pos, vel
        self.sensors.joint_time = time.monotonic()
        self._joint_stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9

    def _on_image(self, key: str, msg: Image) -> None:
        cam = self.robot.camera(key)
        try:
            rgb = image_to_rgb(msg, cam.width, cam.height)
        except ValueError as e:
            self.get_logger().warn(f"camera '{key}': {e}", throttle_duration_sec=5.0)
            return
        self.sensors.images[key] = (self.pre.images[key](rgb), time.monotonic())

    # --- control -----------------------------------------------------------------------------

    def _control_loop(self) -> None:
        """Tick at the control rate on deadlines; a late tick is counted, never made up."""
        deadline = time.monotonic()
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
                self.get_logger().error(f"control tick failed: {e}", throttle_duration_sec=1.0)

    def destroy_node(self) -> None:
        self._stop.set()
        if self._control.is_alive():
            self._control.join(timeout=2)
        super().destroy_node()

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
        self.loop.take_pending()
        if not self.enabled:
            self.last_status = "disabled"
            return
        result = self.loop.tick(self.sensors, start)
        self.last_status = result.status
        if result.status not in ("ok", "clamped"):
            self.holds += 1
        if result.command is not None:
            self._publish(result.command)
        with self._samples_lock:
            if result.inferred:
                self.infer_ms.add(result.inference_ms)
            if result.command is not None:
                self.compute_ms.add((time.monotonic() - start) * 1e3)
                if result.status in ("ok", "clamped") and self._joint_stamp:
                    # clamped: a robot clock slightly ahead of ours must not break the tick
                    self.obs_age_ms.add(max(0.0, (time.time() - self._joint_stamp) * 1e3))

    def _publish(self, cmd: np.ndarray) -> None:
        if self.command_type == "float64_array":
            self.pub.publish(Float64MultiArray(data=cmd.tolist()))
            return
        msg = JointTrajectory(joint_names=list(self.robot.robot.joint_names))
        point = JointTrajectoryPoint(positions=cmd.tolist())
        point.time_from_start.nanosec = int(self.period * 1e9)
        msg.points = [point]
        self.pub.publish(msg)

    # --- policies ----------------------------------------------------------------------------

    def _try_load(self, path: str) -> str:
        """Load, validate and warm up off the control thread; '' on success, else the reason."""
        try:
            policy = OnnxPolicy(path, self.robot, **self.load_opts)
        except PolicyRejected as e:
            self.rejected += 1
            self.last_reject = str(e)
            self.get_logger().error(f"policy rejected, keeping the running one: {e}")
            return str(e)
        self.loop.offer(policy)
        self.active_path = path
        self.get_logger().info(f"policy {path} ({policy.content_hash[:12]}) ready; swapping in")
        return ""

    def _on_params(self, params) -> SetParametersResult:
        for param in params:
            if param.name == "policy_path" and param.value:
                reason = self._try_load(param.value)
                if reason:
                    return SetParametersResult(successful=False, reason=reason)
            elif param.name not in ("policy_path",):
                return SetParametersResult(
                    successful=False, reason=f"{param.name} is read-only at run time"
                )
        return SetParametersResult(successful=True)

    def _watch_key(self) -> tuple | None:
        try:
            real = os.path.realpath(self.watch_path)
            st = os.stat(real)
            return (real, st.st_mtime_ns, st.st_size)
        except OSError:
            return None

    def _on_watch(self) -> None:
        key = self._watch_key()
        if key is not None and key != self._watch_seen:
            self._watch_seen = key
            self._try_load(key[0])

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self.enabled = bool(request.data)
        if not self.enabled:
            self.loop.reset()
        response.success, response.message = True, f"enabled={self.enabled}"
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
        policy = self.loop.policy
        return {
            "enabled": self.enabled,
            "active_policy": self.active_path if policy else "",
            "policy_hash": policy.content_hash if policy else "",
            "swaps": self.loop.swaps,
            "rejected_swaps": self.rejected,
            "last_reject_reason": self.last_reject,
            "ticks": self.ticks,
            "missed_ticks": self.missed,
            "holds": self.holds,
            "last_status": self.last_status,
            "rate_hz": round(jitter.n / period_sum, 3) if period_sum > 0 else None,
            "jitter_p99_ms": pct(jitter, 99),
            "latency_p50_ms": pct(compute_ms, 50),
            "latency_p99_ms": pct(compute_ms, 99),
            "inference_p50_ms": pct(infer_ms, 50),
            "inference_p99_ms": pct(infer_ms, 99),
            "obs_age_p99_ms": pct(obs_age_ms, 99),
        }

    def _on_diagnostics(self) -> None:
        """Publish (and write) the statistics; a failure here is logged, never fatal: an
        exception in a callback would end the executor and with it every service."""
        try:
            self._publish_diagnostics()
        except Exception as e:  # noqa: BLE001
            self.get_logger().error(f"diagnostics failed: {e!r}", throttle_duration_sec=5.0)

    def _publish_diagnostics(self) -> None:
        s = self.stats()
        status = DiagnosticStatus(
            name=f"{NODE_NAME}: controller", hardware_id=self.robot.robot.name
        )
        holding = s["last_status"] not in ("ok", "clamped")
        status.level = DiagnosticStatus.WARN if holding else DiagnosticStatus.OK
        status.message = s["last_status"]
        status.values = [KeyValue(key=k, value=json.dumps(v)) for k, v in s.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(arr)
        if self.stats_path:
            tmp = Path(self.stats_path + ".tmp")
            tmp.write_text(json.dumps(s))
            tmp.replace(self.stats_path)


def _final_diagnostics(node: PolicyNode) -> None:
    node._stop.set()
    if rclpy.ok():
        node._on_diagnostics()


def main(argv: list[str] | None = None) -> int:
    return spin_node(PolicyNode, argv, _final_diagnostics)
