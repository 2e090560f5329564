"""Test access to the process helpers (they live in the package, shared with benchmarks)."""

from lps_robot.ros.procs import Probe, ros_env, start_node, stop, write_params

__all__ = ["Probe", "ros_env", "start_node", "stop", "write_params"]
