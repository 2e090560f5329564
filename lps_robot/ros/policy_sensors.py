"""The controller's inputs: joint states and camera images, received on a hidden node with
its own executor thread, so a flood of sensor messages never waits behind a service call and
a slow service never delays a sensor.

Joint states from any number of publishers are merged by name (`JointStateMerger`, which
also finds clock skew and two sources taking turns on one joint); camera images are
preprocessed on arrival by the one preprocessing path (`Preprocessor`). The control thread
reads a consistent `Sensors` snapshot.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState

from lps_robot.messages import image_to_rgb
from lps_robot.preprocess import Preprocessor
from lps_robot.ros.logs import LogLimiter, emit
from lps_robot.ros.spin import spin_until_shutdown
from lps_robot.runtime.controller import Sensors
from lps_robot.runtime.joints import JointStateMerger
from lps_robot.spec import Spec


class SensorInputs:
    """Subscriptions of ``owner`` (its context, name and namespace) while started."""

    def __init__(self, owner: Node, log: LogLimiter) -> None:
        self.owner, self._log = owner, log
        self.bad_joint_msgs = 0  # over the node's life, across configurations
        self.joints: JointStateMerger | None = None
        self.images: dict[str, tuple[np.ndarray, float]] = {}
        self._node = self._exec = self._thread = None

    def start(self, robot: Spec, joint_topic: str, max_age: float, skew_tol: float) -> None:
        """Subscribe and start the executor thread (at configure)."""
        self.robot, self.topic, self.max_age = robot, joint_topic, max_age
        self.pre = Preprocessor(robot)
        self.joints = JointStateMerger(robot.robot.joint_names, skew_tol)
        self.images = {}
        owner = self.owner
        # the process's own ROS arguments rename every node it creates (a launch file's
        # `name=` is `__node:=...`): this hidden node takes none of them (its name derives
        # from the owner's) and subscribes to the topics as the owner resolves them, remaps
        # and namespace included
        node = rclpy.create_node(
            f"_{owner.get_name()}_sensors",
            namespace=owner.get_namespace(),
            context=owner.context,
            start_parameter_services=False,
            use_global_arguments=False,
        )
        resolve = owner.resolve_topic_name
        node.create_subscription(JointState, resolve(joint_topic), self._on_joints, 50)
        for key in robot.obs.image_keys:
            node.create_subscription(
                Image,
                resolve(robot.camera(key).topic),
                lambda m, k=key: self._on_image(k, m),
                qos_profile_sensor_data,
            )
        # rclpy's experimental EventsExecutor was measured here: beside the main executor it
        # left the node's services unanswered (~/enable timed out after 20 s), so: not used.
        executor = SingleThreadedExecutor(context=owner.context)
        executor.add_node(node)
        self._node, self._exec = node, executor
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._spin, name="lps_sensors", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the executor and drop the subscriptions (at cleanup)."""
        if self._exec is not None:
            self._stopping.set()
            self._exec.shutdown(timeout_sec=1.0)
            self._node.destroy_node()
            self._thread.join(timeout=2)
        self._node = self._exec = self._thread = None

    def _spin(self) -> None:
        try:
            spin_until_shutdown(self._exec, self._stopping.is_set)
        except Exception as e:  # noqa: BLE001 - shutdown races end the spin; log the rest
            if rclpy.ok(context=self.owner.context):
                emit(self.owner.get_logger(), "error", f"sensor executor stopped: {e!r}")

    # --- callbacks (sensor executor thread) --------------------------------------------------

    def _on_joints(self, msg: JointState, info: dict) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        gid = (info or {}).get("publisher_gid") or {}
        source = bytes(gid.get("data", b"")) or None
        note = self.joints.update(
            msg.name, msg.position, msg.velocity, stamp, time.monotonic(), time.time(), source
        )
        if note is None:
            return
        if note.startswith("malformed"):
            self.bad_joint_msgs += 1
            self._log("warning", "joints", f"{self.topic}: refused a {note}", 5.0)
        elif note.startswith("conflict"):
            self._log(
                "error",
                "conflict",
                f"{self.topic}: two publishers take turns sending joint "
                f"'{self.joints.conflict}' (conflicting joint-state sources): holding",
                5.0,
            )
        else:
            self._log(
                "warning",
                "skew",
                f"{self.topic}: header stamps are {self.joints.last_skew_s:.3f}"
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

    # --- readers (control and loader threads) ------------------------------------------------

    def snapshot(self, now: float) -> Sensors:
        """What the loop sees at ``now``: joints (or why not) and the latest images."""
        times = self.joints.times()  # before the snapshot: never newer than its values
        pos, vel, t, fault = self.joints.snapshot(now, self.max_age)
        return Sensors(pos, vel, t, dict(self.images), fault, times)

    def latest_obs(self) -> dict[str, np.ndarray] | None:
        """The latest real observation, for warming a new policy up on it (None if partial)."""
        s = self.snapshot(time.monotonic())
        if s.joint_fault or any(k not in s.images for k in self.robot.obs.image_keys):
            return None
        obs = {k: s.images[k][0] for k in self.robot.obs.image_keys}
        obs["joint_pos"] = s.joint_pos
        obs["joint_vel"] = s.joint_vel if s.joint_vel is not None else np.zeros_like(s.joint_pos)
        return obs

    @property
    def stamp_offset_s(self) -> float | None:
        return round(self.joints.stamp_offset_s, 4) if self.joints is not None else None
