"""Pure pieces of the reliability work, without DDS: the supervised ticker, logging that
cannot raise, stream clocks, timing checks, parameter files, the disk guard, staging."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from lps_robot.data.diskguard import DiskGuard
from lps_robot.data.timing import RESYNC, StreamClock, timing_faults, too_soon
from lps_robot.ros.logs import LogLimiter
from lps_robot.runtime.joints import JointStateMerger
from lps_robot.runtime.params import ParameterError, check_params_file
from lps_robot.runtime.ticker import Ticker


def _wait(cond, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return False


def test_a_failing_tick_is_reported_and_the_loop_goes_on():
    errors, ticks = [], []

    def tick(start: float) -> None:
        ticks.append(start)
        if len(ticks) % 2:
            raise RuntimeError("boom")

    t = Ticker(tick, 0.01, errors.append)
    t.start()
    try:
        assert _wait(lambda: len(ticks) >= 20)
        assert len(errors) >= 9 and all(isinstance(e, RuntimeError) for e in errors)
        assert t.alive and t.stalled() == 0.0
    finally:
        t.stop()


def test_a_dead_loop_is_restarted_and_a_hung_one_shows_as_stalled():
    ticks, hang = [], threading.Event()

    def tick(start: float) -> None:
        ticks.append(start)
        if len(ticks) == 3:
            raise SystemExit("the thread dies")  # not an Exception: ends the thread
        if hang.is_set():
            time.sleep(0.5)

    t = Ticker(tick, 0.01, lambda e: None)
    t.start()
    try:
        assert _wait(lambda: not t.alive)
        assert "SystemExit" in t.last_death
        assert t.supervise() and t.restarts == 1
        assert _wait(lambda: len(ticks) >= 10) and t.alive
        hang.set()
        hung_at = time.monotonic()
        assert _wait(lambda: t.stalled() > 0, 1.0)
        # overdue is reported once the next tick is a full period late: within two periods
        assert time.monotonic() - hung_at < 0.01 * 2 + 0.05
    finally:
        hang.clear()
        t.stop()
    assert not t.supervise()  # a stopped loop is not restarted


def test_a_watchdog_at_the_worst_moment_never_restarts_a_loop_that_is_starting(monkeypatch):
    """The watchdog may look at the ticker between a thread being made and being started (seen
    in CI: a restart counted at start-up and activation refused). It must see no dead loop."""
    t = Ticker(lambda start: None, 0.01, lambda e: None)
    real_start = threading.Thread.start
    looks = []

    def start_and_look(thread: threading.Thread) -> None:
        looks.append(t.supervise())  # the watchdog, just before the thread runs
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_and_look)
    t.start()
    monkeypatch.setattr(threading.Thread, "start", real_start)
    try:
        assert looks == [False] and t.restarts == 0 and t.alive
    finally:
        t.stop()


def test_activation_waits_for_a_tick_rather_than_judging_a_loop_not_yet_run():
    gate = threading.Event()
    t = Ticker(lambda start: gate.wait(), 0.01, lambda e: None)  # hung until the gate opens
    t.start()
    try:
        assert _wait(lambda: t.stalled() > 0, 1.0)
        assert not t.wait_beat(0.1)  # hung: no tick starts
        threading.Timer(0.2, gate.set).start()  # it comes back within the wait
        assert t.wait_beat(2.0)
    finally:
        gate.set()
        t.stop()
    assert not t.wait_beat(0.1)  # stopped


def test_the_log_limiter_takes_any_severity_on_one_key():
    """rclpy refuses a call site whose severity changes; the limiter must not raise."""
    from rclpy.logging import get_logger

    log = LogLimiter(get_logger("lps_test_logs"))
    for level in ("warning", "error", "info", "warning", "bogus"):
        log(level, "same-key", f"a {level} line", 0.0)
    log("error", "other", "x", 0.0)
    log("warning", "other", "y", 0.0)


def test_joint_ages_are_never_negative_and_skew_is_named():
    m = JointStateMerger(["a"], skew_tolerance_s=1.0)
    m.update(["a"], [0.0], [], 0.0, 10.05, 1000.0)  # arrives while the 10.0 tick runs
    pos, _, t, fault = m.snapshot(10.0, 0.08)
    assert fault is None and t <= 10.0
    # a sender clock 0.4 s behind: its messages arrive fresh, their stamps are old
    for k in range(5):
        m.update(["a"], [0.0], [], 1000.0 + k * 0.01 - 0.4, 11.0 + k * 0.01, 1000.0 + k * 0.01)
    assert m.snapshot(11.04, 0.08)[3] == "clock_skew:a"


def test_conflicting_joint_sources_are_told_from_a_second_driver():
    m = JointStateMerger(["arm", "grip"])
    for k in range(10):  # two drivers, disjoint joints: fine
        m.update(["arm"], [0.1], [], 0, 1 + k * 0.01, 0, source=b"A")
        m.update(["grip"], [0.0], [], 0, 1 + k * 0.01, 0, source=b"B")
    assert m.snapshot(1.1, 0.2)[3] is None
    m.update(["arm"], [0.2], [], 0, 1.2, 0, source=b"C")  # one restarted driver: fine
    assert m.snapshot(1.2, 0.2)[3] is None
    m.update(["arm"], [0.1], [], 0, 1.21, 0, source=b"A")  # two alternate: conflict
    assert m.snapshot(1.21, 0.2)[3] == "conflicting_sources:arm"
    for k in range(60):  # the other one is gone: resolved after the window
        m.update(["arm"], [0.1], [], 0, 1.22 + k * 0.01, 0, source=b"A")
        m.update(["grip"], [0.0], [], 0, 1.22 + k * 0.01, 0, source=b"B")
    assert m.snapshot(1.81, 0.2)[3] is None


def test_stream_clocks_flag_zero_backward_late_and_skewed_stamps():
    c = StreamClock(max_age_s=0.1, skew_tolerance_s=0.5)
    assert c.take(0.0, 100.0) == 100.0 and c.faults["zero_stamp"] == 1
    assert c.take(99.99, 100.0) == 99.99
    assert c.take(99.98, 100.01) is None and c.faults["out_of_order"] == 1  # out of order
    assert c.take(97.0, 100.02) is None  # 3 s old: not recorded as fresh
    assert c.take(100.02, 100.03) == 100.02
    assert c.take(97.05, 100.04) is None and c.faults["late"] + c.faults["out_of_order"] >= 2
    for k in range(RESYNC):  # a clock that jumped back for good: a new timeline
        c.take(50.0 + k * 0.01, 100.05 + k * 0.01)
    assert c.faults["clock_jump"] == 1
    skewed = StreamClock(max_age_s=0.1)
    assert skewed.take(500.0, 100.0) == 100.0 and skewed.faults["clock_skew"] == 1
    assert any("clock skew" in n for n in skewed.notes("front"))


def test_timing_faults_catch_what_no_recording_has():
    ok = 100.0 + np.arange(20) / 20.0
    assert timing_faults(ok, 20.0) == []
    bad = ok.copy()
    bad[5:10] = bad[4] + np.arange(1, 6) * 1e-6  # "1e6 Hz"
    assert any("closer than 12.5 ms, 0.25 of the 50 ms" in f for f in timing_faults(bad, 20.0))
    back = ok.copy()
    back[7] = back[3]
    assert any("not strictly increasing" in f for f in timing_faults(back, 20.0))


def test_the_recorders_step_rule_keeps_every_episode_valid():
    """Two joint-state publishers (an arm and a gripper driver) stamp a merged state by the
    newer of the two: ticks can see stamps a phase apart (11 ms in a UR5e demo's recording,
    which its validation then refused). The recorder skips a step `too_soon` after the last;
    whatever the stamps, what it keeps passes the episode's timing check."""
    rng = np.random.default_rng(0)
    rate = 20.0
    arm = np.arange(200) / rate
    merged = np.maximum(arm, arm - 0.0389 + rng.choice([0.0, 1 / rate], 200))  # phase jitter
    stamps = np.sort(merged + rng.normal(0, 0.01, 200))
    assert timing_faults(stamps, rate)  # taken as they come, some steps are refused
    kept = [stamps[0]]
    for s in stamps[1:]:
        if not too_soon(s - kept[-1], rate):
            kept.append(s)
    assert timing_faults(np.array(kept), rate) == []
    assert len(kept) > 0.8 * len(stamps)
    assert too_soon(0.0111, rate) and too_soon(0.0, rate) and not too_soon(0.05, rate)


def test_parameter_files_are_checked_for_this_node(tmp_path):
    known = ("policy_path", "max_obs_age_s")
    good = tmp_path / "good.yaml"
    good.write_text(
        "/**:\n  ros__parameters:\n    max_obs_age_s: 0.1\n"
        "other_node:\n  ros__parameters:\n    x: 1\n"
    )
    check_params_file(str(good), "/lps_policy", known)
    check_params_file(str(good), "/arm/lps_policy", known)
    typo = tmp_path / "typo.yaml"
    typo.write_text("lps_policy:\n  ros__parameters:\n    max_ob_age_s: 0.1\n")
    with pytest.raises(ParameterError, match="unknown parameter 'max_ob_age_s'.*max_obs_age_s"):
        check_params_file(str(typo), "/lps_policy", known)
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("lps_polcy:\n  ros__parameters:\n    policy_path: x.onnx\n")
    with pytest.raises(ParameterError, match="no section for this node"):
        check_params_file(str(elsewhere), "/lps_policy", known)
    broken = tmp_path / "broken.yaml"
    broken.write_text("lps_policy:\n  ros__parameters:\n    a: [1, 2\n")
    with pytest.raises(ParameterError, match="not valid YAML at line"):
        check_params_file(str(broken), "/lps_policy", known)
    namespaced = tmp_path / "ns.yaml"
    namespaced.write_text("/arm/lps_policy:\n  ros__parameters:\n    policy_path: x\n")
    check_params_file(str(namespaced), "/arm/lps_policy", known)
    with pytest.raises(ParameterError, match="no section"):
        check_params_file(str(namespaced), "/lps_policy", known)


def test_the_disk_guard_keeps_room_to_finish(tmp_path):
    g = DiskGuard(tmp_path, step_bytes=1000, flush_every=30, min_free_mb=0)
    assert g.arm() == "" and g.path.stat().st_size == g.ballast_bytes
    assert g.low() == ""
    g.release()
    assert not g.path.exists()
    huge = DiskGuard(tmp_path, step_bytes=2**50, flush_every=30, min_free_mb=0)
    assert huge.arm().startswith("disk full:") and not huge.path.exists()


def test_the_stager_answers_repeatedly_and_survives_a_timeout(tmp_path):
    from lps_robot.runtime.manifest import PolicyRejected
    from lps_robot.runtime.stage import Stager
    from tests.bad_models import make_model
    from tests.conftest import small_spec

    spec = small_spec()
    make_model(spec, tmp_path / "a.onnx")
    make_model(spec, tmp_path / "big.onnx", pad_bytes=64 * 2**20)
    stager = Stager()
    stager.start()
    try:
        big = stager.stage(tmp_path / "big.onnx", 2**30, 60)
        weights = big.path.parent / "weights.bin"  # large tensors as external data
        assert weights.stat().st_size >= 64 * 2**20 and big.path.stat().st_size < 2**20
        big.discard()
        first = stager.stage(tmp_path / "a.onnx", 2**30, 30)
        first.discard()
        with pytest.raises(PolicyRejected, match="did not finish within"):
            stager.stage(tmp_path / "big.onnx", 2**30, 1e-3)
        again = stager.stage(tmp_path / "a.onnx", 2**30, 30)  # a fresh helper answers
        assert again.file_hash == first.file_hash
        again.discard()
    finally:
        stager.close()


def test_the_ticker_runs_its_thread_at_the_priority_asked_or_says_why_not():
    import os
    import threading
    import time

    from lps_robot.runtime.ticker import Ticker

    seen = {}

    def tick(start: float) -> None:
        seen["policy"] = os.sched_getscheduler(0)

    ticker = Ticker(tick, 0.01, lambda e: None, priority=10)
    ticker.start()
    try:
        end = time.monotonic() + 5
        while "policy" not in seen and time.monotonic() < end:
            time.sleep(0.01)
    finally:
        ticker.stop()
    if ticker.scheduling == "SCHED_FIFO 10":
        assert seen["policy"] == os.SCHED_FIFO
    else:  # no rtprio rights here: normal scheduling, with the reason
        assert ticker.scheduling.startswith("normal (") and seen["policy"] == os.SCHED_OTHER
    assert threading.current_thread() is threading.main_thread()
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # only the loop thread changed


@pytest.mark.parametrize("shut_down", [True, False])
def test_a_sigterm_between_two_waits_is_a_clean_stop(monkeypatch, shut_down):
    """rclpy's SIGTERM handler shuts rcl down; if that lands between two waits the executor
    fails to build its wait set instead of raising ExternalShutdownException (seen: a
    recorder exited 1 on SIGTERM). After a shutdown that is a clean stop; before, an error."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from lps_robot.ros.spin import spin_node

    def spin_once(self, timeout_sec=None):
        if shut_down:
            rclpy.shutdown()
        raise RuntimeError("failed to initialize wait set: the given context is not valid")

    monkeypatch.setattr(SingleThreadedExecutor, "spin_once", spin_once)
    factory = lambda: Node("sigterm_probe")  # noqa: E731
    if shut_down:
        assert spin_node(factory, ["probe"]) == 0
    else:
        with pytest.raises(RuntimeError, match="wait set"):
            spin_node(factory, ["probe"])
    assert not rclpy.ok()  # spin_node shut rcl down either way
