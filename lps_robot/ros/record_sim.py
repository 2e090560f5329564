"""`lps record --sim N`: scripted-teleop episodes through the real ROS 2 recording path.

Starts the sim robot node (with its scripted operator), the teleop node and the recorder node
as separate processes. The scripted operator works a virtual gamepad (``sensor_msgs/Joy`` on
``/joy``), the teleop node solves it to joint targets on ``/teleop/joint_command`` as it would
for a person's pad, the sim arm follows them and the recorder records them: the human path,
end to end (``device="joint"``: the operator publishes joint targets itself, no teleop node).
This module also acts as the person at the keyboard: reset the scene, start an episode, let the
scripted operator move, wait for the task to end (success or timeout), stop it with the
success label. The operator holds still until recording has started, so however slow DDS
discovery or the machine is, every episode is recorded from its first motion.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from lps_robot.ros.procs import NodeGroup, Probe, free_domain
from lps_robot.ros.recorder_node import NOT_LIVE
from lps_robot.ros.sim_node import TELEOP_DEVICES, TELEOP_TOPIC

# an operator presses record and then starts moving: the first samples show the arm at rest
START_PAUSE_S = 0.15
GAMEPAD_FULL_STICK = 0.5  # m/s: the virtual pad's full deflection (the operator moves at 0.35)


def _start_when_live(probe: Probe, timeout: float):
    """Start an episode, retrying while the recorder reports its inputs not live yet
    (DDS discovery of a freshly started node can take seconds on a loaded machine)."""
    from std_srvs.srv import Trigger

    deadline = time.monotonic() + timeout
    while True:
        started = probe.call(Trigger, "/lps_recorder/start", Trigger.Request())
        live_or_refused = started.success or not started.message.startswith(NOT_LIVE)
        if live_or_refused or time.monotonic() > deadline:
            return started
        probe.spin(0.2)


def record_sim(
    episodes: int,
    out_dir: str | Path,
    *,
    seed: int = 0,
    failure_rate: float = 0.0,
    mistake_rate: float = 0.0,
    max_episode_s: float = 10.0,
    robot_spec: str = "",
    progress: bool = True,
    device: str = "joy",
) -> dict:
    from std_msgs.msg import String
    from std_srvs.srv import SetBool, Trigger
    from tqdm import trange

    if device not in TELEOP_DEVICES:
        raise ValueError(f"device: expected one of {TELEOP_DEVICES}, got {device!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    domain = free_domain()
    sim_params = {
        "robot_spec": robot_spec,
        "scripted_teleop": True,
        "seed": seed,
        "teleop_failure_rate": failure_rate,
        "teleop_mistake_rate": mistake_rate,
        "max_episode_s": max_episode_s,
        "teleop_autostart": False,
        "teleop_device": device,
    }
    reports = []
    # every node started is stopped (the recorder first), whatever ends this
    with NodeGroup(domain, out_dir) as group:
        if device == "joy":
            pad = out_dir / "virtual_gamepad.yaml"
            pad.write_text(yaml.safe_dump({"max_linear": GAMEPAD_FULL_STICK, "deadzone": 0.0}))
            sim_params.update(teleop_mapping_file=str(pad.resolve()), command_topic=TELEOP_TOPIC)
            teleop = {
                "input": "joy",
                "robot_spec": robot_spec,
                "mapping_file": str(pad.resolve()),
                "max_linear_speed": GAMEPAD_FULL_STICK,
            }
            group.start("teleop", teleop, "teleop_node.log")
        group.start("sim", sim_params, "sim_node.log")
        recorder = {
            "robot_spec": robot_spec,
            "output_dir": str(out_dir.resolve()),
            "compression": "lzf",
        }
        group.start("recorder", recorder, "recorder_node.log")
        probe = group.open_probe()
        task = probe.listen(String, "/sim/task")
        for _ in trange(episodes, desc="record (ROS)", disable=not progress):
            episode = probe.reset_sim()
            started = _start_when_live(probe, timeout=30.0)
            if not started.success:
                raise RuntimeError(f"recorder refused to start: {started.message}")
            probe.spin(START_PAUSE_S)  # the recorder takes its first samples at rest
            go = probe.call(Trigger, "/sim_robot/teleop_start", Trigger.Request())
            if not go.success:
                raise RuntimeError(f"scripted operator did not start: {go.message}")

            success = probe.wait_for_episode(task, episode, max_episode_s + 10)["success"]
            stopped = probe.call(SetBool, "/lps_recorder/stop", SetBool.Request(data=success))
            if not stopped.success:
                raise RuntimeError(f"recorder could not finish the episode: {stopped.message}")
            reports.append(json.loads(stopped.message))
    rates = [r["measured_rate_hz"] for r in reports if r["measured_rate_hz"]]
    return {
        "episodes": len(reports),
        "operator": device,
        "success_rate": sum(r["success"] for r in reports) / max(len(reports), 1),
        "measured_rate_hz_min": min(rates) if rates else None,
        "measured_rate_hz_mean": sum(rates) / len(rates) if rates else None,
        "dropped_samples": sum(sum(r["dropped"].values()) for r in reports),
        "flagged_episodes": sum(bool(r["flags"]) for r in reports),
        "path": str(out_dir),
    }
