"""The controller node over real DDS: commands, hot-swap, rejection, holds, limits."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch
from std_srvs.srv import SetBool

from lps_robot.agent import LPSAgent
from lps_robot.export import export
from lps_robot.ros.procs import free_domain
from tests.conftest import small_spec
from tests.ros_helpers import assert_commands_safe, start_watching, stop
from tests.test_agent import SMALL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ros")
    base = small_spec()
    spec = base.replace(robot=dataclasses.replace(base.robot, control_rate_hz=50.0))
    spec.save(tmp / "robot.yaml")
    torch.manual_seed(0)
    hashes = {}
    for name, algo in (("lps", "lps"), ("bc", "bc")):
        hashes[name] = export(LPSAgent(spec, SMALL).eval(), tmp / f"{name}.onnx", algo=algo)[
            "content_hash"
        ]
    (tmp / "junk.onnx").write_bytes(b"definitely not onnx")
    os.symlink(tmp / "lps.onnx", tmp / "current.onnx")
    return tmp, spec, hashes


def test_controller_end_to_end(setup):
    tmp, spec, hashes = setup
    robot, node, probe = start_watching(tmp, "lps.onnx", warmup_latency_fraction=1.0)
    try:
        # disabled: no commands; enabling starts them, from the first policy
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["lps"], 60, "lps loaded")
        assert probe.commands == [] and probe.diag["last_status"] == "inactive"
        assert probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=True)).success
        probe.wait_for(lambda: len(probe.commands) > 20, 20, "commands")
        probe.wait_for(lambda: probe.diag.get("last_status") in ("ok", "clamped"), 10, "running")
        probe.wait_for(lambda: (probe.diag.get("policy_ticks") or 0) > 0, 5, "policy ticks")

        # hot-swap through the parameter
        assert probe.swap(str(tmp / "bc.onnx")) == (True, "")
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["bc"], 10, "bc active")
        assert probe.diag["swaps"] == 1

        # a bad model is refused with its reason; the running one stays in charge
        n = len(probe.commands)
        ok, reason = probe.swap(str(tmp / "junk.onnx"))
        assert not ok and "not a loadable ONNX model" in reason
        probe.spin(1.5)
        assert len(probe.commands) > n + 30
        assert probe.diag["policy_hash"] == hashes["bc"] and probe.diag["rejected_swaps"] == 1

        # hot-swap through the watched file
        os.remove(tmp / "current.onnx")
        os.symlink(tmp / "bc.onnx", tmp / "current.onnx")
        os.remove(tmp / "current.onnx")
        os.symlink(tmp / "lps.onnx", tmp / "current.onnx")
        os.utime(tmp / "lps.onnx")
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["lps"], 10, "watch swap")
        assert probe.diag["swaps"] == 2

        # NaN joint states and a frozen camera make it hold: every command equal
        for mode, status in (
            ("nan_joints", "invalid_joint:j2"),
            ("freeze_camera", "stale_camera:front"),
        ):
            probe.set_mode(mode)
            probe.wait_for(lambda s=status: probe.diag.get("last_status") == s, 10, status)
            # commands sent before the hold may still sit in the probe's queue behind the
            # diagnostics message (callbacks of different topics are not FIFO): drain them
            probe.spin(0.3)
            start = len(probe.commands)
            probe.spin(1.0)
            ticks = probe.diag["policy_ticks"]  # counted in the snapshot that saw the hold
            probe.spin(1.0)
            held = [c for _, c in probe.commands[start:]]
            assert len(held) > 20 and all(np.isfinite(held).all(axis=1))
            assert np.ptp(np.asarray(held), axis=0).max() == 0.0, f"moved while holding ({mode})"
            assert probe.diag["policy_ticks"] == ticks, f"a hold counted as a policy tick ({mode})"
            probe.set_mode("normal")
            probe.wait_for(
                lambda: probe.diag.get("last_status") in ("ok", "clamped"), 10, "resume"
            )

        # commands never leave the joint limits, never jump, never contain NaN
        assert_commands_safe(spec, probe.commands)
    finally:
        probe.close()
        stop(node)
        stop(robot)
        print((tmp / "node.log").read_text()[-3000:])


def test_diagnostics_never_race_the_control_thread():
    """stats() (executor thread) reads the loop's sample buffers while the control thread
    appends to them: it must neither raise nor take the node down (it once did: 'deque
    mutated during iteration' ended the executor, and with it every service)."""
    import sys
    import threading
    import time

    import rclpy

    from lps_robot.ros.controller_node import PolicyNode

    ctx_args = [
        "--ros-args",
        *("-p", "control_rate_hz:=2000.0", "-p", "allow_rate_override:=true"),
        *("-p", "autostart:=activate"),
    ]
    rclpy.init(args=ctx_args, domain_id=free_domain())
    interval = sys.getswitchinterval()
    node = PolicyNode()
    try:
        sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose the race
        errors = []

        def read() -> None:  # read for as long as it takes the loop to tick 4000 times (2 s)
            deadline = time.monotonic() + 60
            try:
                while node.health.ticks < 4000 and time.monotonic() < deadline:
                    node.stats()
            except Exception as e:  # noqa: BLE001 - the test reports any failure
                errors.append(e)

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=120)
        assert errors == [] and node.health.ticks >= 4000
        assert node.stats()["rate_hz"] > 0
    finally:
        sys.setswitchinterval(interval)
        node.destroy_node()
        rclpy.shutdown()


def test_a_hung_loop_is_reported_and_enable_says_so():
    """A tick that never returns: the watchdog reports the stall at ERROR (within a period
    of the late tick), and ~/enable answers failure instead of pretending to run."""
    import threading
    import time

    import rclpy
    from diagnostic_msgs.msg import DiagnosticStatus
    from std_srvs.srv import SetBool

    from lps_robot.ros.controller_node import PolicyNode
    from lps_robot.ros.policy_health import level

    rclpy.init(args=["--ros-args", "-p", "autostart:=configure"], domain_id=free_domain())
    node = PolicyNode()
    release = threading.Event()
    try:
        ticker = node.ticker
        assert ticker.alive and ticker.stalled() == 0.0
        ticker.tick = lambda start: release.wait(30)  # the next tick hangs
        hung = time.monotonic()
        while ticker.stalled() == 0.0:
            assert time.monotonic() - hung < 5
            time.sleep(0.005)
        assert time.monotonic() - hung < 3 * node.period + 0.1
        s = node.stats()
        lvl, msg = level(s, node.period)
        assert lvl == DiagnosticStatus.ERROR and "control loop stalled" in msg, msg
        reply = node._on_enable(SetBool.Request(data=True), SetBool.Response())
        assert not reply.success and "control loop is not running" in reply.message
    finally:
        release.set()
        node.destroy_node()
        rclpy.shutdown()


def test_inference_ahead_over_dds(setup):
    """``inference: ahead``: chunks computed on the worker thread drive the arm within its
    bounds, a swap hands over to the new policy, and /diagnostics says where inference runs."""
    tmp, spec, hashes = setup
    robot, node, probe = start_watching(
        tmp, "lps.onnx", warmup_latency_fraction=1.0, inference="ahead", autostart="activate"
    )
    try:
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["lps"], 60, "lps loaded")
        probe.wait_for(lambda: len(probe.commands) > 50, 20, "commands")
        assert probe.diag["inference"] == "ahead" and probe.diag["inference_lead_ticks"] >= 1
        assert probe.diag["execution_provider"] == "CPUExecutionProvider"
        assert probe.swap(str(tmp / "bc.onnx")) == (True, "")
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["bc"], 10, "bc active")
        probe.spin(1.0)
        assert probe.diag["last_status"] in ("ok", "clamped") and probe.diag["rollbacks"] == 0
        assert_commands_safe(spec, probe.commands)
    finally:
        probe.close()
        stop(node)
        stop(robot)
