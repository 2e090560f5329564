"""Test access to the process helpers (they live in the package, shared with benchmarks)."""

from lps_robot.ros.procs import Probe, ros_env, start_node, start_robot_and_policy, stop

__all__ = [
    "Probe",
    "assert_commands_safe",
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
