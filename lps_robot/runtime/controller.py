"""One control tick, without ROS: freshest observations in, a safe joint command (or hold) out.

The node feeds it sensor data and publishes what it returns; hot-swaps are offered from any
thread and taken between two ticks. Holds happen on stale or non-finite joint states, stale
or missing camera frames, missing policy, and non-finite policy output: a NaN never reaches
a motor.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from lps_robot.runtime.executor import ChunkExecutor
from lps_robot.runtime.policy import OnnxPolicy
from lps_robot.runtime.safety import SafetyFilter
from lps_robot.spec import Spec

PROPRIO_SOURCES = ("joint_pos", "joint_vel")  # proprio keys the controller can build


@dataclass
class Sensors:
    """The freshest data, each with its receipt time (time.monotonic seconds)."""

    joint_pos: np.ndarray | None = None
    joint_vel: np.ndarray | None = None
    joint_time: float = -1.0
    images: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)


@dataclass
class TickResult:
    command: np.ndarray | None  # None: nothing safe to publish
    status: str  # ok | clamped | a hold reason
    inferred: bool = False
    inference_ms: float = 0.0


class ControlLoop:
    def __init__(
        self,
        robot: Spec,
        *,
        execution: str = "open_loop",
        ensemble_decay: float = 0.1,
        max_obs_age_s: float = 0.2,
        rate_hz: float | None = None,
    ) -> None:
        for key in robot.obs.proprio_keys:
            if key not in PROPRIO_SOURCES:
                raise ValueError(
                    f"obs.proprio_keys: '{key}' cannot be built from joint states "
                    f"(expected one of {PROPRIO_SOURCES})"
                )
        self.robot = robot
        self.execution, self.ensemble_decay = execution, ensemble_decay
        self.max_age = max_obs_age_s
        self.safety = SafetyFilter(robot.robot, rate_hz)
        self.policy: OnnxPolicy | None = None
        self.executor: ChunkExecutor | None = None
        self._pending: OnnxPolicy | None = None
        self._lock = threading.Lock()
        self.swaps = 0

    def offer(self, policy: OnnxPolicy) -> None:
        """Queue a validated, warmed-up policy; it takes over at the start of the next tick."""
        with self._lock:
            self._pending = policy

    def take_pending(self) -> None:
        """Swap in an offered policy; called at the start of every tick, enabled or not."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            first = self.policy is None
            self.policy = pending
            p = pending.spec.policy
            self.executor = ChunkExecutor(
                p.chunk_length, p.execute_steps, self.execution, self.ensemble_decay
            )
            self.swaps += 0 if first else 1

    def reset(self) -> None:
        """Forget the queued chunk and the last command (e.g. after being disabled)."""
        if self.executor:
            self.executor.reset()
        self.safety.reset()

    def _hold(self, sensors: Sensors, reason: str) -> TickResult:
        if self.executor:
            self.executor.reset()
        return TickResult(self.safety.hold(sensors.joint_pos), reason)

    def tick(self, sensors: Sensors, now: float | None = None) -> TickResult:
        now = time.monotonic() if now is None else now
        self.take_pending()
        pos = sensors.joint_pos
        if pos is None or now - sensors.joint_time > self.max_age:
            return self._hold(sensors, "stale_joint_states")
        vel = sensors.joint_vel
        if not np.isfinite(pos).all() or (vel is not None and not np.isfinite(vel).all()):
            return self._hold(sensors, "invalid_joint_states")  # hold() ignores a NaN position
        for key in self.robot.obs.image_keys:
            frame = sensors.images.get(key)
            if frame is None or now - frame[1] > self.max_age:
                return self._hold(sensors, f"stale_camera:{key}")
        if self.policy is None or self.executor is None:
            return self._hold(sensors, "no_policy")
        inferred, ms = False, 0.0
        if self.executor.needs_query():
            obs: dict[str, np.ndarray] = {
                k: sensors.images[k][0] for k in self.robot.obs.image_keys
            }
            obs["joint_pos"] = pos
            if "joint_vel" in self.robot.obs.proprio_keys:
                obs["joint_vel"] = vel if vel is not None else np.zeros_like(pos)
            t0 = time.perf_counter()
            chunk = self.policy(obs)
            ms = (time.perf_counter() - t0) * 1e3
            inferred = True
            if not np.isfinite(chunk).all():
                return TickResult(self.safety.hold(pos), "invalid_action", inferred, ms)
            if self.policy.spec.action.type == "joint_delta":
                chunk = chunk + pos[None, :]  # relative to this chunk's first observation
            self.executor.push(chunk)
        cmd, status = self.safety(self.executor.next_action(), pos)
        return TickResult(cmd, status, inferred, ms)
