"""Inference off the tick (``inference="ahead"``), without ROS: every action still runs at the
tick it was planned for, no tick runs the policy, the worker's chunks pass the same checks,
and holds and swaps drop a chunk computed for what no longer holds."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from lps_robot.runtime.ahead import AheadInference
from lps_robot.runtime.controller import ControlLoop, Sensors
from tests.conftest import small_spec
from tests.test_controller_safety import FakePolicy

STEP = 0.01  # joint 0 of the fake robot moves this much per tick


class ClockPolicy(FakePolicy):
    """Plans joint 0 at ``STEP`` per tick from the observed position; records its threads."""

    def __init__(
        self, spec, name: str = "clock.onnx", delay_s: float = 0.0, slope: float = 1.0
    ) -> None:
        super().__init__(spec, name, value=0.0)
        self.delay_s, self.slope, self.threads, self.observed = delay_s, slope, [], []

    def __call__(self, obs):
        self.threads.append(threading.current_thread().name)
        self.observed.append(float(obs["joint_pos"][0]))
        time.sleep(self.delay_s)
        chunk = super().__call__(obs)
        chunk[:, 0] = obs["joint_pos"][0] + self.slope * STEP * np.arange(len(chunk))
        return chunk


def _sensors(tick: int, now: float, pos0: float | None = None) -> Sensors:
    pos = np.array([STEP * tick if pos0 is None else pos0, 0.0, 0.0])
    return Sensors(pos, None, now, {"front": (np.zeros((16, 16, 3), np.uint8), now)})


def _drive(loop: ControlLoop, ticks: int, period: float = 0.0, start: int = 0, pos0=None):
    out = []
    for t in range(start, start + ticks):
        now = time.monotonic()
        out.append(loop.tick(_sensors(t, now, pos0), now))
        time.sleep(period)
    return out


RUNNING = ("ok", "clamped")


@pytest.mark.parametrize("inference", ["tick", "ahead"])
def test_every_action_runs_at_the_tick_it_was_planned_for(inference):
    spec = small_spec(chunk_length=5)
    loop = ControlLoop(spec, max_obs_age_s=1.0, rate_hz=50.0, inference=inference)
    policy = ClockPolicy(spec)
    loop.offer(policy)
    results = _drive(loop, 40, period=0.004)
    loop.close()
    ran = [t for t, r in enumerate(results) if r.status in RUNNING]
    got = np.array([results[t].command[0] for t in ran])
    np.testing.assert_allclose(got, STEP * np.array(ran), atol=1e-9)
    if inference == "ahead":
        # the first tick holds while the first chunk is computed; no tick calls the policy
        assert results[0].status == "computing_chunk" and results[0].command[0] == 0.0
        assert {r.status for r in results} <= {*RUNNING, "computing_chunk", "late_chunk"}
        assert len(ran) >= 30 and set(policy.threads) == {"lps-inference_0"}
        assert sum(r.inferred for r in results) <= len(policy.threads) >= 8
    else:
        assert len(ran) == 40 and set(policy.threads) == {"MainThread"}
        assert len(policy.threads) == 8


def test_a_slow_policy_gets_a_longer_lead_and_no_tick_waits_for_it():
    spec = small_spec(chunk_length=5)
    loop = ControlLoop(spec, max_obs_age_s=1.0, rate_hz=50.0, probation_ticks=0,
                       inference="ahead")  # fmt: skip
    loop.offer(ClockPolicy(spec, delay_s=0.03))  # 1.5 periods
    tick_ms = []
    for t in range(40):
        now = time.monotonic()
        result = loop.tick(_sensors(t, now), now)
        tick_ms.append((time.monotonic() - now) * 1e3)
        if result.status in RUNNING:
            assert result.command[0] == pytest.approx(STEP * t)
        time.sleep(0.02)
    loop.close()
    assert loop.ahead.lead() >= 2  # ceil(30 ms * 1.25 / 20 ms), more when the sleep overshoots
    assert max(tick_ms) < 15  # a 30 ms inference never ran on a tick
    assert loop.ahead.late_chunks < loop.ahead.launched / 2


def test_a_chunk_replaces_the_running_one_on_the_first_tick_it_is_ready():
    """A lead longer than the inference starts chunks early; each replaces what is left of the
    running chunk on the first tick it is ready (its actions still at their planned ticks), so
    the actions follow an observation one tick old, not ``lead`` ticks old."""
    spec = small_spec(chunk_length=5)
    loop = ControlLoop(spec, max_obs_age_s=1.0, rate_hz=50.0, inference="ahead")
    policy = ClockPolicy(spec)  # about instant
    policy.warmup_p99_ms = 70.0  # as after a slow warm-up: lead 4 ticks
    loop.offer(policy)
    results = _drive(loop, 16, period=0.02)
    assert loop.ahead.lead() == 4  # the 70 ms still among the last 20 inferences
    loop.close()
    ran = [t for t, r in enumerate(results) if r.status in RUNNING]
    assert len(ran) == 15 and loop.ahead.stalls == 0
    np.testing.assert_allclose([results[t].command[0] for t in ran], STEP * np.array(ran))
    # a chunk taken every tick (taken only when the queue ran out: about one in 2.5)
    assert sum(r.inferred for r in results) >= 13


def test_the_lead_follows_the_slowest_recent_inference():
    ahead = AheadInference(0.02, chunk_length=5)
    assert ahead.lead() == 1
    ahead._recent.extend([5.0, 17.0])
    assert ahead.lead() == 2  # 17 ms * 1.25 > one period
    ahead._recent.append(500.0)
    assert ahead.lead() == 4  # never more than h - 1: a chunk keeps one action to run
    ahead.close()


@pytest.mark.parametrize("behaviour", ["raise", "nan"])
def test_a_chunk_that_fails_on_the_worker_never_reaches_a_motor(behaviour):
    spec = small_spec(chunk_length=5)
    loop = ControlLoop(spec, max_obs_age_s=1.0, rate_hz=50.0, probation_ticks=0,
                       inference="ahead")  # fmt: skip
    policy = ClockPolicy(spec)
    loop.offer(policy)
    _drive(loop, 3, period=0.004)
    policy.behaviour = behaviour  # the chunk being computed ahead fails
    results = _drive(loop, 8, period=0.004, start=3)
    loop.close()
    bad = [r.status for r in results if r.status not in RUNNING]
    assert {"policy_error", "invalid_action"} & set(bad)
    assert set(bad) <= {"policy_error", "invalid_action", "computing_chunk", "late_chunk"}
    assert all(r.command is None or np.isfinite(r.command).all() for r in results)
    assert all(r.command is None or r.command[0] <= STEP * 11 for r in results)


def test_a_swap_or_a_hold_drops_the_chunk_computed_ahead():
    spec = small_spec(chunk_length=5)
    loop = ControlLoop(spec, max_obs_age_s=1.0, rate_hz=50.0, inference="ahead")
    old, new = ClockPolicy(spec, "old.onnx"), ClockPolicy(spec, "new.onnx", slope=-1.0)
    loop.offer(old)
    before = _drive(loop, 5, period=0.004, pos0=0.2)  # old computes the next chunk (uphill)
    assert loop.ahead.pending(old)
    loop.offer(new)
    results = _drive(loop, 6, period=0.004, start=5, pos0=0.2)
    assert results[0].status == "computing_chunk"  # old's chunk dropped, new's computing
    ran = [r.command[0] for r in results if r.status in RUNNING][:4]  # new's first chunk
    got = [before[-1].command[0], *ran]
    assert len(got) == 5 and all(b < a for a, b in zip(got, got[1:], strict=False))  # downhill
    # a hold (stale joint states) forgets the pending chunk; the next one is queried afresh
    _drive(loop, 3, period=0.004, start=10)
    stale = loop.tick(_sensors(13, 0.0), time.monotonic())
    assert stale.status == "stale_joint_states" and not loop.ahead.pending(new)
    calls = len(new.observed)
    resumed = _drive(loop, 3, period=0.004, pos0=0.5)
    loop.close()
    assert resumed[0].status == "computing_chunk"
    assert new.observed[calls] == 0.5  # computed afresh from the tick after the hold


def test_ahead_needs_open_loop_execution():
    with pytest.raises(ValueError, match="inference: 'ahead' needs execution 'open_loop'"):
        ControlLoop(small_spec(), execution="temporal_ensemble", inference="ahead")
    with pytest.raises(ValueError, match="inference: expected one of"):
        ControlLoop(small_spec(), inference="early")


def test_a_late_chunk_raises_the_lead_for_good():
    ahead = AheadInference(0.02, chunk_length=5)
    ahead.launch(lambda obs: time.sleep(0.05) or np.zeros((5, 3)), {}, np.zeros(3), 0, False)
    assert ahead.lead() == 1 and ahead.mark_late() and not ahead.mark_late()
    assert ahead.lead() == 2 and ahead.stalls == 2 and ahead.late_chunks == 1
    ahead.wait()
    ahead.take(3)  # 50 ms * 1.25 -> 4 ticks, h - 1 at most
    assert ahead.lead() == 4
    ahead.close()
