"""Fault injection against the real controller node over DDS.

A corpus of bad models (hand-built, tests/bad_models.py), bad files, bad parameters and
malformed joint states is thrown at a running node. Throughout: every published command is
finite, inside the joint limits and within one step bound of the previous command; the node
keeps answering its services; the policy that was running stays in charge.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool

from lps_robot.ros.procs import free_domain
from lps_robot.spec import Spec
from tests.bad_models import KINDS, make_model, write_pair
from tests.conftest import small_spec
from tests.ros_helpers import (
    Probe,
    assert_commands_safe,
    assert_refused_in_one_line,
    ros_env,
    start_robot_and_policy,
    start_watching,
    stop,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    spec = small_spec(rate_hz=50.0)
    hashes = write_pair(spec, tmp)
    lo, hi = np.asarray(spec.robot.position_lower), np.asarray(spec.robot.position_upper)
    for kind in KINDS:
        make_model(spec, tmp / f"{kind}.onnx", kind)
    # accepted (finite on its warm-up inputs), then NaN once joint 0 passes 0.35 on its way to
    # 0.5: it must be rolled back in probation
    make_model(spec, tmp / "trap.onnx", "nan_beyond", lo + 0.75 * (hi - lo), threshold=0.35)
    os.mkfifo(tmp / "fifo.onnx")
    os.mkdir(tmp / "dir.onnx")
    os.symlink(tmp / "a.onnx", tmp / "current.onnx")
    return tmp, spec, hashes


def _gripper(probe: Probe, joints, spec: Spec) -> None:
    """One message of a 'gripper driver' that publishes joint j2 alone, at a's target."""
    lo, hi = spec.robot.position_lower[2], spec.robot.position_upper[2]
    msg = JointState(name=["j2"], position=[lo + 0.6 * (hi - lo)])
    msg.header.stamp = probe.node.get_clock().now().to_msg()
    joints.publish(msg)


def _answers(probe: Probe) -> bool:
    """The node answers a service call within 5 s."""
    return probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=True), 5.0).success


def test_the_node_survives_every_fault(corpus):
    tmp, spec, hashes = corpus
    robot, node, probe = start_watching(tmp, "a.onnx")
    joints = probe.node.create_publisher(JointState, "/joint_states", 10)
    try:
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["a"], 60, "a loaded")
        assert _answers(probe)
        probe.wait_for(lambda: probe.diag.get("last_status") in ("ok", "clamped"), 10, "running")
        probe.wait_for(lambda: probe.diag_level == 0, 10, "OK")

        # every bad model and file is refused with its reason; the node keeps answering
        bad = {tmp / f"{k}.onnx": why for k, why in KINDS.items()}
        bad |= {
            tmp / "fifo.onnx": "is a FIFO",
            tmp / "dir.onnx": "is a directory",
            "/dev/zero": "is a character device",
            tmp / "missing.onnx": "cannot read model",
        }
        for path, why in bad.items():
            t0 = time.monotonic()
            ok, reason = probe.swap(str(path))
            assert not ok and why in reason, (path, reason)
            assert time.monotonic() - t0 < 15 and _answers(probe), path
        probe.spin(1.0)
        assert probe.diag["policy_hash"] == hashes["a"]
        assert probe.diag["rejected_swaps"] == len(bad) and probe.diag["swaps"] == 0
        assert probe.diag["last_status"] in ("ok", "clamped")

        # bad parameters are refused with the reason; nothing changes
        for name, value in (("control_rate_hz", -50.0), ("execution", "open-loop")):
            result = probe.set_param(name, value)
            assert not result.successful and name in result.reason, result.reason
        result = probe.set_param("policy_path", 3)
        assert not result.successful

        # the watched link pointing at a bad model: refused in the background
        os.remove(tmp / "current.onnx")
        os.symlink(tmp / "nan.onnx", tmp / "current.onnx")
        n_rejected = len(bad) + 1
        probe.wait_for(
            lambda: probe.diag.get("rejected_swaps") == n_rejected, 10, "watched nan refused"
        )
        # a good model swaps in, by parameter and by the watched link
        assert probe.set_policy(str(tmp / "b.onnx")).successful
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["b"], 10, "b active")
        os.remove(tmp / "current.onnx")
        os.symlink(tmp / "a.onnx", tmp / "current.onnx")
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["a"], 10, "watch swap")

        # a policy that fails only after it has taken over is rolled back to the previous one
        probe.spin(1.5)  # joint 0 settles at a's target (0.2)
        assert probe.set_policy(str(tmp / "trap.onnx")).successful
        probe.wait_for(lambda: probe.diag.get("rollbacks") == 1, 10, "rollback")
        assert "non-finite" in probe.diag["last_rollback_reason"]
        assert "rolled back to" in probe.diag["last_rollback_reason"]
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["a"], 5, "a again")

        # malformed joint states are refused; a second publisher naming only some joints
        # (a gripper driver, while the arm's driver leaves that joint out) merges by name and
        # never makes the arm hold
        probe.set_mode("arm_only")
        end = time.monotonic() + 2.0  # the hand-over from the robot's j2 to the gripper's
        while time.monotonic() < end or probe.diag.get("last_status") not in ("ok", "clamped"):
            assert time.monotonic() < end + 10, probe.diag
            _gripper(probe, joints, spec)
            probe.spin(0.01)
        holds = probe.diag["holds"]
        for _ in range(20):
            joints.publish(JointState(name=["j0", "j1", "j2"], position=[0.0, 0.0]))
            joints.publish(JointState(name=["j0", "j0", "j2"], position=[1.0, 1.0, 1.0]))
            _gripper(probe, joints, spec)
            probe.spin(0.02)
        end = time.monotonic() + 2.7  # long enough for two diagnostics messages
        while time.monotonic() < end:
            _gripper(probe, joints, spec)
            probe.spin(0.01)
        assert probe.diag["bad_joint_msgs"] >= 20
        assert probe.diag["holds"] == holds, probe.diag["last_hold_reason"]
        assert probe.diag["last_status"] in ("ok", "clamped")

        # two publishers of the same joint (the arm driver sends j2 too): conflicting sources
        # hold, named, at ERROR; when one stops, the arm resumes
        probe.set_mode("normal")
        end = time.monotonic() + 3.0
        while probe.diag.get("last_hold_reason") != "conflicting_sources:j2":
            assert time.monotonic() < end, probe.diag
            _gripper(probe, joints, spec)
            probe.spin(0.01)
        assert probe.diag_level == 2
        probe.wait_for(lambda: probe.diag.get("last_status") in ("ok", "clamped"), 10, "resume")

        # a joint going NaN holds, names the joint, and reports ERROR
        probe.set_mode("nan_joints")
        probe.wait_for(
            lambda: probe.diag.get("last_hold_reason") == "invalid_joint:j2", 10, "nan hold"
        )
        assert probe.diag_level == 2
        probe.set_mode("normal")
        probe.wait_for(lambda: probe.diag.get("last_status") in ("ok", "clamped"), 10, "resume")

        assert node.poll() is None and _answers(probe)
        assert_commands_safe(spec, probe.commands)
    finally:
        probe.close()
        stop(node)
        stop(robot)
        print((tmp / "node.log").read_text()[-4000:])


def test_lifecycle_transitions(corpus):
    tmp, spec, hashes = corpus
    domain = free_domain()
    link = tmp / "restart.onnx"  # a hot-swap before a restart repointed the watched link
    link.unlink(missing_ok=True)
    os.symlink(tmp / "b.onnx", link)
    robot, node = start_robot_and_policy(
        tmp,
        domain,
        {"policy_path": str(tmp / "a.onnx"), "watch_path": str(link), "autostart": "none"},
    )
    probe = Probe(domain)
    try:
        assert probe.lifecycle() == "unconfigured"
        assert probe.lifecycle("configure") == "inactive"
        # the watched link wins over policy_path: the node resumes what was running
        probe.wait_for(lambda: probe.diag.get("policy_hash") == hashes["b"], 10, "loaded")
        probe.spin(0.5)
        assert probe.commands == [] and probe.diag_level == 1  # WARN: not commanding
        assert probe.lifecycle("activate") == "active"
        probe.wait_for(lambda: len(probe.commands) > 20, 10, "commands")
        assert probe.lifecycle("deactivate") == "inactive"
        probe.spin(0.3)
        n = len(probe.commands)
        probe.spin(0.5)
        assert len(probe.commands) == n, "commanded while inactive"
        assert probe.lifecycle("cleanup") == "unconfigured"
        probe.wait_for(lambda: probe.diag.get("state") == "unconfigured", 5, "cleanup")
        assert probe.diag["policy_hash"] is None  # dropped
        # ~/enable configures and activates again
        assert probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=True)).success
        probe.wait_for(lambda: len(probe.commands) > n + 20, 10, "commands again")
        assert probe.lifecycle() == "active"
        assert_commands_safe(spec, probe.commands[n:])
    finally:
        probe.close()
        stop(node)
        stop(robot)


@pytest.mark.parametrize(
    "param, words",
    [
        ("control_rate_hz:=-50.0", "control_rate_hz"),
        ("control_rate_hz:=40.0", "differs from the robot spec's 50 Hz"),
        ("execution:=open-loop", "execution: expected one of"),
        ("max_obs_age_s:=-1.0", "max_obs_age_s"),
        ("watch_period_s:=0.0", "watch_period_s"),
    ],
)
def test_invalid_parameters_refuse_to_start(corpus, param, words):
    tmp, _, _ = corpus
    assert_refused_in_one_line(
        ["--ros-args", "-p", f"robot_spec:={tmp / 'robot.yaml'}", "-p", param], words
    )


def test_a_namespaced_node_keeps_the_shipped_configuration(corpus):
    """`namespace:=arm` once made the node ignore config/policy.yaml (keyed by the bare node
    name) and silently command the default topic; the shipped file is keyed `/**`."""
    import yaml
    from std_msgs.msg import Float64MultiArray

    from tests.ros_helpers import start_node

    tmp, spec, _ = corpus
    shipped = Path(__file__).resolve().parents[1] / "ros_ws/src/lps_robot/config/policy.yaml"
    data = yaml.safe_load(shipped.read_text())
    params = data["/**"]["ros__parameters"]
    params |= {
        "robot_spec": str(tmp / "robot.yaml"),
        "policy_path": str(tmp / "a.onnx"),
        "command_topic": "/custom/commands",
        "autostart": "activate",
    }
    params_file = tmp / "namespaced.yaml"
    params_file.write_text(yaml.safe_dump(data))
    domain = free_domain()
    robot = start_node(  # the arm's driver in the namespace too (the default topic is relative)
        "fake-robot", {"robot_spec": str(tmp / "robot.yaml")}, domain, tmp / "r.log",
        extra=("-r", "/joint_states:=/arm/joint_states"),
    )  # fmt: skip
    log = (tmp / "ns.log").open("w")
    node = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lps_robot.cli",
            "node",
            "policy",
            "--params-file",
            str(params_file),
        ]
        + ["--ros-args", "-r", "__ns:=/arm"],
        env=ros_env(domain),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    probe = Probe(domain)
    got = probe.listen(Float64MultiArray, "/custom/commands")
    try:
        probe.wait_for(lambda: "msg" in got, 60, "commands on the configured topic")
        assert probe.lifecycle(node="/arm/lps_policy") == "active"
    finally:
        probe.close()
        stop(node)
        stop(robot)
        log.close()
