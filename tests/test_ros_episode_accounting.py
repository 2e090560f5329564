"""A ROS episode the controller held throughout is not a policy outcome: the controller counts
the ticks that commanded its policy since activating, and the demo leaves such episodes out of
the ROS success and the ROS-vs-stepped check (an episode with a camera that never arrived once
read as 20 failures of each policy)."""

from __future__ import annotations

from lps_robot.demo.ros_loop import episode_result, outcomes
from lps_robot.ros.policy_health import LoopStats


def test_policy_ticks_count_commanding_ticks_from_activation():
    stats = LoopStats(0.05)
    for running in (True, True, False, True):
        stats.add(0.5, 1.0, 2.0 if running else None, running=running)
    assert stats.snapshot()["policy_ticks"] == 3
    stats.activated()
    stats.add(None, 1.0, None)  # a hold
    assert stats.snapshot()["policy_ticks"] == 0


def test_an_episode_held_throughout_is_not_counted():
    fail = {"success": False, "elapsed_s": 10.1, "sim_s": 10.0}
    win = {"success": True, "elapsed_s": 4.0, "sim_s": 4.0}
    diag = {"policy_ticks": 0, "last_hold_detail": "stale_camera:wrist"}
    held = episode_result("lps", fail, diag)
    assert held["held"] == "stale_camera:wrist"
    assert episode_result("lps", fail, {"policy_ticks": 150})["held"] == ""
    # a success moved the arm whatever the last snapshot said; an older controller: unknown
    assert episode_result("lps", win, {"policy_ticks": 0})["held"] == ""
    assert episode_result("lps", fail, {})["held"] == ""
    ros = {
        "episodes": [
            held,
            episode_result("lps", win, {"policy_ticks": 60}),
            episode_result("bc", fail, {"policy_ticks": 150}),
        ]
    }
    assert outcomes(ros, "lps") == [True] and outcomes(ros, "bc") == [False]
