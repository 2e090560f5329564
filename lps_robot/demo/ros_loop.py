"""The demo's closed loop over ROS 2: sim node + controller node, policies hot-swapped
between blocks of episodes."""

from __future__ import annotations

import json
from pathlib import Path

from lps_robot.demo.report import log


def ros_closed_loop(
    policies: dict[str, Path],
    episodes: int,
    out: Path,
    seed: int,
    max_episode_s: float = 10.0,
    robot_spec: str = "",
    inference: str = "tick",
) -> dict:
    """Sim node + controller node over DDS; swap policies between blocks of episodes.
    ``inference``: the controller's (tick | ahead)."""
    from std_msgs.msg import String
    from std_srvs.srv import SetBool

    from lps_robot.ros.procs import NodeGroup, free_domain

    order = ["lps", "bc", "lps", "bc"]
    blocks = [episodes // 4 + (1 if i < episodes % 4 else 0) for i in range(4)]
    results: list[dict] = []
    # every node started is stopped (the controller first), whatever ends this
    with NodeGroup(free_domain(), out) as group:
        sim_params = {"seed": seed, "max_episode_s": max_episode_s, "robot_spec": robot_spec}
        group.start("sim", sim_params, "sim_node.log")
        controller = {
            "policy_path": str(policies["lps"]),
            "autostart": "configure",
            "robot_spec": robot_spec,
            "stats_path": str(out / "controller_stats.json"),
            "inference": inference,
        }
        group.start("policy", controller, "controller_node.log")
        probe = group.open_probe()
        task = probe.listen(String, "/sim/task")
        probe.wait_for(lambda: bool(probe.diag.get("policy_hash")), 90, "controller ready")
        for block, (name, n) in enumerate(zip(order, blocks, strict=True)):
            if block > 0:  # swaps load in the background: wait until this one has taken over
                ok, reason = probe.swap(str(policies[name]), timeout=90)
                if not ok:
                    raise RuntimeError(f"hot-swap to {name} refused: {reason}")
            for _ in range(n):
                probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=False))
                episode = probe.reset_sim()
                probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=True))

                status = probe.wait_for_episode(task, episode, max_episode_s + 20)
                result = episode_result(name, status, probe.diag)
                results.append(result)
                outcome = "success" if status["success"] else "fail"
                held = f"; HELD throughout ({result['held']}): not counted" * bool(result["held"])
                log(
                    f"ROS episode {len(results)}/{episodes} [{name}] {outcome} "
                    f"in {status['elapsed_s']:.1f}s (simulated {status.get('sim_s')}s){held}"
                )
        probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=False))
        probe.spin(1.5)  # one more stats write
    stats = json.loads((out / "controller_stats.json").read_text())
    ros = {"episodes": results, "stats": stats}
    by = {k: outcomes(ros, k) for k in ("lps", "bc")}
    wall, sim_s = sum(r["seconds"] for r in results), sum(r["sim_s"] or 0 for r in results)
    return ros | {
        "real_time_factor": round(sim_s / wall, 3) if wall else None,
        "held_episodes": sum(bool(r["held"]) for r in results),
        "lps_success": sum(by["lps"]) / len(by["lps"]) if by["lps"] else None,
        "bc_success": sum(by["bc"]) / len(by["bc"]) if by["bc"] else None,
    }


def episode_result(policy: str, status: dict, diag: dict) -> dict:
    """One ROS episode from the sim's final status and the controller's diagnostics.

    ``held``: why the controller never commanded the policy's action this episode (its last
    hold reason), '' when it did. A failure with no policy tick since activating says
    nothing of the policy (e.g. a camera that never arrived): it is not counted."""
    ticks = diag.get("policy_ticks")
    held = not status["success"] and ticks == 0
    return {
        "policy": policy,
        "success": status["success"],
        "seconds": status["elapsed_s"],
        "sim_s": status.get("sim_s"),
        "policy_ticks": ticks,
        "held": str(diag.get("last_hold_detail") or "unknown") if held else "",
    }


def outcomes(ros: dict, policy: str) -> list[bool]:
    """Successes of ``policy``'s ROS episodes in which the controller commanded it."""
    return [e["success"] for e in ros["episodes"] if e["policy"] == policy and not e["held"]]
