"""The controller's health in one place: loop statistics, recent lateness, and the level.

`LoopStats` collects what the control thread measures (as streaming histograms: O(1) per
tick, and reading them never holds the GIL long enough to delay a tick) and remembers when
ticks were missed and inferences ran late, so a policy that turns slow after its probation
shows as WARN (and as ERROR when it costs more than `MISS_ERROR_FRACTION` of the ticks) with
the figures. `level` maps a statistics snapshot to a diagnostic level and message that say
why the node is not commanding, including a stalled control loop.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from diagnostic_msgs.msg import DiagnosticStatus

from lps_robot.runtime.histogram import Histogram

if TYPE_CHECKING:
    from lps_robot.runtime.controller import ControlLoop

RUNNING = ("ok", "clamped")  # tick statuses that command the policy's action
STALE_PREFIXES = ("stale_", "missing_joint")
WINDOW_S = 5.0  # lateness is reported over this window
MISS_ERROR_FRACTION = 0.1  # missed ticks over this fraction of the window: ERROR


class LoopStats:
    def __init__(self, period: float) -> None:
        self.period = period
        self.lock = threading.Lock()  # the control thread adds, diagnostics read
        self.period_sum = 0.0  # seconds over jitter_ms.n ticks: the measured rate
        self.jitter_ms, self.compute_ms = Histogram(), Histogram()
        self.infer_ms, self.obs_age_ms = Histogram(), Histogram()
        self.ticks = self.missed = 0
        self.policy_ticks = 0  # ticks that commanded the policy's action since activating
        self._last_tick: float | None = None
        self._misses: deque[tuple[float, int]] = deque(maxlen=4096)  # (time, ticks missed)
        self._late: deque[tuple[float, float]] = deque(maxlen=4096)  # (time, inference ms)

    def tick_started(self, start: float) -> None:
        if self._last_tick is not None:
            dt = start - self._last_tick
            with self.lock:
                self.period_sum += dt
                self.jitter_ms.add(abs(dt - self.period) * 1e3)
            if dt > 1.5 * self.period:
                missed = int(round(dt / self.period)) - 1
                self.missed += missed
                self._misses.append((start, missed))
        self._last_tick = start
        self.ticks += 1

    def add(
        self,
        inference_ms: float | None,
        compute_ms: float | None,
        obs_age_ms: float | None,
        late: bool = False,
        running: bool = False,
    ) -> None:
        """``late``: the tick's inference ran past the period, or a chunk computed ahead
        came late; ``running``: the tick commanded the policy's action (not a hold)."""
        with self.lock:
            self.policy_ticks += running
            if inference_ms is not None:
                self.infer_ms.add(inference_ms)
            if late:
                self._late.append((time.monotonic(), inference_ms or 0.0))
            if compute_ms is not None:
                self.compute_ms.add(compute_ms)
            if obs_age_ms is not None:
                self.obs_age_ms.add(max(0.0, obs_age_ms))

    def activated(self) -> None:
        """The node was activated: `policy_ticks` counts from here (an episode that reads 0
        at its end was held throughout)."""
        with self.lock:
            self.policy_ticks = 0

    def recent(self, now: float) -> dict:
        """Missed ticks and late inferences over the last `WINDOW_S` seconds."""
        with self.lock:
            misses = sum(n for t, n in self._misses if now - t <= WINDOW_S)
            late = [ms for t, ms in self._late if now - t <= WINDOW_S]
        return {
            "missed_ticks_5s": misses,
            "late_inferences_5s": len(late),
            "late_inference_max_ms": round(max(late), 3) if late else None,
        }

    def snapshot(self) -> dict:
        def pct(hist: Histogram, q: float) -> float | None:
            value = hist.percentile(q)
            return None if value is None else round(value, 3)

        with self.lock:
            period_sum = self.period_sum
            jitter, compute_ms = self.jitter_ms.copy(), self.compute_ms.copy()
            infer_ms, obs_age_ms = self.infer_ms.copy(), self.obs_age_ms.copy()
        return {
            "ticks": self.ticks,
            "policy_ticks": self.policy_ticks,
            "missed_ticks": self.missed,
            "rate_hz": round(jitter.n / period_sum, 3) if period_sum > 0 else None,
            "jitter_p99_ms": pct(jitter, 99),
            "latency_p50_ms": pct(compute_ms, 50),
            "latency_p99_ms": pct(compute_ms, 99),
            "inference_p50_ms": pct(infer_ms, 50),
            "inference_p99_ms": pct(infer_ms, 99),
            "obs_age_p99_ms": pct(obs_age_ms, 99),
        }


def loop_facts(loop: ControlLoop | None) -> dict:
    """Swaps, rollbacks, where inference runs and how far ahead."""
    ahead = loop.ahead if loop else None
    policy = loop.policy if loop else None
    return {
        "swaps": loop.swaps if loop else 0,
        "rollbacks": loop.rollbacks if loop else 0,
        "last_rollback_reason": loop.last_rollback if loop else "",
        "inference": loop.inference if loop else "",
        "inference_lead_ticks": ahead.lead() if ahead else 0,
        "inference_stalls": ahead.stalls if ahead else 0,
        "late_chunks": ahead.late_chunks if ahead else 0,
        "execution_provider": getattr(policy, "provider", ""),
    }


def level(s: dict, period: float | None) -> tuple[bytes, str]:
    """Diagnostic level and message: ERROR when the loop is stalled or dead, another node
    commands the arm, or an active node cannot run a policy; STALE on stale inputs; WARN when
    not commanding, or running late; OK when running on time."""
    if s.get("loop_stalled_ms"):
        return DiagnosticStatus.ERROR, (
            f"control loop stalled: no tick for {s['loop_stalled_ms']:.0f} ms"
            + (f" ({s['loop_death']})" if s.get("loop_death") else "")
        )
    if s.get("conflict"):
        return DiagnosticStatus.ERROR, f"another commander, holding: {s['conflict']}"
    status = s["last_status"]
    if not s["enabled"]:
        problem = s["config_error"] or s.get("activate_error") or s["last_reject_reason"]
        msg = f"{s['state']}" + (f": {problem}" if problem else "")
        return DiagnosticStatus.WARN, msg
    if status in RUNNING:
        problems = [_lateness(s, period)]
        if s.get("stats_error"):
            problems.append((DiagnosticStatus.WARN, f"stats file: {s['stats_error']}"))
        problems = [p for p in problems if p]
        if problems:
            worst = max(p[0] for p in problems)
            return worst, "running; " + "; ".join(p[1] for p in problems)
        return DiagnosticStatus.OK, f"running {s['active_policy']}"
    if status.startswith(STALE_PREFIXES):
        return DiagnosticStatus.STALE, f"holding: {status}"
    if status == "waiting_for_discovery":
        return DiagnosticStatus.WARN, "activated: listening for other commanders first"
    reason = s.get("last_hold_detail") or status
    return DiagnosticStatus.ERROR, f"holding: {reason}"


def _lateness(s: dict, period: float | None) -> tuple[bytes, str] | None:
    missed, late = s.get("missed_ticks_5s") or 0, s.get("late_inferences_5s") or 0
    if not (missed or late) or not period:
        return None
    msg = (
        f"running late: {missed} missed tick(s) and {late} inference(s) over the "
        f"{period * 1e3:.1f} ms period in {WINDOW_S:g} s"
    )
    if s.get("late_inference_max_ms"):
        msg += f" (slowest {s['late_inference_max_ms']:.1f} ms)"
    bad = missed > MISS_ERROR_FRACTION * WINDOW_S / period
    return (DiagnosticStatus.ERROR if bad else DiagnosticStatus.WARN), msg
