"""Test access to the process helpers (they live in the package, shared with benchmarks)."""

from lps_robot.ros.procs import Probe, ros_env, start_node, start_robot_and_policy, stop

__all__ = [
    "Probe",
    "assert_commands_safe",
    "start_watching",
    "ros_env",
    "start_node",
    "start_robot_and_policy",
    "stop",
]


def assert_commands_safe(spec, commands: list) -> None:
    """Every (time, command) is finite, inside the joint limits and within one velocity step
    of the previous command."""
    import numpy as np

    cmds = np.asarray([c for _, c in commands])
    assert len(cmds) > 0 and np.isfinite(cmds).all()
    assert (cmds >= np.asarray(spec.robot.position_lower) - 1e-9).all()
    assert (cmds <= np.asarray(spec.robot.position_upper) + 1e-9).all()
    step = np.asarray(spec.robot.velocity_limits) / spec.robot.control_rate_hz
    assert (np.abs(np.diff(cmds, axis=0)) <= step + 1e-9).all()


def start_watching(run_dir, policy: str, link: str = "current.onnx", **params):
    """The fake robot and the policy node running ``run_dir/policy`` and watching
    ``run_dir/link`` for hot-swaps, in a fresh DDS domain; returns (robot, node, probe)."""
    import random

    domain = random.randint(100, 200)
    watch = {"watch_path": str(run_dir / link), "watch_period_s": 0.2}
    robot, node = start_robot_and_policy(
        run_dir, domain, {"policy_path": str(run_dir / policy), **watch, **params}
    )
    return robot, node, Probe(domain)
