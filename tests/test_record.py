"""Recording through the real ROS 2 path: sim node + scripted operator + recorder node."""

from __future__ import annotations

import numpy as np
import pytest

from lps_robot.data.reader import list_episodes, load_episode, validate
from lps_robot.ros.record_sim import record_sim
from lps_robot.sim.robots import SIM_ARM6
from lps_robot.spec import Spec

SPEC = Spec.load("lps_robot/specs/sim_arm.yaml")

pytestmark = pytest.mark.slow


def test_record_sim_produces_a_valid_dataset(tmp_path):
    """The human path: the scripted operator on a virtual gamepad, the teleop node's IK."""
    result = record_sim(2, tmp_path / "rec", failure_rate=0.0, max_episode_s=8.0, progress=False)
    assert result["episodes"] == 2 and result["operator"] == "joy"
    assert validate(tmp_path / "rec") == []
    refs = list_episodes(tmp_path / "rec")
    assert len(refs) == 2
    for ref in refs:
        ep = load_episode(ref)
        n = len(ep["actions"])
        assert n > 40 and ep["obs/front"].shape == (n, 128, 128, 3)
        # recorded from its first motion: the operator held the reset pose until recording ran
        assert abs(ep["obs/joint_pos"][0] - SIM_ARM6.home).max() < 0.02
        assert ep["obs/front"].std() > 5
        # the recorded action is the operator's joint command; the arm follows it
        assert abs(ep["actions"][-1, :5] - ep["obs/joint_pos"][-1, :5]).max() < 0.3
        assert ep["attrs"]["success"] == bool(ep["terminals"][-1])
        # recorded commands are the teleop node's: through its safety filter, so none steps
        # further than a joint's velocity limit allows in a tick (2 ticks: the recorder samples
        # the latest command on its own clock and may skip one). The operator's own joint
        # targets step the gripper 0 -> 0.05 at once, 5x the gripper's bound.
        step = abs(np.diff(ep["actions"], axis=0)).max(axis=0)
        bound = np.asarray(SPEC.robot.velocity_limits) / SPEC.robot.control_rate_hz
        assert (step <= 2 * bound + 1e-6).all(), (step, bound)
    assert result["measured_rate_hz_mean"] > 15.0
    assert result["success_rate"] > 0  # the pad moved the arm through the task
    log = (tmp_path / "rec" / "teleop_node.log").read_text()
    assert "teleop: moving" in log


def test_record_sim_joint_operator_publishes_targets_itself(tmp_path):
    result = record_sim(1, tmp_path / "rec", max_episode_s=8.0, progress=False, device="joint")
    assert result["episodes"] == 1 and result["operator"] == "joint"
    assert not (tmp_path / "rec" / "teleop_node.log").exists()
    assert validate(tmp_path / "rec") == []
    with pytest.raises(ValueError, match="device: expected one of"):
        record_sim(1, tmp_path / "x", progress=False, device="spacemouse")


def test_recorder_refuses_to_start_without_live_inputs(tmp_path):
    """No robot running: start says which inputs are silent and writes nothing."""

    from std_srvs.srv import Trigger

    from lps_robot.ros.procs import Probe, free_domain, start_node, stop
    from lps_robot.ros.recorder_node import NOT_LIVE

    domain = free_domain()
    rec = start_node("recorder", {"output_dir": str(tmp_path)}, domain, tmp_path / "recorder.log")
    probe = Probe(domain)
    try:
        reply = probe.call(Trigger, "/lps_recorder/start", Trigger.Request(), timeout=60)
        assert not reply.success and reply.message.startswith(NOT_LIVE)
        for key in ("front (none yet)", "joint_pos (none yet)", "action (none yet)"):
            assert key in reply.message
        assert list(tmp_path.glob("*.h5*")) == []
    finally:
        probe.close()
        stop(rec)
