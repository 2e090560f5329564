"""One control tick, without ROS: freshest observations in, a safe joint command (or hold) out.

The node feeds it sensor data and publishes what it returns; hot-swaps are offered from any
thread and taken between two ticks. Holds happen on stale or non-finite joint states, stale
or missing camera frames, missing policy, and a policy that raises or returns a non-finite or
misshapen chunk: a NaN never reaches a motor.

After a swap the previous policy stays loaded: if the new one fails (raises, returns a bad
chunk, or misses the tick's deadline more than ``probation_max_misses`` times) within its
first ``probation_ticks`` commanded ticks, the loop rolls back to the previous one by itself.
A chunk outside the policy's own action bounds (`out_of_range`) is
a failure too: an exported policy decodes into those bounds, so such values mean a broken
model, never a target to clamp and chase. Inference slower than the period after probation is
reported per tick (``TickResult.late``) for the node's diagnostics.

``inference="ahead"`` computes chunks off the tick (`AheadInference`): the arm holds while
the first chunk is computed (``computing_chunk``) and while one is late (``late_chunk``, a
probation miss), so no tick waits for inference.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from lps_robot.runtime.ahead import INFERENCE_MODES, AheadInference
from lps_robot.runtime.executor import ChunkExecutor
from lps_robot.runtime.policy import OnnxPolicy, out_of_range
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
    joint_fault: str | None = None  # e.g. 'stale_joint:gripper', from the joint-state merger
    joint_times: np.ndarray | None = None  # per joint, when its value was measured


@dataclass
class TickResult:
    command: np.ndarray | None  # None: nothing safe to publish
    status: str  # ok | clamped | a hold reason
    inferred: bool = False
    inference_ms: float = 0.0
    late: bool = False  # inference ran past its deadline (tick) or a chunk came late (ahead)


class ControlLoop:
    def __init__(
        self,
        robot: Spec,
        *,
        execution: str = "open_loop",
        ensemble_decay: float = 0.1,
        max_obs_age_s: float = 0.2,
        max_image_age_s: float | None = None,
        rate_hz: float | None = None,
        probation_ticks: int = 50,
        probation_max_misses: int = 1,
        inference: str = "tick",
        wait_for_chunks: bool = False,
    ) -> None:
        """``wait_for_chunks`` (stepped simulation, ``inference="ahead"``): a tick waits for
        a chunk still being computed instead of holding, as if its inference had taken less
        than the lead (the simulated clock stops meanwhile), so stepping stays exact."""
        if inference not in INFERENCE_MODES:
            raise ValueError(f"inference: expected one of {INFERENCE_MODES}, got {inference!r}")
        if inference == "ahead" and execution != "open_loop":
            raise ValueError(
                "inference: 'ahead' needs execution 'open_loop' (an ensemble queries every tick)"
            )
        for key in robot.obs.proprio_keys:
            if key not in PROPRIO_SOURCES:
                raise ValueError(
                    f"obs.proprio_keys: '{key}' cannot be built from joint states "
                    f"(expected one of {PROPRIO_SOURCES})"
                )
        self.robot = robot
        self.execution, self.ensemble_decay = execution, ensemble_decay
        self.max_age = max_obs_age_s  # joint states
        self.max_image_age = max_obs_age_s if max_image_age_s is None else max_image_age_s
        self.safety = SafetyFilter(robot.robot, rate_hz)
        self.deadline_ms = 1e3 / (rate_hz or robot.robot.control_rate_hz)
        self.probation_ticks, self.probation_max_misses = probation_ticks, probation_max_misses
        self.policy: OnnxPolicy | None = None
        self.previous: OnnxPolicy | None = None  # kept loaded for a rollback
        self.executor: ChunkExecutor | None = None
        self._pending: OnnxPolicy | None = None
        self._lock = threading.Lock()
        self.swaps = 0
        self.rollbacks = 0
        self.last_rollback = ""  # why the last rollback happened
        self.last_policy_error = ""
        self._probation = 0  # commanded ticks left in the new policy's probation
        self._misses = 0
        self._joint_times: np.ndarray | None = None  # at the last commanded step
        self.inference, self.wait_for_chunks = inference, wait_for_chunks
        self.ahead: AheadInference | None = None  # made per policy (its chunk length)
        self._ticks = 0  # commanded ticks, the clock of chunks computed ahead

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
            self.previous = self.policy
            self._install(pending)
            self._probation, self._misses = self.probation_ticks, 0
            self.swaps += 0 if first else 1

    def _install(self, policy: OnnxPolicy | None) -> None:
        self.policy = policy
        if policy is None:
            self.executor = None
            return
        p = policy.spec.policy
        self.executor = ChunkExecutor(
            p.chunk_length, p.execute_steps, self.execution, self.ensemble_decay
        )
        if self.inference == "ahead" and p.chunk_length > 1:
            if self.ahead is None or self.ahead.h != p.chunk_length:
                if self.ahead is not None:
                    self.ahead.close()
                self.ahead = AheadInference(self.deadline_ms / 1e3, p.chunk_length)
            self.ahead.cancel()
            self.ahead.expect(getattr(policy, "warmup_p99_ms", None))

    def close(self) -> None:
        """Stops the inference worker (``inference="ahead"``)."""
        if self.ahead is not None:
            self.ahead.close()

    def _drop_queue(self) -> None:
        if self.executor:
            self.executor.reset()
        if self.ahead is not None:
            self.ahead.cancel()

    def _fail(self, sensors: Sensors, status: str, reason: str, ms: float) -> TickResult:
        """A policy failure: drop its queued actions; roll back during probation, else hold."""
        self._drop_queue()
        self.last_policy_error = reason
        if self._probation > 0:
            self.rollbacks += 1
            back = self.previous
            self.last_rollback = f"{reason}; rolled back to {back.path if back else 'no policy'}"
            self.previous = None
            self._install(back)
            self._probation = 0
            return TickResult(self.safety.hold(sensors.joint_pos), "rolled_back", True, ms)
        return TickResult(self.safety.hold(sensors.joint_pos), status, True, ms)

    def reset(self) -> None:
        """Forget the queued chunk and the last command (e.g. after being disabled)."""
        self._drop_queue()
        self.safety.reset()
        self._joint_times = None

    def _hold(self, sensors: Sensors, reason: str) -> TickResult:
        self._drop_queue()
        return TickResult(self.safety.hold(sensors.joint_pos), reason)

    def tick(self, sensors: Sensors, now: float | None = None) -> TickResult:
        now = time.monotonic() if now is None else now
        self.take_pending()
        if sensors.joint_fault:
            return self._hold(sensors, sensors.joint_fault)
        pos = sensors.joint_pos
        if pos is None or now - sensors.joint_time > self.max_age:
            return self._hold(sensors, "stale_joint_states")
        vel = sensors.joint_vel
        if not np.isfinite(pos).all() or (vel is not None and not np.isfinite(vel).all()):
            return self._hold(sensors, "invalid_joint_states")  # hold() ignores a NaN position
        for key in self.robot.obs.image_keys:
            frame = sensors.images.get(key)
            if frame is None or now - frame[1] > self.max_image_age:
                return self._hold(sensors, f"stale_camera:{key}")
        if self.policy is None or self.executor is None:
            return self._hold(sensors, "no_policy")
        tick, self._ticks = self._ticks, self._ticks + 1  # the clock of chunks computed ahead
        inferred, ms, late = False, 0.0, False
        got = None
        if self.ahead is not None:  # a chunk computed ahead is taken as soon as it is ready
            got = self._take(sensors, tick)
        elif self.executor.needs_query():
            got = self._query(sensors)
        if got is not None:
            if isinstance(got, TickResult):
                return got
            chunk, offset, ms, late, chunk_pos = got
            inferred = True
            failed = self._check(sensors, chunk, ms)
            if failed is not None:
                return failed
            if self.policy.spec.action.type == "joint_delta":
                chunk = chunk + chunk_pos[None, :]  # relative to the chunk's first observation
            self.executor.push(chunk, offset)
        fresh = None
        if sensors.joint_times is not None:
            prev, self._joint_times = self._joint_times, sensors.joint_times
            if prev is not None and prev.shape == sensors.joint_times.shape:
                fresh = sensors.joint_times > prev
        cmd, status = self.safety(self.executor.next_action(), pos, fresh)
        ahead = self.ahead
        if (
            ahead is not None
            and not ahead.pending(self.policy)
            and self.executor.remaining() < ahead.lead()
        ):  # the next chunk, from this tick's observation
            ahead.launch(self.policy, self._observation(sensors), pos, tick, startup=False)
        if self._probation > 0:
            self._probation -= 1
            if self._probation == 0:
                self.previous = None  # passed: release the old policy
        return TickResult(cmd, status, inferred, ms, late)

    def _observation(self, sensors: Sensors) -> dict[str, np.ndarray]:
        """The policy's input from a snapshot whose data passed the tick's checks."""
        obs = {k: sensors.images[k][0] for k in self.robot.obs.image_keys}
        obs["joint_pos"] = sensors.joint_pos
        if "joint_vel" in self.robot.obs.proprio_keys:
            vel = sensors.joint_vel
            obs["joint_vel"] = vel if vel is not None else np.zeros_like(sensors.joint_pos)
        return obs

    def _miss(self, sensors: Sensors, what: str, ms: float) -> TickResult | None:
        """A missed deadline; in probation, more than ``probation_max_misses`` fail the policy."""
        if self._probation <= 0:
            return None
        self._misses += 1
        if self._misses <= self.probation_max_misses:
            return None
        return self._fail(sensors, "deadline_miss", f"{what} {self._misses} times", ms)

    def _query(self, sensors: Sensors) -> TickResult | tuple:
        """The next chunk, computed on this tick: (chunk, offset 0, ms, late, its joint_pos)."""
        t0 = time.perf_counter()
        try:
            chunk = self.policy(self._observation(sensors))
        except Exception as e:  # noqa: BLE001 - a policy may raise anything
            ms = (time.perf_counter() - t0) * 1e3
            return self._fail(sensors, "policy_error", f"{type(e).__name__}: {e}", ms)
        ms = (time.perf_counter() - t0) * 1e3
        late = ms > self.deadline_ms
        what = f"inference took {ms:.1f} ms > the {self.deadline_ms:.1f} ms period"
        missed = self._miss(sensors, what, ms) if late else None
        return missed or (chunk, 0, ms, late, sensors.joint_pos)

    def _take(self, sensors: Sensors, tick: int) -> TickResult | tuple | None:
        """The chunk computed ahead, as soon as it is ready: (chunk, the offset of this tick
        in it, its inference ms, whether it came late, the joint_pos it was computed from); it
        replaces what is left of the running chunk (planned from an older observation). None:
        nothing new, the queued actions run on. With nothing queued the arm holds: at the
        start (``computing_chunk``: nothing was computing) or because the chunk is late
        (``late_chunk``, counted; a probation miss). Stepped (``wait_for_chunks``), a chunk is
        waited for on the tick after its launch, as a policy faster than the period runs."""
        ahead, pos = self.ahead, sensors.joint_pos
        queued = self.executor.remaining() > 0
        if not ahead.pending(self.policy):  # nothing computing: start from this tick's obs
            if queued:
                return None
            ahead.launch(self.policy, self._observation(sensors), pos, tick, startup=True)
            return TickResult(self.safety.hold(pos), "computing_chunk")
        if not ahead.ready() and not ahead.startup and self.wait_for_chunks:
            ahead.wait()
        if not ahead.ready():
            if queued:
                return None
            if ahead.startup:
                return TickResult(self.safety.hold(pos), "computing_chunk")
            if ahead.mark_late():  # a chunk's first late tick is a miss
                what = f"chunks computed ahead came late (lead {ahead.lead()} ticks)"
                missed = self._miss(sensors, what, 0.0)
                if missed is not None:
                    return missed
            return TickResult(self.safety.hold(pos), "late_chunk", late=True)
        got = ahead.take(tick)
        if got.error is not None:
            e = got.error
            return self._fail(sensors, "policy_error", f"{type(e).__name__}: {e}", got.ms)
        if got.offset >= self.executor.h:  # it planned only ticks already past: start again
            return None if queued else self._take(sensors, tick)
        return got.chunk, got.offset, got.ms, got.late, got.pos

    def _check(self, sensors: Sensors, chunk: np.ndarray, ms: float) -> TickResult | None:
        """A chunk that may not be executed fails the policy (see `_fail`)."""
        if not np.isfinite(chunk).all():
            return self._fail(sensors, "invalid_action", "non-finite action chunk", ms)
        outside = out_of_range(chunk, self.policy.spec)
        if outside:
            return self._fail(sensors, "action_out_of_range", outside, ms)
        return None
