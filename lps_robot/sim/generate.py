"""Record scripted-teleop episodes of the sim task straight into HDF5 (no ROS, for speed).

Writes the same schema, through the same `EpisodeWriter`, as the ROS recorder node. Each
episode is seeded by its index alone (the scene and the operator's choices), so the data are
the same whether one process records them or several (``workers``: spawned processes, each
writing its own episode files into the directory).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lps_robot.data.writer import DatasetWriter
from lps_robot.sim.env import SimArmEnv, sim_spec
from lps_robot.sim.oracle import ScriptedTeleop
from lps_robot.spec import Spec


class _Recorder:
    """One process's scene, scripted operator and writer."""

    def __init__(self, out_dir: Path, spec: Spec | None, seed: int, max_steps: int, **teleop):
        render = spec is None or bool(spec.cameras)  # a spec without cameras skips rendering
        self.env = SimArmEnv(spec, render=render, max_steps=max_steps, seed=seed)
        self.teleop = ScriptedTeleop(self.env, seed=seed, **teleop)
        self.writer = DatasetWriter(out_dir, self.env.spec, compression="lzf")  # frames: lzf
        self.seed = seed

    def episode(self, index: int) -> bool:
        env, teleop = self.env, self.teleop
        dt = 1.0 / env.spec.robot.control_rate_hz
        obs = env.reset(seed=self.seed * 100_000 + index)
        teleop.rng = np.random.default_rng([self.seed, index])
        teleop.reset()
        w = self.writer.begin_episode(index)
        done, success = False, False
        while not done:
            action = teleop.act()
            w.append(obs, action, timestamp=env.steps * dt)
            obs, _, success, truncated, _ = env.step(action)
            done = success or truncated or teleop.finished
        w.finish(success=success, notes=f"scripted teleop; injected failure: {teleop.failure}")
        return bool(success)


_WORKER: dict[str, _Recorder] = {}


def _init_worker(args: tuple, kwargs: dict) -> None:
    _WORKER["recorder"] = _Recorder(*args, **kwargs)


def _worker_episode(index: int) -> bool:
    return _WORKER["recorder"].episode(index)


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
    workers: int = 1,
) -> dict:
    """``spec`` defaults to the packaged sim spec; ``workers`` > 1 records in that many
    spawned processes."""
    from tqdm import tqdm

    from lps_robot.sim.workers import worker_pool

    if workers < 1:
        raise ValueError(f"workers: expected >= 1, got {workers}")
    out_dir = Path(out_dir)
    start = DatasetWriter(out_dir, spec or sim_spec()).next_index()
    indices = range(start, start + episodes)
    teleop = {"noise": noise, "failure_rate": failure_rate, "mistake_rate": mistake_rate}
    args = (out_dir, spec, seed, max_steps)
    bar = tqdm(total=episodes, desc="generate sim", disable=not progress)
    if workers <= 1 or episodes <= 1:
        recorder = _Recorder(*args, **teleop)
        successes = []
        for i in indices:
            successes.append(recorder.episode(i))
            bar.update()
        recorder.env.close()
    else:
        with worker_pool(workers, init=_init_worker, args=(args, teleop)) as pool:
            successes = []
            for ok in pool.map(_worker_episode, indices, chunksize=4):
                successes.append(ok)
                bar.update()
    bar.close()
    return {
        "episodes": episodes,
        "success_rate": sum(successes) / max(episodes, 1),
        "path": str(out_dir),
    }
