"""`procs.NodeGroup`: whatever ends the block, every process it started is stopped, the
newest first, and a hung one is killed after its stacks are asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lps_robot.ros import procs


def _sleeper(which, params, domain, log, extra=()):
    """Stands in for a node process (a real process, not a ROS node: this is about stopping)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_an_exception_in_the_block_stops_every_node_newest_first(monkeypatch, tmp_path):
    monkeypatch.setattr(procs, "start_node", _sleeper)
    stopped = []
    real_stop = procs.stop
    monkeypatch.setattr(procs, "stop", lambda p, **kw: (stopped.append(p), real_stop(p, **kw)))
    with pytest.raises(RuntimeError, match="boom"), procs.NodeGroup(1, tmp_path) as group:
        first = group.start("sim", {}, "sim.log")
        second = group.start("policy", {}, "policy.log")
        raise RuntimeError("boom")
    assert stopped == [second, first]
    assert first.poll() is not None and second.poll() is not None


def test_a_process_deaf_to_sigterm_is_asked_for_its_stacks_then_killed(tmp_path):
    mark = tmp_path / "usr1"
    deaf = (
        "import pathlib, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"signal.signal(signal.SIGUSR1, lambda *a: pathlib.Path({str(mark)!r}).touch())\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(0.05)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", deaf], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    procs.stop(proc, timeout=0.5)
    assert mark.exists()  # SIGUSR1 came (a node dumps its stacks there)
    assert proc.returncode == -9  # and then SIGKILL
