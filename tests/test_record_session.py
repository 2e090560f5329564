"""`lps record --sim --teleop keyboard` driven through a pseudo-terminal, as a person would:
the keyboard moves the simulated arm (a virtual gamepad into the teleop node) while the
session keys start, label, discard and re-record episodes."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
from std_msgs.msg import Float64MultiArray

from lps_robot.data.reader import list_episodes, load_episode, validate
from lps_robot.ros.procs import Probe, free_domain, ros_env

TASK = "stack the red cube"


class Terminal:
    """A child process on a pseudo-terminal; its screen output is drained and kept."""

    def __init__(self, cmd: list[str], env: dict) -> None:
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(
            cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.output = bytearray()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            self.output += data

    def type(self, keys: str, every: float = 0.0) -> None:
        for k in keys:
            os.write(self.master, k.encode())
            time.sleep(every)


def _wait(cond, timeout: float, what: str, poke=None) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        if poke:
            poke()
        time.sleep(0.5)


def test_a_person_records_labels_discards_and_rerecords(tmp_path):
    out = tmp_path / "episodes"
    domain = free_domain()
    env = {**ros_env(domain), "COLUMNS": "120", "LINES": "40"}
    cmd = [sys.executable, "-m", "lps_robot.cli", "record", "--sim", "--teleop", "keyboard"]
    term = Terminal([*cmd, "-o", str(out), "--task", TASK], env)
    probe = Probe(domain)  # watches what the teleop node commands
    commands: list[list[float]] = []
    probe.node.create_subscription(
        Float64MultiArray, "/teleop/joint_command", lambda m: commands.append(list(m.data)), 10
    )
    partial = lambda: list(out.glob("*.partial"))  # noqa: E731
    done = lambda: sorted(p.name for p in out.glob("demo_*.h5"))  # noqa: E731
    try:
        # space until the nodes are up and the recorder accepts (inputs live)
        _wait(lambda: bool(partial()), 90, "the first episode", poke=lambda: term.type(" "))
        # hold w (auto-repeat at 30 Hz) until the teleop node's commands move the arm
        _wait(lambda: (probe.spin(0.1), bool(commands))[1], 30, "the probe to hear the teleop")
        rest = commands[-1]
        _wait(
            lambda: np.abs(np.array(commands[-1]) - rest).max() > 0.02,
            30,
            "the arm to move",
            poke=lambda: (term.type("w" * 15, every=1 / 30), probe.spin(0.01)),
        )
        term.type("y")
        _wait(lambda: done() == ["demo_00000.h5"] and not partial(), 20, "success saved")

        def episode(key: str, files: int, what: str) -> None:
            """Start an episode, record a second, end it with ``key``; ``files`` then on disk."""
            term.type(" ")
            _wait(lambda: bool(partial()), 20, f"the {what} episode to start")
            time.sleep(1.0)
            term.type(key)
            _wait(lambda: len(done()) == files and not partial(), 20, f"the {what} episode")

        episode("n", 2, "failure")
        episode("x", 2, "discarded")
        term.type("b")  # record the last one (the failure) again
        _wait(lambda: done() == ["demo_00000.h5"], 20, "the failure dropped")
        episode("y", 2, "re-recorded")
        term.type("\x1b")
        term.proc.wait(timeout=30)
    finally:
        probe.close()
        if term.proc.poll() is None:
            term.proc.terminate()
            term.proc.wait(timeout=30)
    screen = term.output.decode(errors="ignore")
    assert term.proc.returncode == 0, screen[-2000:]
    assert "lps record" in screen and TASK in screen
    refs = list_episodes(out)
    assert [load_episode(r)["attrs"]["success"] for r in refs] == [True, True]
    for p in sorted(out.glob("demo_*.h5")):
        with h5py.File(p) as f:
            (demo,) = f["data"].values()
            assert demo.attrs["task"] == TASK
    assert validate(out) == [] and not list(out.glob("*.partial"))
    actions = load_episode(refs[0])["actions"]
    assert np.abs(actions - actions[0]).max() > 0.02  # the keyboard moved the arm
    assert not list(Path(out).glob("*.partial"))


def test_the_camera_preview_says_why_it_is_off_and_tiles_the_cameras(monkeypatch):
    """No display here (and the headless OpenCV wheel has no GUI): the preview is off with the
    reason; the window's picture is the cameras side by side at one height."""
    from lps_robot.ros.preview import mosaic, preview_unavailable

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert preview_unavailable() == "no display"
    monkeypatch.setenv("DISPLAY", ":99")
    assert "GUI" in preview_unavailable()  # opencv-python-headless
    red = np.zeros((48, 64, 3), np.uint8)
    red[..., 0] = 255
    out = mosaic([red, np.zeros((120, 120, 3), np.uint8)], height=96)
    assert out.shape == (96, 128 + 96, 3)
    assert (out[:, :128, 2] == 255).all() and (out[:, :128, :2] == 0).all()  # BGR


def test_the_session_finds_the_recorders_spec_in_the_parameters_file(tmp_path):
    from lps_robot.ros.record_session import _recorded_spec
    from lps_robot.sim.robots import UR5E_2F85

    assert [c.name for c in _recorded_spec(None).cameras] == ["front"]
    params = tmp_path / "p.yaml"
    params.write_text(
        f"lps_recorder:\n  ros__parameters:\n    robot_spec: {UR5E_2F85.spec_path}\n"
    )
    assert [c.name for c in _recorded_spec(str(params)).cameras] == ["front", "wrist"]
