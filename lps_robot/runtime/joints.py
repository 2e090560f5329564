"""Joint states from one or several publishers, merged by name with per-joint freshness.

ros2_control's joint_state_broadcaster and a separate gripper driver commonly publish on the
same ``/joint_states``, each naming only its own joints: a message lacking a joint must not
wipe that joint's last value. Malformed messages (a length that does not match the names,
duplicated names) are refused whole. A joint's freshness comes from the message's header
stamp when the sender's clock agrees with ours within ``skew_tolerance_s`` (so transport
delay counts), else from the time of receipt (and `update` reports the skew).

Faults `snapshot` names, per joint: ``missing_joint`` (never heard), ``stale_joint`` (no
message within the age limit), ``clock_skew`` (messages keep arriving but their stamps are
older than the age limit: a sender clock behind ours, or a delayed driver), ``invalid_joint``
(non-finite) and ``conflicting_sources`` (two publishers take turns sending the same joint).
Ages are never negative: a message that lands while a tick runs is as fresh as the tick.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

import numpy as np

CONFLICT_WINDOW_S = 0.5  # two source switches of one joint within this: conflicting sources


class JointStateMerger:
    def __init__(self, names: Sequence[str], skew_tolerance_s: float = 1.0) -> None:
        self.names = tuple(names)
        self._index = {n: i for i, n in enumerate(self.names)}
        n = len(self.names)
        self.pos = np.full(n, np.nan)
        self.vel = np.zeros(n)
        self.has_vel = np.zeros(n, bool)  # False: the joint's publisher sends no velocity
        self.time = np.full(n, -np.inf)  # monotonic seconds the joint's value was measured
        self.recv = np.full(n, -np.inf)  # monotonic seconds the joint's last message arrived
        self.skew_tolerance_s = skew_tolerance_s
        self.last_skew_s = 0.0  # receipt wall time - header stamp of the last skewed message
        self.stamp_offset_s = 0.0  # receipt wall time - header stamp of the last message
        self._source: list[object] = [None] * n  # publisher of each joint's last value
        self._switches: list[list[float]] = [[] for _ in range(n)]  # times its source changed
        self.conflict = ""  # the last conflict, for diagnostics
        self._lock = threading.Lock()

    def update(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        velocities: Sequence[float],
        stamp_s: float,
        now_mono: float,
        now_wall: float,
        source: object = None,
    ) -> str | None:
        """Take a JointState's fields (``source``: the publisher's id, when known); None if
        accepted, else why it was refused. A skewed stamp is accepted (receipt time used) and
        reported as 'clock_skew:<seconds>'; 'conflict:<joint>' when two sources alternate."""
        names = list(names)
        if len(positions) != len(names):
            return f"malformed: {len(positions)} positions for {len(names)} names"
        if len(velocities) not in (0, len(names)):
            return f"malformed: {len(velocities)} velocities for {len(names)} names"
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            return f"malformed: duplicated joint name(s) {dup}"
        note = None
        t = now_mono
        if stamp_s > 0 and math.isfinite(stamp_s):
            offset = now_wall - stamp_s
            self.stamp_offset_s = offset
            if abs(offset) <= self.skew_tolerance_s:
                t = now_mono - max(offset, 0.0)
            else:
                self.last_skew_s = offset
                note = f"clock_skew:{offset:.3f}"
        with self._lock:
            for k, name in enumerate(names):
                i = self._index.get(name)
                if i is None:
                    continue  # a joint this robot does not command (e.g. a passive finger)
                previous = self._source[i]
                switched = None not in (source, previous) and source != previous
                if switched and self._switched(i, now_mono):
                    self.conflict = name
                    note = note or f"conflict:{name}"
                self._source[i] = source
                self.pos[i] = positions[k]
                self.vel[i] = velocities[k] if velocities else 0.0
                self.has_vel[i] = bool(velocities)
                self.time[i] = t
                self.recv[i] = now_mono
        return note

    def _switched(self, i: int, now: float) -> bool:
        """Record a source switch of joint ``i``; True when it is the second within the
        window (A -> B -> A: two live publishers; one restarted driver switches once)."""
        recent = [s for s in self._switches[i] if now - s <= CONFLICT_WINDOW_S]
        recent.append(now)
        self._switches[i] = recent[-4:]
        return len(recent) >= 2

    def times(self) -> np.ndarray:
        """When each joint's value was last measured (monotonic seconds)."""
        with self._lock:
            return self.time.copy()

    def snapshot(
        self, now: float, max_age_s: float
    ) -> tuple[np.ndarray | None, np.ndarray | None, float, str | None]:
        """(positions, velocities or None, oldest measurement time, fault) in spec order; the
        fault names the first joint that is missing, stale, skewed, conflicting or non-finite
        (positions None then). Times are never later than ``now``."""
        with self._lock:
            pos, vel = self.pos.copy(), self.vel.copy()
            t, recv = np.minimum(self.time, now), np.minimum(self.recv, now)
            has_vel = self.has_vel.any()
            switches = [list(s) for s in self._switches]
        for i, name in enumerate(self.names):
            if not np.isfinite(t[i]):
                return None, None, -np.inf, f"missing_joint:{name}"
            if now - t[i] > max_age_s:
                fresh = now - recv[i] <= max_age_s  # arriving, but stamped too long ago
                kind = "clock_skew" if fresh else "stale_joint"
                return None, None, float(t.min()), f"{kind}:{name}"
            if len([s for s in switches[i] if now - s <= CONFLICT_WINDOW_S]) >= 2:
                return None, None, float(t.min()), f"conflicting_sources:{name}"
            if not (np.isfinite(pos[i]) and np.isfinite(vel[i])):
                return None, None, float(t.min()), f"invalid_joint:{name}"
        # velocities a publisher does not send count as 0 (as a robot without them would)
        return pos, (vel if has_vel else None), float(t.min()), None
