"""The controller's safety parts without DDS: parameters, the safety filter (property-based),
safe loading of bad files and bad models, rollback, and joint-state merging."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lps_robot.runtime.controller import ControlLoop, Sensors
from lps_robot.runtime.joints import JointStateMerger
from lps_robot.runtime.loader import WorkerLoader, read_model_file
from lps_robot.runtime.manifest import PolicyRejected
from lps_robot.runtime.params import Param
from lps_robot.runtime.policy import OnnxPolicy
from lps_robot.runtime.safety import SafetyError, SafetyFilter
from lps_robot.spec import RobotSpec
from tests.bad_models import KINDS, make_model
from tests.conftest import small_spec

# --- parameters ---------------------------------------------------------------------------------


def test_node_parameters_refuse_what_fault_injection_found():
    from lps_robot.ros.policy_params import PARAMETERS

    table = {p.name: p for p in PARAMETERS}
    bad = {
        "control_rate_hz": -50.0,
        "execution": "open-loop",
        "max_obs_age_s": -1.0,
        "watch_period_s": 0.0,
        "command_type": "twist",
        "warmup_latency_fraction": 1.5,
        "threads": 0,
        "autostart": "yes",
    }
    for name, value in bad.items():
        reason = table[name].check(value)
        assert reason and reason.startswith(name), (name, reason)
    assert table["control_rate_hz"].check(0.0) is None  # 0: the spec's rate
    assert table["control_rate_hz"].check(50) is None  # an int for a float is fine
    assert table["control_rate_hz"].check(float("nan")) is not None
    assert (
        table["start_enabled" if "start_enabled" in table else "autostart"].check("activate")
        is None
    )
    assert all(p.check(p.default) is None for p in PARAMETERS)


def test_check_names_the_parameter():
    rate = Param("rate", 1.0, "rate", low=0.0, low_open=True)
    mode = Param("mode", "a", "m", choices=("a",))
    assert rate.check(2) is None and mode.check("a") is None  # an int for a float is fine
    assert rate.check(0.0) == "rate: expected > 0, got 0.0"
    assert mode.check(3) == "mode: expected a str, got int 3"
    assert rate.check(True).startswith("rate: expected a float")


# --- safety filter ------------------------------------------------------------------------------


def test_safety_filter_refuses_to_be_inverted():
    robot = small_spec().robot
    for rate in (-50.0, 0.0, float("nan"), float("inf")):
        with pytest.raises(SafetyError, match="control rate"):
            SafetyFilter(robot, rate)
    with pytest.raises(SafetyError, match="step_scale"):
        SafetyFilter(robot, 10.0, step_scale=-1.0)


@st.composite
def robots(draw) -> RobotSpec:
    n = draw(st.integers(1, 6))
    finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
    lo = np.array([draw(finite) for _ in range(n)])
    width = np.array([draw(st.floats(1e-3, 10)) for _ in range(n)])
    vel = tuple(draw(st.floats(1e-3, 100)) for _ in range(n))
    rate = draw(st.floats(1.0, 2000.0))
    names = tuple(f"j{i}" for i in range(n))
    return RobotSpec("r", names, tuple(lo), tuple(lo + width), vel, rate)


any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=300, deadline=None)
@given(robots(), st.data())
def test_safety_filter_commands_are_always_safe(robot, data):
    """Whatever the policy emits (finite or not), whatever the measured position and previous
    command: every command is finite, inside the limits, within the arm bound of the measured
    position, and within one step of the last unless it re-anchors at the measured position
    (an arm far from the last command: a tracking fault)."""
    n = robot.num_joints
    lo, hi = np.asarray(robot.position_lower), np.asarray(robot.position_upper)
    f = SafetyFilter(robot, robot.control_rate_hz)
    step = np.asarray(robot.velocity_limits) / robot.control_rate_hz
    previous = None
    for _ in range(data.draw(st.integers(1, 8))):
        shape = data.draw(st.sampled_from([n, n + 1]))
        target = np.array(data.draw(st.lists(any_float, min_size=shape, max_size=shape)))
        position = np.array(data.draw(st.lists(any_float, min_size=n, max_size=n)))
        if data.draw(st.booleans()):
            f.reset()
            previous = None
        cmd, status = f(target, position)
        if cmd is None:
            assert previous is None and not np.isfinite(position).all()
            continue
        assert np.isfinite(cmd).all()
        assert (cmd >= lo).all() and (cmd <= hi).all()
        measured = np.isfinite(position).all()
        if measured:
            gap = np.abs(cmd - np.clip(position, lo, hi))
            assert (gap <= f.arm_bound * (1 + 1e-9) + 1e-9).all()
        anchored = measured and np.array_equal(cmd, np.clip(position, lo, hi))
        if status.startswith(("tracking_error", "not_following")):
            assert anchored
        elif previous is not None and not anchored:
            assert (np.abs(cmd - previous) <= step * (1 + 1e-9) + 1e-12).all()
        previous = cmd


# --- loading ------------------------------------------------------------------------------------


def test_only_regular_files_under_the_cap_are_read(tmp_path):
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    with pytest.raises(PolicyRejected, match="a FIFO"):
        read_model_file(fifo)
    assert time.monotonic() - t0 < 1.0  # refused, never blocked on the open
    with pytest.raises(PolicyRejected, match="character device"):
        read_model_file("/dev/zero")
    with pytest.raises(PolicyRejected, match="a directory"):
        read_model_file(tmp_path)
    big = tmp_path / "big.onnx"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(PolicyRejected, match="exceeds the 1000-byte cap"):
        read_model_file(big, max_bytes=1000)
    assert read_model_file(big, max_bytes=2000) == b"x" * 2000


def test_worker_loader_times_out_and_turns_exceptions_into_rejections():
    release = threading.Event()

    def build(path: str) -> str:
        if path == "hang":
            release.wait(10)
        if path == "boom":
            raise TypeError("unexpected")
        return path.upper()

    loader = WorkerLoader(build, timeout_s=0.3)
    assert loader.load("ok") == "OK"
    with pytest.raises(PolicyRejected, match="TypeError while loading: unexpected"):
        loader.load("boom")
    t0 = time.monotonic()
    with pytest.raises(PolicyRejected, match="did not finish within 0.3 s"):
        loader.load("hang")
    assert time.monotonic() - t0 < 1.0
    with pytest.raises(PolicyRejected, match="load of hang has not finished"):
        loader.load("ok")  # the stuck worker is never joined, and named
    release.set()
    done = threading.Event()
    box = {}
    for _ in range(50):
        if loader.busy is None:
            break
        time.sleep(0.02)
    loader.start("ok", lambda result, why: (box.update(result=result, why=why), done.set()))
    assert done.wait(2) and box == {"result": "OK", "why": ""}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bad_models_are_refused_with_their_reason(tmp_path, kind):
    spec = small_spec()
    path = make_model(spec, tmp_path / f"{kind}.onnx", kind)
    with pytest.raises(PolicyRejected, match=re.escape(KINDS[kind])):
        OnnxPolicy(path, spec, max_warmup_p99_ms=10.0)


def test_warmup_runs_on_the_real_observation(tmp_path):
    spec = small_spec()
    path = make_model(spec, tmp_path / "raises.onnx", "raises_on_real_input")
    real = {"front": np.zeros((16, 16, 3), np.uint8), "joint_pos": np.array([0.3, 0.0, 0.1])}
    with pytest.raises(PolicyRejected, match=r"warm-up input 0 \(real\)"):
        OnnxPolicy(path, spec, warmup_obs=real)
    good = OnnxPolicy(make_model(spec, tmp_path / "good.onnx"), spec, warmup_obs=real)
    np.testing.assert_allclose(good(real), np.tile([0.0, 0.0, 0.25], (3, 1)))


# --- rollback -----------------------------------------------------------------------------------


class FakePolicy:
    """Stands in for an OnnxPolicy in the loop (same attributes the loop reads)."""

    def __init__(self, spec, name: str, behaviour: str = "ok", value: float = 0.1) -> None:
        self.spec, self.path, self.behaviour, self.value = spec, Path(name), behaviour, value

    def __call__(self, obs):
        h, a = self.spec.policy.chunk_length, self.spec.action.dim
        if self.behaviour == "raise":
            raise RuntimeError("kaboom")
        if self.behaviour == "nan":
            return np.full((h, a), np.nan)
        if self.behaviour == "slow":
            time.sleep(0.03)
        return np.full((h, a), self.value)


def _run(loop, ticks, t0=0.0):
    spec = loop.robot
    images = {"front": (np.zeros((16, 16, 3), np.uint8), 1e9)}
    out = []
    for i in range(ticks):
        now = t0 + i * 0.1
        s = Sensors(np.zeros(3), None, now, images | {"front": (images["front"][0], now)})
        out.append(loop.tick(s, now))
    del spec
    return out


@pytest.mark.parametrize("behaviour", ["raise", "nan", "slow"])
def test_a_failing_new_policy_is_rolled_back(behaviour):
    spec = small_spec()
    loop = ControlLoop(spec, max_obs_age_s=1.0, rate_hz=50.0, probation_max_misses=1)
    loop.offer(FakePolicy(spec, "old.onnx"))
    _run(loop, 5)
    loop.offer(FakePolicy(spec, "new.onnx", behaviour, 0.2))
    results = _run(loop, 12, 1.0)
    assert loop.rollbacks == 1 and loop.policy.path.name == "old.onnx"
    assert "rolled back to old.onnx" in loop.last_rollback
    assert "rolled_back" in [r.status for r in results]
    assert all(r.command is None or np.isfinite(r.command).all() for r in results)
    assert results[-1].status in ("ok", "clamped")


def test_failures_after_probation_hold_and_a_first_policy_rolls_back_to_none():
    spec = small_spec()
    loop = ControlLoop(spec, max_obs_age_s=1.0, probation_ticks=3)
    loop.offer(FakePolicy(spec, "first.onnx", "raise"))
    assert _run(loop, 1)[0].status == "rolled_back" and loop.policy is None
    assert _run(loop, 1)[0].status == "no_policy"
    loop.offer(FakePolicy(spec, "ok.onnx"))
    _run(loop, 4)  # passes its probation
    loop.policy.behaviour = "raise"
    statuses = [r.status for r in _run(loop, 6, 5.0)]  # queued actions run out first
    assert statuses[-3:] == ["policy_error"] * 3 and loop.rollbacks == 1
    assert "kaboom" in loop.last_policy_error


# --- joint states -------------------------------------------------------------------------------


def test_joint_states_merge_across_publishers():
    m = JointStateMerger(["a", "b", "gripper"])
    assert m.snapshot(0.0, 0.2)[3] == "missing_joint:a"
    assert m.update(["a", "b"], [0.1, 0.2], [], 0.0, 10.0, 1000.0) is None
    assert m.snapshot(10.0, 0.2)[3] == "missing_joint:gripper"
    assert m.update(["gripper"], [0.05], [0.0], 0.0, 10.05, 1000.05) is None
    pos, vel, t, fault = m.snapshot(10.1, 0.2)
    assert fault is None and np.allclose(pos, [0.1, 0.2, 0.05]) and np.allclose(vel, 0)
    assert t == 10.0
    # the gripper's publisher stops: the arm keeps publishing, yet the gripper goes stale
    m.update(["a", "b"], [0.1, 0.2], [], 0.0, 10.3, 1000.3)
    assert m.snapshot(10.3, 0.2)[3] == "stale_joint:gripper"


def test_malformed_joint_states_are_refused_whole():
    m = JointStateMerger(["a", "b"])
    assert "2 positions for 3 names" in m.update(["a", "b", "c"], [1, 2], [], 0, 1, 1)
    assert "1 velocities for 2 names" in m.update(["a", "b"], [1, 2], [0], 0, 1, 1)
    assert "duplicated joint name(s) ['a']" in m.update(["a", "a"], [1, 2], [], 0, 1, 1)
    assert m.snapshot(1.0, 0.2)[3] == "missing_joint:a"  # nothing was taken
    m.update(["a", "b"], [np.nan, 0.0], [], 0, 1, 1)
    assert m.snapshot(1.0, 0.2)[3] == "invalid_joint:a"


def test_header_stamps_give_freshness_when_clocks_agree():
    m = JointStateMerger(["a"], skew_tolerance_s=1.0)
    # stamped 0.3 s before receipt: 0.3 s old on arrival, so held at 0.2, and named for what
    # it is while messages keep arriving (a clock 0.3 s behind, or a delayed driver)
    assert m.update(["a"], [0.0], [], 999.7, 50.0, 1000.0) is None
    assert m.snapshot(50.0, 0.2)[3] == "clock_skew:a"
    assert m.snapshot(50.3, 0.2)[3] == "stale_joint:a"  # nothing arrived since: stale
    # a clock 100 s off: receipt time is used, and the skew is reported
    note = m.update(["a"], [0.0], [], 900.0, 51.0, 1000.0)
    assert note == "clock_skew:100.000" and m.snapshot(51.0, 0.2)[3] is None
