"""Recording through the real ROS 2 path: sim node + scripted operator + recorder node."""

from __future__ import annotations

import pytest

from lps_robot.data.reader import list_episodes, load_episode, validate
from lps_robot.ros.record_sim import record_sim
from lps_robot.sim.robots import SIM_ARM6

pytestmark = pytest.mark.slow


def test_record_sim_produces_a_valid_dataset(tmp_path):
    result = record_sim(2, tmp_path / "rec", failure_rate=0.0, max_episode_s=8.0, progress=False)
    assert result["episodes"] == 2
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
    assert result["measured_rate_hz_mean"] > 15.0


def test_recorder_refuses_to_start_without_live_inputs(tmp_path):
    """No robot running: start says which inputs are silent and writes nothing."""
    import random

    from std_srvs.srv import Trigger

    from lps_robot.ros.procs import Probe, start_node, stop
    from lps_robot.ros.recorder_node import NOT_LIVE

    domain = random.randint(100, 200)
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
