"""Test access to the process helpers (they live in the package, shared with benchmarks)."""

from lps_robot.ros.procs import (
    Probe,
    free_domain,
    ros_env,
    start_node,
    start_robot_and_policy,
    stop,
)

__all__ = [
    "Probe",
    "assert_refused_in_one_line",
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

    domain = free_domain()
    watch = {"watch_path": str(run_dir / link), "watch_period_s": 0.2}
    robot, node = start_robot_and_policy(
        run_dir, domain, {"policy_path": str(run_dir / policy), **watch, **params}
    )
    return robot, node, Probe(domain)


def assert_refused_in_one_line(node_args: list[str], words: str) -> None:
    """`lps node policy <node_args>` exits 2 with one 'error:' line containing ``words``."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "lps_robot.cli", "node", "policy", *node_args],
        env=ros_env(free_domain()),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and words in out.stderr, out.stderr
    assert len([ln for ln in out.stderr.splitlines() if ln.startswith("error:")]) == 1


def record_one_episode(probe, procs: list, out, seconds: float = 1.0) -> dict:
    """Start an episode on the recorder once its inputs are live, let it record ``seconds``,
    stop it as a success, stop ``procs``; the episode as `load_episode` gives it (validated)."""
    from std_srvs.srv import SetBool, Trigger

    from lps_robot.data.reader import list_episodes, load_episode, validate

    try:
        start = Trigger.Request()
        probe.wait_for(
            lambda: probe.call(Trigger, "/lps_recorder/start", start, 60).success, 60, "start"
        )
        probe.spin(seconds)
        assert probe.call(SetBool, "/lps_recorder/stop", SetBool.Request(data=True)).success
    finally:
        probe.close()
        for proc in procs:
            stop(proc)
    assert validate(out) == []
    return load_episode(list_episodes(out)[0])
