"""Teleop recorder: camera(s) + joint states + the operator's command -> HDF5 episodes.

Samples the freshest message of every stream at the control rate and appends one step per
tick through `EpisodeWriter` (crash-safe, one file per episode). The action is what the
operator commanded on ``/teleop/joint_command`` (``action_type``: Float64MultiArray,
JointState or JointTrajectory; a command group's joints on ``<topic>/<group>``); cameras are
raw or (``camera_transport``) compressed, converted by `lps_robot.messages`; joint states are
merged by name over publishers. Services: ``~/start``, ``~/stop`` (SetBool: success),
``~/discard``, ``~/drop_last``; ``~/start`` refuses, naming them, while any input has no
fresh message. A tick at which a stream is stale is not recorded and counts as a dropped
sample; an episode whose rate sags below 90% of nominal, or that dropped samples, is
flagged in its notes and on ``/recorder/status``.

Time is checked per stream (`StreamClock`): zero stamps and stamps on another clock are
replaced by receipt time, out-of-order, repeated and late messages are never recorded as
fresh, and each such fault is named in the episode's notes and ``timing_faults`` (which
``lps data validate`` reports). A full disk ends the episode, never the node: a ballast file
(`DiskGuard`) keeps room to finish it, ``~/start`` refuses with the free space, and the
reason goes out on the ``~/stop`` reply and ``/recorder/status``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory

from lps_robot.data.diskguard import DiskGuard, step_bytes
from lps_robot.data.schema import DEFAULT_TASK
from lps_robot.data.timing import StreamClock, too_soon
from lps_robot.data.writer import FLUSH_EVERY, DatasetWriter, EpisodeWriter
from lps_robot.messages import command_vector, image_to_rgb
from lps_robot.ros.joint_groups import subscribe_commands
from lps_robot.ros.logs import LogLimiter
from lps_robot.ros.policy_params import default_spec_path
from lps_robot.ros.sim_node import TELEOP_TOPIC
from lps_robot.ros.spin import spin_node
from lps_robot.spec import Spec

RATE_SAG = 0.9
ACTION_MSGS = {
    "float64_array": Float64MultiArray,
    "joint_state": JointState,
    "joint_trajectory": JointTrajectory,
}
TRANSPORTS = ("raw", "compressed")
NOT_LIVE = "inputs not live"  # start's refusal when a sensor or the action is silent


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("lps_recorder")
        self._log = LogLimiter(self.get_logger())  # (level, key, message, period_s)
        params = {
            "robot_spec": "",
            "output_dir": "runs/recordings",
            "action_topic": TELEOP_TOPIC,
            "joint_states_topic": "/joint_states",
            "max_obs_age_s": 0.15,
            "compression": "none",
            "calibration_id": "",
            "min_free_mb": 64.0,
            "clock_skew_tolerance_s": 0.5,
            "task": DEFAULT_TASK,
            "status_period_s": 0.5,
            "action_type": "float64_array",
            "camera_transport": "raw",
        }
        for k, v in params.items():
            self.declare_parameter(k, v)
        p = {k: self.get_parameter(k).value for k in params}
        for name, allowed in (("action_type", ACTION_MSGS), ("camera_transport", TRANSPORTS)):
            if p[name] not in allowed:
                raise ValueError(
                    f"parameter {name}: expected one of {list(allowed)}, got {p[name]!r}"
                )
        self.spec = Spec.load(p["robot_spec"] or default_spec_path())
        self.rate = self.spec.robot.control_rate_hz
        self.max_age = p["max_obs_age_s"]
        self.keys = (*self.spec.obs.image_keys, *self.spec.obs.proprio_keys, "action")  # inputs
        self.writer = DatasetWriter(
            p["output_dir"],
            self.spec,
            compression=None if p["compression"] == "none" else p["compression"],
            calibration_id=p["calibration_id"] or None,
        )
        self.latest: dict[str, tuple[np.ndarray, float, float]] = {}  # key -> (value, recv, time)
        self.episode: EpisodeWriter | None = None
        self.dropped: dict[str, int] = {}
        self.times: list[float] = []
        self.finished = 0
        self.ended = ""  # why the last episode ended by itself (e.g. disk full)
        self.skew_tolerance = p["clock_skew_tolerance_s"]
        self.clocks = {  # joint-state publishers get theirs as they appear (joint_states, #2..)
            c.name: StreamClock(self.max_age, self.skew_tolerance) for c in self.spec.cameras
        }
        self.joint_streams: dict[bytes, str] = {}
        self.joint_index = {n: i for i, n in enumerate(self.spec.robot.joint_names)}
        self.joints: dict[str, tuple[float, float, float, float]] = {}  # (pos, vel, recv, t)
        self.disk = DiskGuard(
            p["output_dir"], step_bytes(self.spec), FLUSH_EVERY, p["min_free_mb"]
        )
        self.create_subscription(JointState, p["joint_states_topic"], self._on_joints, 10)
        self.action_topic = p["action_topic"]
        action_msg = ACTION_MSGS[p["action_type"]]
        # a command group (a gripper on its own driver) arrives on <action_topic>/<group>
        self.parts: dict[str, tuple[np.ndarray, float]] = {}
        robot, topic = self.spec.robot, p["action_topic"]
        self.split = subscribe_commands(self, robot, topic, self._on_action, action_msg, True)
        compressed = p["camera_transport"] == "compressed"
        for cam in self.spec.cameras:  # image_transport's naming: <topic>/compressed
            self.create_subscription(
                CompressedImage if compressed else Image,
                f"{cam.topic}/compressed" if compressed else cam.topic,
                lambda m, c=cam: self._on_image(c, m),
                qos_profile_sensor_data,
            )
        self.status_pub = self.create_publisher(String, "/recorder/status", 10)
        # one executor thread runs the tick and the services: an episode never closes mid-append
        self.create_service(Trigger, "~/start", self._on_start)
        self.create_service(SetBool, "~/stop", self._on_stop)
        self.create_service(Trigger, "~/discard", self._on_discard)
        self.create_service(Trigger, "~/drop_last", self._on_drop_last)
        self.last_path: Path | None = None  # the last finished episode (re-record drops it)
        self.create_timer(1.0 / self.rate, self._on_tick)
        self.create_timer(p["status_period_s"], self._on_status)
        self.get_logger().info(f"recording to {p['output_dir']} at {self.rate:g} Hz")

    @staticmethod
    def _stamp(msg) -> float:
        return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9

    def _timed(self, stream: str, msg) -> tuple[float, float] | None:
        """(receipt monotonic time, time to record) of a message, or None to drop it."""
        t = self.clocks[stream].take(self._stamp(msg), time.time())
        return None if t is None else (time.monotonic(), t)

    def _on_joints(self, msg: JointState, info: dict) -> None:
        """Joint states merged by name: an arm broadcaster and a gripper driver may publish
        their joints apart (each publisher's stamps checked as a stream of its own)."""
        gid = bytes(((info or {}).get("publisher_gid") or {}).get("data", b""))
        n = len(self.joint_streams)
        name = f"joint_states#{n + 1}" if n else "joint_states"
        stream = self.joint_streams.setdefault(gid, name)
        if stream not in self.clocks:
            self.clocks[stream] = StreamClock(self.max_age, self.skew_tolerance)
        timed = self._timed(stream, msg)
        if timed is None or len(msg.position) != len(msg.name):
            return
        has_vel = len(msg.velocity) == len(msg.name)
        for k, name in enumerate(msg.name):
            if name in self.joint_index:
                vel = msg.velocity[k] if has_vel else 0.0
                self.joints[name] = (msg.position[k], vel, *timed)
        if len(self.joints) < len(self.joint_index):
            return  # a joint not heard yet
        order = self.spec.robot.joint_names
        values = [self.joints[n] for n in order]
        recv = min(v[2] for v in values)  # as fresh as its stalest joint
        t = max(v[3] for v in values)  # the newest measurement: the step's time
        pos = np.array([v[0] for v in values], np.float32)
        self.latest["joint_pos"] = (pos, recv, t)
        self.latest["joint_vel"] = (np.array([v[1] for v in values], np.float32), recv, t)

    def _on_action(self, msg, idx: list[int], topic: str) -> None:
        now = time.monotonic()
        if len(self.split) == 1 and hasattr(msg, "data"):  # as commanded; checked at the tick
            self.latest["action"] = (np.asarray(msg.data, np.float32), now, 0.0)
            return
        names = tuple(self.spec.robot.joint_names[i] for i in idx)
        try:
            part = command_vector(msg, names)
        except ValueError as e:
            self._log("warning", f"action:{topic}", f"{topic}: {e}", 5.0)
            return
        self.parts[topic] = (part, now)
        if len(self.parts) < len(self.split):
            return  # not every group heard yet
        action = np.zeros(len(self.spec.robot.joint_names), np.float32)
        for t, i in self.split:
            action[list(i)] = self.parts[t][0]
        oldest = min(received for _, received in self.parts.values())
        self.latest["action"] = (action, oldest, 0.0)

    def _on_image(self, cam, msg: Image) -> None:
        timed = self._timed(cam.name, msg)
        if timed is None:
            return
        try:
            img = image_to_rgb(msg, cam.width, cam.height)
        except ValueError as e:
            self._log("warning", f"camera:{cam.name}", f"camera '{cam.name}': {e}", 5.0)
            return
        self.latest[cam.name] = (img, *timed)

    def _stale(self, now: float) -> list[str]:
        """Inputs with no message yet or none within max_obs_age_s."""
        return [
            k for k in self.keys if k not in self.latest or now - self.latest[k][1] > self.max_age
        ]

    def _on_tick(self) -> None:
        if self.episode is None:
            return
        full = self.disk.low()
        if full:
            self._end(full)
            return
        stale = self._stale(time.monotonic())
        if stale:
            for k in stale:
                self.dropped[k] = self.dropped.get(k, 0) + 1
            return
        obs = {k: self.latest[k][0] for k in self.keys if k != "action"}
        action = self.latest["action"][0]
        if action.shape != (self.spec.action.dim,) or not np.isfinite(action).all():
            self.dropped["action"] = self.dropped.get("action", 0) + 1
            return
        stamp = self.latest["joint_pos"][2]
        # no joint state since the last step, or only one publisher's of a split robot a few
        # ms after it (their stamps' phase): not a step the episode's timing check accepts
        if self.times and too_soon(stamp - self.times[-1], self.rate):
            self.dropped["joint_pos"] = self.dropped.get("joint_pos", 0) + 1
            return
        try:
            self.episode.append(obs, action, timestamp=stamp)
        except OSError as e:  # a write error HDF5 met anyway: the episode ends, the node stays
            self._end(str(e), kept_partial=True)
            return
        self.times.append(stamp)

    def _timing_notes(self) -> list[str]:
        return [n for stream, c in self.clocks.items() for n in c.notes(stream)]

    def _end(self, why: str, kept_partial: bool = False) -> None:
        """End the recording episode by itself (disk full, write error): finish it as a
        failure of unknown outcome in the room the ballast leaves, with the reason."""
        ep, self.episode = self.episode, None
        self.disk.release()
        path = ep.partial_path
        if not kept_partial and ep.num_steps:
            status = self._report("ending", reason=why)
            try:
                path = ep.finish(
                    False,
                    notes="; ".join([f"ended early: {why}", *status["flags"]]),
                    dropped_frames=self.dropped,
                    timing_faults=self._timing_notes(),
                )
                self.finished += 1
            except (OSError, RuntimeError) as e:
                why = f"{why}; finishing failed too ({e})"
        elif not ep.num_steps:
            ep.abort()
        self.ended = f"episode ended: {why} ({path})"
        self._log("error", "ended", self.ended, 1.0)
        self._report("ended", reason=why, path=str(path))

    def _report(self, event: str, **extra) -> dict:
        n = len(self.times)
        rate = (
            (n - 1) / (self.times[-1] - self.times[0])
            if n > 1 and self.times[-1] > self.times[0]
            else None
        )
        flags = []
        if rate is not None and rate < RATE_SAG * self.rate:
            flags.append(f"rate sagged to {rate:.1f} Hz (nominal {self.rate:g})")
        if any(self.dropped.values()):
            flags.append(f"dropped samples {self.dropped}")
        flags += self._timing_notes()
        status = {
            "event": event,
            "steps": n,
            "measured_rate_hz": rate,
            "dropped": dict(self.dropped),
            "flags": flags,
            "episodes_finished": self.finished,
            **extra,
        }
        self.status_pub.publish(String(data=json.dumps(status)))
        return status

    def _on_start(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.episode is not None:
            response.success, response.message = False, "an episode is already recording"
            return response
        now = time.monotonic()
        stale = self._stale(now)
        if stale:  # never open an episode that cannot record: say which input is missing
            why = [
                f"{k} ({now - self.latest[k][1]:.2f} s old)"
                if k in self.latest
                else f"{k} (none yet)"
                for k in stale
            ]
            response.success, response.message = False, f"{NOT_LIVE}: {', '.join(why)}"
            return response
        full = self.disk.arm()
        if full:
            response.success, response.message = False, full
            return response
        self.dropped, self.times, self.ended = {}, [], ""
        for clock in self.clocks.values():
            clock.faults.clear()
        try:
            self.episode = self.writer.begin_episode(task=self.get_parameter("task").value)
        except OSError as e:
            self.disk.release()
            response.success, response.message = False, f"cannot open an episode: {e}"
            return response
        response.success, response.message = True, str(self.episode.partial_path)
        return response

    def _on_stop(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        ep, self.episode = self.episode, None
        if ep is None and self.ended:  # it ended by itself: say why, once
            response.success, response.message, self.ended = False, self.ended, ""
            return response
        if ep is None or ep.num_steps == 0:
            if ep is not None:
                ep.abort()
                self.disk.release()
            response.success, response.message = False, "no recorded steps to finish"
            return response
        status = self._report("stopped", success=bool(request.data))
        try:
            path = ep.finish(
                bool(request.data),
                notes="; ".join(status["flags"]),
                dropped_frames=self.dropped,
                timing_faults=self._timing_notes(),
            )
        except (OSError, RuntimeError) as e:
            response.success, response.message = False, f"finishing failed: {e}"
            return response
        finally:
            self.disk.release()
        self.finished += 1
        self.last_path = path
        response.success = True
        response.message = json.dumps(
            {**status, "path": str(path), "episodes_finished": self.finished}
        )
        return response

    def _on_discard(
        self, request: Trigger.Request, response: Trigger.Response
    ) -> Trigger.Response:
        ep, self.episode = self.episode, None
        if ep is not None:
            ep.abort()
            self.disk.release()
        response.success, response.message = (
            ep is not None,
            "discarded" if ep else "nothing to discard",
        )
        return response

    def _on_drop_last(
        self, request: Trigger.Request, response: Trigger.Response
    ) -> Trigger.Response:
        """Delete the last finished episode (to record it again); refused while recording."""
        if self.episode is not None:
            response.success, response.message = False, "an episode is recording"
            return response
        path, self.last_path = self.last_path, None
        if path is None or not path.exists():
            response.success, response.message = False, "no finished episode to drop"
            return response
        path.unlink()
        self.finished -= 1
        response.success, response.message = True, f"dropped {path}"
        return response

    def _on_status(self) -> None:
        """While recording: steps, measured rate and dropped samples, for a session screen."""
        if self.episode is not None:
            self._report("recording", episode=self.episode.index)


def _warn_if_recording(node: RecorderNode) -> None:
    if node.episode is not None:  # finished episodes are already safe on disk
        node.get_logger().warn("shutting down mid-episode: it stays as a .partial file")


def main(argv: list[str] | None = None) -> int:
    return spin_node(RecorderNode, argv, _warn_if_recording)
