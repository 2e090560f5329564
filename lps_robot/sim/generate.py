"""Record scripted-teleop episodes of the sim task straight into HDF5 (no ROS, for speed).

Writes the same schema, through the same `EpisodeWriter`, as the ROS recorder node.
"""

from __future__ import annotations

from pathlib import Path

from lps_robot.data.writer import DatasetWriter
from lps_robot.sim.env import SimArmEnv
from lps_robot.sim.oracle import ScriptedTeleop
from lps_robot.spec import Spec


def generate(
    out_dir: str | Path,
    episodes: int,
    *,
    seed: int = 0,
    noise: float = 0.01,
    failure_rate: float = 0.0,
    mistake_rate: float = 0.0,
    max_steps: int = 200,
    progress: bool = True,
    spec: Spec | None = None,
) -> dict:
    """``spec`` defaults to the packaged sim spec; one without cameras skips rendering."""
    from tqdm import trange

    render = spec is None or bool(spec.cameras)
    env = SimArmEnv(spec, render=render, max_steps=max_steps, seed=seed)
    teleop = ScriptedTeleop(
        env, noise=noise, failure_rate=failure_rate, mistake_rate=mistake_rate, seed=seed
    )
    writer = DatasetWriter(out_dir, env.spec, compression="lzf")  # rendered frames compress well
    dt = 1.0 / env.spec.robot.control_rate_hz
    start = writer.next_index()
    successes = 0
    for ep in trange(episodes, desc="generate sim", disable=not progress):
        obs = env.reset(seed=seed * 100_000 + start + ep)
        teleop.reset()
        w = writer.begin_episode()
        done, success = False, False
        while not done:
            action = teleop.act()
            w.append(obs, action, timestamp=env.steps * dt)
            obs, _, success, truncated, _ = env.step(action)
            done = success or truncated or teleop.finished
        w.finish(success=success, notes=f"scripted teleop; injected failure: {teleop.failure}")
        successes += success
    env.close()
    return {
        "episodes": episodes,
        "success_rate": successes / max(episodes, 1),
        "path": str(out_dir),
    }
