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
                results.append(
                    {
                        "policy": name,
                        "success": status["success"],
                        "seconds": status["elapsed_s"],
                        "sim_s": status.get("sim_s"),
                    }
                )
                outcome = "success" if status["success"] else "fail"
                log(
                    f"ROS episode {len(results)}/{episodes} [{name}] {outcome} "
                    f"in {status['elapsed_s']:.1f}s (simulated {status.get('sim_s')}s)"
                )
        probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=False))
        probe.spin(1.5)  # one more stats write
    stats = json.loads((out / "controller_stats.json").read_text())
    by = {k: [r["success"] for r in results if r["policy"] == k] for k in ("lps", "bc")}
    wall, sim_s = sum(r["seconds"] for r in results), sum(r["sim_s"] or 0 for r in results)
    return {
        "real_time_factor": round(sim_s / wall, 3) if wall else None,
        "episodes": results,
        "stats": stats,
        "lps_success": sum(by["lps"]) / max(len(by["lps"]), 1),
        "bc_success": sum(by["bc"]) / max(len(by["bc"]), 1),
    }
