"""Recording and evaluation in worker processes: the same data, and below the real-time loop."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from lps_robot.data.reader import list_episodes, load_episode
from lps_robot.data.writer import DatasetWriter
from lps_robot.sim.env import sim_spec
from lps_robot.sim.generate import generate
from lps_robot.sim.workers import worker_pool


def test_episodes_recorded_by_two_workers_equal_those_recorded_by_one(tmp_path):
    kwargs = {"seed": 3, "mistake_rate": 0.5, "progress": False, "max_steps": 40}
    one = generate(tmp_path / "one", 5, workers=1, **kwargs)
    two = generate(tmp_path / "two", 5, workers=2, **kwargs)
    assert one["success_rate"] == two["success_rate"]
    a, b = list_episodes(tmp_path / "one"), list_episodes(tmp_path / "two")
    assert [p.name for p in a] == [p.name for p in b] and len(a) == 5
    for pa, pb in zip(a, b, strict=True):
        ea, eb = load_episode(pa), load_episode(pb)
        for key in ("actions", "obs/joint_pos", "obs/front"):
            np.testing.assert_array_equal(ea[key], eb[key], err_msg=f"{pa.name} {key}")
    # a second call continues the numbering
    generate(tmp_path / "two", 2, workers=2, **kwargs)
    assert len(list_episodes(tmp_path / "two")) == 7


def test_an_episode_index_already_taken_is_refused(tmp_path):
    generate(tmp_path, 1, seed=0, progress=False, max_steps=5)
    writer = DatasetWriter(tmp_path, sim_spec())
    with pytest.raises(FileExistsError, match="episode 0 is already recorded"):
        writer.begin_episode(0)
    with pytest.raises(ValueError, match="workers: expected >= 1"):
        generate(tmp_path, 1, workers=0, progress=False)


def test_workers_run_below_the_callers_priority():
    with worker_pool(1, niceness=5) as pool:
        assert pool.submit(os.nice, 0).result() == os.nice(0) + 5
    with pytest.raises(ValueError, match="niceness"):
        worker_pool(1, niceness=40)


def _touch_then_sleep(path: str, seconds: float) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)


def test_an_error_beside_running_workers_stops_them_at_once(tmp_path):
    """A failure in the caller (the demo's ROS loop) is raised without waiting for the
    workers' running tasks (the demo's stepped episodes, minutes)."""
    started = tmp_path / "started"
    with pytest.raises(RuntimeError, match="the ROS loop failed"), worker_pool(1) as pool:
        pool.submit(_touch_then_sleep, str(started), 300.0)
        deadline = time.monotonic() + 120
        while not (started.exists() and started.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.read_text(), "the worker never started its task"
        t0 = time.monotonic()
        raise RuntimeError("the ROS loop failed")
    assert time.monotonic() - t0 < 15
    worker = int(started.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)  # the worker is gone, its task with it
