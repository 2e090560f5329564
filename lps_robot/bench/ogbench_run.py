"""`lps bench ogbench`: LPS beside MF-BC on a state-based OGBench single task."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from lps_robot.bench import ogbench_adapter as og
from lps_robot.configs import make_config
from lps_robot.spec import NormStats
from lps_robot.train import train


def run(
    task: str,
    steps: int,
    dataset: str | None = None,
    data_episodes: int = 100,
    eval_episodes: int = 50,
    eval_every: int = 0,
    curve_episodes: int = 10,
    seed: int = 0,
    out_dir: str = "runs/ogbench",
    overrides: dict | None = None,
    progress: bool = True,
) -> dict:
    t0 = time.perf_counter()
    data_env, dataset_name = og.split_name(task)
    path = (
        Path(dataset)
        if dataset
        else Path(out_dir) / "data" / f"{dataset_name}-{data_episodes}ep.npz"
    )
    generated = False
    if not path.exists():
        if dataset:
            raise FileNotFoundError(f"dataset: {path} does not exist")
        og.generate(data_env, path, data_episodes, seed=seed, progress=progress)
        generated = True
    gen_s = time.perf_counter() - t0
    env, data = og.load(task, path)
    sparse = any(task.startswith(e) for e in og.SPARSE_ENVS)
    base = make_config(
        overrides={
            "steps": steps,
            "seed": seed,
            "progress": progress,
            "log_every": max(1, min(500, steps)),
            "reward_transform": "sparse" if sparse else "none",
            **(overrides or {}),
        }
    )
    sampler = og.ChunkSampler(data, 5)
    spec = og.ogbench_spec(data["observations"].shape[1], data["actions"].shape[1])
    spec = spec.replace(stats=NormStats(*sampler.stats))
    result: dict = {
        "env": task,
        "dataset": str(path),
        "dataset_generated": generated,
        "dataset_transitions": int(len(data["observations"])),
        "steps": steps,
        "eval_episodes": eval_episodes,
        "sparse_reward": sparse,
    }
    for algo in ("lps", "bc"):
        curve: list[tuple[int, float]] = []

        def hook(agent, step, algo=algo, curve=curve):
            if step == steps:
                return {}
            r = og.evaluate(agent, env, curve_episodes, seed + 1000, policy=algo)
            curve.append((step, r["success"]))
            return {"success": r["success"]}

        cfg = dataclasses.replace(
            base, algo=algo, out_dir=f"{out_dir}/{algo}", eval_every=eval_every
        )
        t1 = time.perf_counter()
        agent, rows = train(cfg, spec, sampler, hook if eval_every else None)
        train_s = time.perf_counter() - t1
        final = og.evaluate(agent, env, eval_episodes, seed, policy=algo)
        result[f"{algo}_success"] = final["success"]
        result[f"{algo}_train_s"] = round(train_s, 1)
        result[f"{algo}_steps_per_s"] = round(steps / train_s, 2)
        result[f"{algo}_curve"] = curve
    result["generate_s"] = round(gen_s, 1)
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    return result
