"""Chunk executor and safety filter: the last steps before a motor."""

from __future__ import annotations

import numpy as np
import pytest

from lps_robot.runtime.executor import ChunkExecutor
from lps_robot.runtime.safety import SafetyFilter
from tests.conftest import small_spec


def test_open_loop_runs_k_steps_then_requeries():
    ex = ChunkExecutor(chunk_length=4, execute_steps=2)
    chunk = np.arange(8, dtype=float).reshape(4, 2)
    assert ex.needs_query()
    ex.push(chunk)
    assert not ex.needs_query()
    np.testing.assert_array_equal(ex.next_action(), [0, 1])
    np.testing.assert_array_equal(ex.next_action(), [2, 3])
    assert ex.needs_query() and ex.next_action() is None


def test_temporal_ensemble_averages_overlapping_predictions():
    ex = ChunkExecutor(
        chunk_length=3, execute_steps=1, mode="temporal_ensemble", ensemble_decay=0.0
    )
    ex.push(np.array([[0.0], [10.0], [20.0]]))
    assert ex.next_action()[0] == 0.0
    ex.push(np.array([[100.0], [200.0], [300.0]]))  # predicted at tick 1
    assert ex.next_action()[0] == pytest.approx((10.0 + 100.0) / 2)
    ex.push(np.array([[1000.0], [0.0], [0.0]]))
    assert ex.next_action()[0] == pytest.approx((20.0 + 200.0 + 1000.0) / 3)


def test_executor_rejects_bad_settings():
    with pytest.raises(ValueError, match="execution"):
        ChunkExecutor(4, 2, mode="magic")
    with pytest.raises(ValueError, match="execute_steps"):
        ChunkExecutor(4, 5)


@pytest.fixture
def safety():
    # joints: limits [-1, 1], [-2, 2], [0, 0.5]; velocity 1, 1, 0.5 at 10 Hz -> 0.1, 0.1, 0.05
    return SafetyFilter(small_spec().robot)


def test_safety_bounds_step_and_limits(safety):
    pos = np.array([0.0, 0.0, 0.2])
    cmd, status = safety(np.array([5.0, -0.05, 0.2]), pos)
    np.testing.assert_allclose(cmd, [0.1, -0.05, 0.2])
    assert status == "clamped"
    for _ in range(30):  # pushing forever never leaves the limits (the arm follows)
        cmd, _ = safety(np.array([5.0, -5.0, 5.0]), cmd)
    np.testing.assert_allclose(cmd, [1.0, -2.0, 0.5])


def test_safety_bounds_commands_from_where_the_arm_is(safety):
    """A frozen arm: commands stop one step plus the tracking tolerance from it, and after
    follow_ticks held back the filter holds with its reason, re-anchored at the arm."""
    frozen = np.array([0.0, 0.0, 0.2])
    statuses, cmds = [], []
    for _ in range(safety.follow_ticks + 40):
        cmd, status = safety(np.array([1.0, 2.0, 0.5]), frozen)
        statuses.append(status)
        cmds.append(cmd)
    gaps = np.abs(np.asarray(cmds) - frozen)
    assert (gaps <= safety.arm_bound + 1e-12).all()
    assert gaps.max() > safety.arm_bound[0] - 1e-9  # it did walk up to the bound
    assert "not_following:j0" in statuses
    i = statuses.index("not_following:j0")
    np.testing.assert_array_equal(cmds[i], frozen)  # re-anchored at the arm
    # the arm jumps away from the last command (pushed, or a driver restarted elsewhere)
    safety.reset()
    safety(np.array([0.0, 0.0, 0.2]), frozen)
    cmd, status = safety(np.array([0.0, 0.0, 0.2]), frozen + [0.8, 0.0, 0.0])
    assert status == "tracking_error:j0"
    np.testing.assert_allclose(cmd, [0.8, 0.0, 0.2])
    # no new measurement: no step further away from the arm (no blind steps)
    safety.reset()
    pos = np.array([0.0, 0.0, 0.2])
    first, _ = safety(np.array([1.0, 0.0, 0.2]), pos)
    stale = np.array([False, True, True])
    for _ in range(5):
        cmd, _ = safety(np.array([1.0, 0.0, 0.2]), pos, fresh=stale)
        np.testing.assert_allclose(cmd, first)
    cmd, _ = safety(np.array([1.0, 0.0, 0.2]), pos, fresh=np.ones(3, bool))
    assert cmd[0] > first[0]
    # a hold never commands a position beyond the arm bound of a measured one
    held = safety.hold(np.array([-0.9, 0.0, 0.2]))
    np.testing.assert_allclose(held, [-0.9, 0.0, 0.2])


def test_safety_holds_on_nan_and_missing(safety):
    pos = np.array([0.3, 0.0, 0.1])
    first, _ = safety(np.array([0.35, 0.0, 0.1]), pos)
    for bad in (np.array([np.nan, 0, 0]), np.array([np.inf, 0, 0]), np.zeros(2), None):
        cmd, status = safety(bad, pos)
        np.testing.assert_array_equal(cmd, first)
        assert status in ("invalid_action", "no_action")


def test_safety_never_commands_without_a_reference(safety):
    cmd, status = safety(np.array([0.0, 0.0, 0.0]), np.array([np.nan, 0.0, 0.0]))
    assert cmd is None and status == "no_reference"
    cmd, _ = safety(None, np.array([9.0, 0.0, 0.1]))  # hold clamps a measured position
    np.testing.assert_allclose(cmd, [1.0, 0.0, 0.1])


class _FixedPolicy:
    """Stands in for OnnxPolicy: returns a fixed chunk (the control tick's only dependency)."""

    def __init__(self, spec, chunk):
        self.spec, self.chunk = spec, np.asarray(chunk, np.float64)

    def __call__(self, obs, latent=None):
        return self.chunk


def test_control_loop_adds_back_the_position_for_delta_policies():
    import dataclasses

    from lps_robot.runtime.controller import ControlLoop, Sensors

    spec = small_spec(chunk_length=2, with_image=False)
    delta = spec.replace(action=dataclasses.replace(spec.action, type="joint_delta"))
    loop = ControlLoop(spec, max_obs_age_s=1.0)
    loop.offer(_FixedPolicy(delta, [[0.05, 0.0, 0.01], [0.1, 0.0, 0.02]]))
    pos = np.array([0.2, -0.3, 0.1])
    first = loop.tick(Sensors(joint_pos=pos, joint_time=0.0), now=0.0)
    second = loop.tick(Sensors(joint_pos=pos + 0.05, joint_time=0.1), now=0.1)
    np.testing.assert_allclose(first.command, [0.25, -0.3, 0.11])
    np.testing.assert_allclose(second.command, [0.3, -0.3, 0.12])  # same chunk, same origin
    assert first.inferred and not second.inferred


def test_control_loop_holds_on_nan_and_stale_input():
    from lps_robot.runtime.controller import ControlLoop, Sensors

    spec = small_spec(chunk_length=1, with_image=False)
    loop = ControlLoop(spec, max_obs_age_s=0.2)
    loop.offer(_FixedPolicy(spec, [[0.1, 0.0, 0.05]]))  # within one tick's step bound
    pos = np.zeros(3)
    ok = loop.tick(Sensors(joint_pos=pos, joint_time=0.0), now=0.0)
    nan = loop.tick(Sensors(joint_pos=np.array([np.nan, 0, 0]), joint_time=0.1), now=0.1)
    stale = loop.tick(Sensors(joint_pos=pos, joint_time=0.0), now=0.5)
    assert ok.status == "ok" and nan.status == "invalid_joint_states"
    assert stale.status == "stale_joint_states"
    np.testing.assert_array_equal(nan.command, ok.command)
    np.testing.assert_array_equal(stale.command, ok.command)


def test_histogram_percentiles_match_numpy_within_one_bin():
    from lps_robot.runtime.histogram import Histogram

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.exponential(0.5, 5000), [7.3, 12.0]])  # heavy tail
    hist = Histogram(max_value=10.0, resolution=0.01)
    assert hist.percentile(99) is None and hist.mean() is None
    for v in values:
        hist.add(float(v))
    for q in (50, 90, 99, 99.9):
        exact = np.percentile(values, q, method="inverted_cdf")
        assert exact <= hist.percentile(q) <= exact + 0.01 + 1e-9, q
    assert hist.percentile(100) == 12.0  # the overflow bin reports the largest sample
    assert hist.mean() == pytest.approx(values.mean())
    snapshot = hist.copy()
    hist.add(1.0)
    assert snapshot.n == len(values) and hist.n == len(values) + 1
    with pytest.raises(ValueError, match="expected a sample >= 0"):
        hist.add(float("nan"))


def test_log_limiter_logs_once_per_key_and_period():
    from lps_robot.ros.logs import LogLimiter

    class Lines:  # records what a logger would print
        def __init__(self):
            self.lines = []

        def warning(self, message):
            self.lines.append(message)

    out = Lines()
    log = LogLimiter(out)
    for i in range(5):
        log("warning", "a", f"a{i}", 60.0)
    log("warning", "b", "b0", 60.0)
    log("warning", "c", "c0", 0.0)
    log("warning", "c", "c1", 0.0)
    assert out.lines == ["a0", "b0", "c0", "c1"]


def test_the_execution_provider_is_chosen_from_what_onnxruntime_has():
    from lps_robot.runtime.manifest import PolicyRejected
    from lps_robot.runtime.policy import providers_for

    cpu_only = ["CPUExecutionProvider"]
    assert providers_for("auto", cpu_only) == ("CPUExecutionProvider",)
    gpu = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers_for("auto", gpu)[0] == "CUDAExecutionProvider"
    assert providers_for("tensorrt", gpu)[0] == "TensorrtExecutionProvider"
    with pytest.raises(PolicyRejected, match="execution_provider 'cuda': this onnxruntime has"):
        providers_for("cuda", cpu_only)
    with pytest.raises(ValueError, match="execution_provider: expected one of"):
        providers_for("gpu", gpu)
