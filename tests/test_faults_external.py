"""The faults found from outside the suite (issue 18), each reproduced over real DDS.

Two controllers on one topic, a robot frozen by SIGSTOP, a joint-state flood at the
publisher's maximum rate, a stop during a slow load, a full disk under the recorder and the
controller's stats file, recordings with lying stamps, and the reasons the node gives for
skew, late models, broken links and parameter files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from lifecycle_msgs.srv import ChangeState
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import SetBool, Trigger

from lps_robot.data.reader import list_episodes, load_episode, validate
from lps_robot.ros.procs import free_domain
from lps_robot.runtime.manifest import read_manifest
from lps_robot.runtime.safety import SafetyFilter
from tests.bad_models import make_model, write_pair
from tests.conftest import small_spec
from tests.ros_helpers import (
    Probe,
    assert_commands_safe,
    assert_refused_in_one_line,
    start_node,
    stop,
)

pytestmark = pytest.mark.slow
RUNNING = ("ok", "clamped")
FLOOD_S = float(os.environ.get("LPS_FLOOD_S", "60"))  # per round; the issue asks 60 s x 3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("external")
    spec = small_spec(rate_hz=50.0)
    hashes = write_pair(spec, tmp)
    lo, hi = np.asarray(spec.robot.position_lower), np.asarray(spec.robot.position_upper)
    make_model(spec, tmp / "low.onnx", target=lo + 0.1 * (hi - lo))
    make_model(spec, tmp / "chase.onnx", "chase", target=0.5 * (hi - lo))
    make_model(spec, tmp / "late.onnx", "slow_beyond", lo + 0.75 * (hi - lo), threshold=0.35)
    hashes["low"] = read_manifest(tmp / "low.onnx")["content_hash"]
    return tmp, spec, hashes


def _start(tmp: Path, robot: dict | None = None, **policy) -> tuple:
    """The fake robot and the policy node in a fresh domain, with a probe."""
    domain = free_domain()
    spec = str(tmp / "robot.yaml")
    r = start_node("fake-robot", {"robot_spec": spec, **(robot or {})}, domain, tmp / "robot.log")
    params = {"robot_spec": spec, "autostart": "activate", **policy}
    node = start_node("policy", params, domain, tmp / "node.log")
    return r, node, Probe(domain), domain


def _running(probe: Probe, timeout: float = 60) -> None:
    probe.wait_for(lambda: probe.diag.get("last_status") in RUNNING, timeout, "running")


def test_two_controllers_on_one_topic_hold_and_name_each_other(models):
    tmp, spec, _ = models
    robot, node, probe, domain = _start(tmp, policy_path=str(tmp / "a.onnx"))
    second = None
    try:
        _running(probe)
        t_second = time.monotonic()
        params = {
            "robot_spec": str(tmp / "robot.yaml"),
            "autostart": "activate",
            "policy_path": str(tmp / "b.onnx"),
        }
        second = start_node("policy", params, domain, tmp / "second.log")
        probe.wait_for(
            lambda: any(lv == 2 and "/lps_policy" in m for _, lv, m in probe.diag_log),
            30,
            "an ERROR naming the other commander",
        )
        t_error = next(t for t, lv, m in probe.diag_log if lv == 2 and "another commander" in m)
        messages = [m for _, lv, m in probe.diag_log if lv == 2]
        assert any("/lps_policy" in m for m in messages), messages
        probe.spin(3.0)
        t_end = time.monotonic()
        during = [c for t, c in probe.commands if t_error + 0.2 < t < t_end]
        assert during == [], f"{len(during)} commands while two commanders were up"
        stop(second)
        second = None
        n = len(probe.commands)
        # a second stopped under load may leave without DDS hearing it go: the first then
        # holds until the lease on it runs out (Fast DDS: 20 s), then discovery_grace_s
        probe.wait_for(lambda: len(probe.commands) > n + 20, 45, "the first resumes")
        assert_commands_safe(spec, probe.commands)  # 0 commands beyond the bound
        print(f"two controllers: error {t_error - t_second:.2f} s after the second started")
    finally:
        probe.close()
        for proc in (second, node, robot):
            if proc is not None:
                stop(proc)


def test_a_frozen_robot_is_never_told_to_jump(models):
    """SIGSTOP the robot for 2 s while the arm moves: on resume, no command it receives is
    further from where it stopped than the arm bound (one step + the tracking tolerance)."""
    tmp, spec, _ = models
    log = tmp / "commands.jsonl"
    log.unlink(missing_ok=True)
    robot, node, probe, _ = _start(
        tmp, {"log_path": str(log)}, policy_path=str(tmp / "chase.onnx")
    )
    try:
        _running(probe)
        probe.spin(0.3)  # moving: j1 and j2 travel for over a second
        os.kill(robot.pid, signal.SIGSTOP)
        t_stop = time.time()
        probe.spin(2.0)
        os.kill(robot.pid, signal.SIGCONT)
        t_cont = time.time()
        probe.spin(1.0)
    finally:
        os.kill(robot.pid, signal.SIGCONT)
        probe.close()
        stop(node)
        stop(robot)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    before = [r["cmd"] for r in rows if r["t"] < t_stop]
    burst = [r["cmd"] for r in rows if t_cont <= r["t"] < t_cont + 0.05]  # queued in DDS
    assert before and burst
    frozen = np.asarray(before[-1])  # the ideal robot stood where its last command put it
    bound = SafetyFilter(spec.robot).arm_bound
    jump = np.abs(np.asarray(burst) - frozen).max(axis=0)
    print(f"frozen robot: {len(burst)} queued commands, at most {jump} away (bound {bound})")
    assert (jump <= bound + 1e-9).all(), (jump, bound)
    # and at every command, the robot (where the previous one put it) is within the bound
    steps = np.abs(np.diff(np.asarray([r["cmd"] for r in rows]), axis=0)).max(axis=0)
    assert (steps <= bound + 1e-9).all()


def test_a_joint_state_flood_never_kills_the_loop(models):
    """Joint states as fast as the robot can publish them, FLOOD_S seconds three times: the
    loop keeps ticking (the tick count grows in every diagnostics message) or diagnostics
    say ERROR; afterwards it runs and ~/enable works."""
    tmp, spec, _ = models
    robot, node, probe, _ = _start(tmp, policy_path=str(tmp / "a.onnx"))
    try:
        _running(probe)
        for _ in range(3):
            probe.diag_log.clear()
            seen: list[tuple[int, int]] = []  # (ticks, level) per diagnostics message
            probe.set_mode("flood")
            end = time.monotonic() + FLOOD_S
            while time.monotonic() < end:
                n = len(probe.diag_log)
                probe.spin(0.5)
                if len(probe.diag_log) > n:
                    seen.append((probe.diag.get("ticks", 0), probe.diag_level))
            probe.set_mode("normal")
            assert len(seen) >= FLOOD_S / 2, f"diagnostics went quiet: {len(seen)} messages"
            for (t0, _), (t1, level) in zip(seen, seen[1:], strict=False):
                assert t1 > t0 or level == 2, seen
            assert node.poll() is None
            assert probe.diag["tick_errors"] == 0 and probe.diag["loop_restarts"] == 0
            _running(probe, 20)
        reply = probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=True))
        assert reply.success, reply.message
        assert_commands_safe(spec, probe.commands)
    finally:
        probe.close()
        stop(node)
        stop(robot)
    flood = [ln for ln in (tmp / "robot.log").read_text().splitlines() if "flood ended" in ln]
    print("flood:", flood, f"({FLOOD_S:g} s each)")


def test_stop_wins_over_a_slow_load_and_a_stale_load_is_discarded(tmp_path):
    """A 10 s load (a slow model warmed up 300 times) never delays a deactivate; a load that
    finishes after cleanup + configure is dropped, not swapped in."""
    spec = small_spec(rate_hz=10.0)
    spec.save(tmp_path / "robot.yaml")
    lo, hi = np.asarray(spec.robot.position_lower), np.asarray(spec.robot.position_upper)
    make_model(spec, tmp_path / "a.onnx", target=lo + 0.6 * (hi - lo))
    make_model(spec, tmp_path / "slow.onnx", "slow")
    a_hash = read_manifest(tmp_path / "a.onnx")["content_hash"]
    robot, node, probe, _ = _start(
        tmp_path, policy_path=str(tmp_path / "a.onnx"), warmup_iters=300, load_timeout_s=60.0
    )
    try:
        probe.wait_for(lambda: probe.diag.get("policy_hash") == a_hash, 60, "a loaded")
        _running(probe)
        probe.set_param("threads", 2)  # refused (read-only); the client is discovered now
        t0 = time.monotonic()
        assert probe.set_policy(str(tmp_path / "slow.onnx")).successful
        swap_s = time.monotonic() - t0
        probe.wait_for(lambda: str(probe.diag.get("loading")).endswith("slow.onnx"), 5, "load")
        req = ChangeState.Request()
        req.transition.label = "deactivate"
        t0 = time.monotonic()
        probe.call(ChangeState, "/lps_policy/change_state", req)
        deactivate_s = time.monotonic() - t0
        assert probe.lifecycle("cleanup") == "unconfigured"
        assert probe.set_policy(str(tmp_path / "a.onnx")).successful  # what configure loads
        assert probe.lifecycle("configure") == "inactive"
        probe.wait_for(lambda: probe.diag.get("state") == "inactive", 10, "configured")
        probe.wait_for(lambda: probe.diag.get("policy_hash") == a_hash, 30, "a again")
        log = tmp_path / "node.log"
        end = time.monotonic() + 30
        while "discarded the stale load" not in log.read_text():
            assert time.monotonic() < end, "the slow load never finished"
            probe.spin(0.5)
        probe.spin(1.5)
        assert probe.diag["policy_hash"] == a_hash
        print(
            f"swap request answered in {swap_s * 1e3:.1f} ms, deactivate {deactivate_s * 1e3:.1f}"
        )
        assert swap_s < 0.1 and deactivate_s < 0.1
    finally:
        probe.close()
        stop(node)
        stop(robot)


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MB tmpfs (tests run as root); the filler writes it full."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)])
    assert out.returncode == 0, "mounting a 4 MB tmpfs failed: the suite runs as root (CI does)"
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


def _fill(disk: Path) -> Path:
    """Write ``disk`` full. Unbuffered: a buffered file keeps the bytes a failed flush could
    not write and raises ENOSPC again when it closes."""
    filler = disk / "filler.bin"
    with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while f.write(b"\0" * 65536):
            pass
    return filler


def _recording(spec_path: Path, out: Path, logs: Path, **params) -> tuple:
    """The fake robot, a recorder writing to ``out`` and a probe that plays the operator
    (a joint command on /teleop/joint_command at 100 Hz), in a fresh domain."""
    domain = free_domain()
    robot = start_node("fake-robot", {"robot_spec": str(spec_path)}, domain, logs / "r.log")
    params = {"robot_spec": str(spec_path), "output_dir": str(out), **params}
    rec = start_node("recorder", params, domain, logs / "recorder.log")
    probe = Probe(domain)
    action = probe.node.create_publisher(Float64MultiArray, "/teleop/joint_command", 10)
    probe.node.create_timer(0.01, lambda: action.publish(Float64MultiArray(data=[0.0, 0.0, 0.2])))
    return robot, rec, probe


def test_a_full_disk_ends_the_episode_not_the_recorder(models, tiny_disk):
    tmp, spec, _ = models
    robot, rec, probe = _recording(tmp / "robot.yaml", tiny_disk, tmp, min_free_mb=0.5)
    try:
        start = lambda: probe.call(Trigger, "/lps_recorder/start", Trigger.Request(), 60)  # noqa: E731
        stop_ = lambda ok: probe.call(SetBool, "/lps_recorder/stop", SetBool.Request(data=ok))  # noqa: E731
        probe.wait_for(lambda: start().success, 60, "a first episode")
        probe.spin(1.0)
        assert stop_(True).success  # one finished episode before the disk fills
        assert start().success
        probe.spin(1.0)
        filler = _fill(tiny_disk)
        probe.spin(1.0)
        reply = stop_(True)
        assert not reply.success and "disk full" in reply.message, reply.message
        refused = start()
        assert not refused.success and refused.message.startswith("disk full:"), refused.message
        assert rec.poll() is None
        filler.unlink()
        assert start().success  # room again: recording goes on
        probe.spin(0.5)
        assert stop_(False).success
    finally:
        probe.close()
        stop(rec)
        stop(robot)
    assert rec.returncode in (0, -signal.SIGTERM), rec.returncode  # no segfault
    refs = list_episodes(tiny_disk)
    assert len(refs) == 3 and validate(tiny_disk) == []
    notes = [str(load_episode(r)["attrs"].get("operator_notes", "")) for r in refs]
    assert sum("ended early: disk full" in n for n in notes) == 1, notes
    assert not list(tiny_disk.glob("*.partial"))


def test_a_full_disk_under_the_stats_file_is_reported_not_fatal(models, tiny_disk):
    tmp, _, _ = models
    stats = tiny_disk / "stats.json"
    robot, node, probe, _ = _start(tmp, policy_path=str(tmp / "a.onnx"), stats_path=str(stats))
    try:
        _running(probe)
        stats.unlink()
        filler = _fill(tiny_disk)
        probe.wait_for(
            lambda: "No space left" in str(probe.diag.get("stats_error")), 10, "stats_error"
        )
        assert probe.diag_level == 1 and "stats file" in probe.diag_message
        n = len(probe.commands)
        probe.spin(2.0)
        assert node.poll() is None and len(probe.commands) > n + 50
        filler.unlink()
        probe.wait_for(lambda: not probe.diag.get("stats_error"), 15, "writing again")
        assert json.loads(stats.read_text())["state"] == "active"
    finally:
        probe.close()
        stop(node)
        stop(robot)


@pytest.mark.parametrize(
    "mode, fault",
    [
        ("zero_stamps", "zero header stamps"),
        ("old_stamps", "dropped"),
        ("back_stamps", "joint_states:"),
    ],
)
def test_recording_refuses_bad_time(models, tmp_path, mode, fault):
    tmp, spec, _ = models
    robot, rec, probe = _recording(tmp / "robot.yaml", tmp_path / "rec", tmp_path)
    try:
        probe.set_mode(mode)
        probe.spin(0.5)
        start = Trigger.Request()
        probe.wait_for(
            lambda: probe.call(Trigger, "/lps_recorder/start", start, 60).success, 60, "start"
        )
        probe.spin(1.5)
        reply = probe.call(SetBool, "/lps_recorder/stop", SetBool.Request(data=True))
        assert reply.success, reply.message
    finally:
        probe.close()
        stop(rec)
        stop(robot)
    problems = validate(tmp_path / "rec")
    assert any("timing fault while recording" in p and fault in p for p in problems), problems
    (ref,) = list_episodes(tmp_path / "rec")
    ts = load_episode(ref)["timestamps"]
    dt = np.diff(ts)
    assert len(ts) > 20 and (dt > 0.25 / spec.robot.control_rate_hz).all(), dt.min()
    assert abs(ts[-1] - time.time()) < 60  # receipt time, never a 3 s-old or zero stamp


def test_reasons_tell_the_truth(models):
    """Skew is named as skew; a model that turns slow after probation shows as late with the
    figures; watched-link problems are logged; a same-size rewrite that keeps the mtime is
    noticed by content."""
    tmp, spec, hashes = models
    link = tmp / "watched.onnx"
    link.unlink(missing_ok=True)
    shutil.copy(tmp / "a.onnx", tmp / "c.onnx")
    os.symlink(tmp / "c.onnx", link)
    robot, node, probe, _ = _start(
        tmp,
        policy_path=str(tmp / "a.onnx"),
        watch_path=str(link),
        watch_period_s=0.2,
        probation_ticks=5,
    )
    try:
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["a"], 60, "a loaded")
        _running(probe)
        # a sender clock 0.5 s behind
        probe.set_mode("lagging_stamps")
        probe.wait_for(
            lambda: str(probe.diag.get("last_hold_reason")).startswith("clock_skew:"), 10, "skew"
        )
        assert probe.diag_level == 2 and "clock_skew" in probe.diag_message
        probe.set_mode("normal")
        _running(probe, 10)
        # watched-link problems are logged, the running policy stays
        link.unlink()
        os.symlink(tmp / "gone.onnx", link)
        probe.spin(1.0)
        link.unlink()
        os.symlink(tmp / "loop2.onnx", link)
        (tmp / "loop2.onnx").unlink(missing_ok=True)
        os.symlink(link, tmp / "loop2.onnx")
        probe.spin(1.0)
        log = (tmp / "node.log").read_text()
        assert "is a link to the missing" in log and "is a symlink loop" in log
        # back to c (a's bytes: same content, no swap), then c rewritten with b's bytes at
        # the same size and with its old mtime: a swap to b
        link.unlink()
        os.symlink(tmp / "c.onnx", link)
        probe.spin(1.5)
        assert probe.diag["policy_hash"] == hashes["a"] and probe.diag["swaps"] == 0
        st = (tmp / "c.onnx").stat()
        data = (tmp / "b.onnx").read_bytes()
        assert len(data) == st.st_size
        (tmp / "c.onnx").write_bytes(data)
        os.utime(tmp / "c.onnx", ns=(st.st_atime_ns, st.st_mtime_ns))
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["b"], 10, "b by content")
        # a model that turns slow after its probation: late, with the figures
        assert probe.swap(str(tmp / "low.onnx")) == (True, "")
        probe.spin(1.5)
        assert probe.swap(str(tmp / "late.onnx")) == (True, "")
        probe.wait_for(lambda: "running late" in probe.diag_message, 20, "late reported")
        # an inference over the period is late by definition; whether it also costs a whole
        # tick depends on how much over the period this machine runs it (CI: none missed)
        late, missed = probe.diag["late_inferences_5s"], probe.diag["missed_ticks_5s"]
        assert probe.diag_level >= 1 and late > 0
        assert f"{missed} missed tick(s) and {late} inference(s)" in probe.diag_message
        print("late model:", probe.diag_message)
    finally:
        probe.close()
        stop(node)
        stop(robot)


@pytest.mark.parametrize(
    "text, words",
    [
        ("lps_policy:\n  ros__parameters:\n    max_ob_age_s: 0.1\n", "did you mean"),
        ("lps_polcy:\n  ros__parameters:\n    policy_path: a.onnx\n", "no section for"),
        ("lps_policy:\n  ros__parameters:\n    a: [1, 2\n", "not valid YAML at line"),
    ],
)
def test_parameter_files_are_refused_in_one_line(tmp_path, text, words):
    params = tmp_path / "params.yaml"
    params.write_text(text)
    assert_refused_in_one_line(["--params-file", str(params)], words)
