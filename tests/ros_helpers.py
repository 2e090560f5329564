"""Test access to the process helpers (they live in the package, shared with benchmarks)."""

from lps_robot.ros.procs import Probe, ros_env, start_node, start_robot_and_policy, stop

__all__ = ["Probe", "ros_env", "start_node", "start_robot_and_policy", "stop"]
