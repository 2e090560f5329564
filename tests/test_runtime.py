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
    for _ in range(30):  # pushing forever never leaves the limits
        cmd, _ = safety(np.array([5.0, -5.0, 5.0]), pos)
    np.testing.assert_allclose(cmd, [1.0, -2.0, 0.5])


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
