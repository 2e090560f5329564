"""`lps bench ogbench`: LPS beside MF-BC on a state-based OGBench single task.

The protocol of the fidelity issue: one dataset generated with OGBench's oracles (data seed
0), then for each training seed LPS and MF-BC trained for ``steps`` with an evaluation of
``eval_episodes`` episodes every ``eval_every`` steps (the last one at ``steps``), the same
evaluation seeds for both algorithms. Observations are mean/std-normalised for both
algorithms (inside the agent); the reference feeds them raw, but here that was measured to
slow LPS down badly (seed 0, 12k steps: 0.26 raw vs 0.82 normalised; docs/benchmarks.md).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from lps_robot.bench import ogbench_adapter as og
from lps_robot.configs import make_config
from lps_robot.spec import NormStats
from lps_robot.train import train

EVAL_SEED = 10_000  # evaluation episodes use env seeds EVAL_SEED + i for every run


def dataset_path(task: str, out_dir: str, data_episodes: int, data_seed: int) -> Path:
    _, name = og.split_name(task)
    return Path(out_dir) / "data" / f"{name}-{data_episodes}ep-seed{data_seed}.npz"


def run_seed(
    task: str,
    steps: int,
    path: Path,
    seed: int,
    eval_episodes: int,
    eval_every: int,
    out_dir: str,
    overrides: dict | None = None,
    progress: bool = True,
    normalize_obs: bool = True,
) -> dict:
    """Both algorithms on one training seed: curves of (step, success)."""
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
    if normalize_obs:  # the reference feeds OGBench observations raw (normalize_obs=False)
        spec = spec.replace(stats=NormStats(*sampler.stats))
    every = eval_every or steps
    out: dict = {"seed": seed}
    for algo in ("lps", "bc"):
        curve: list[list] = []

        def hook(agent, step, algo=algo, curve=curve):
            if step % every and step != steps:
                return {}
            r = og.evaluate(agent, env, eval_episodes, EVAL_SEED, policy=algo)
            curve.append([step, r["success"]])
            return {"success": r["success"]}

        cfg = dataclasses.replace(
            base, algo=algo, out_dir=f"{out_dir}/seed{seed}/{algo}", eval_every=every
        )
        t1 = time.perf_counter()
        train(cfg, spec, sampler, hook)
        out[f"{algo}_curve"] = curve
        out[f"{algo}_wall_s"] = round(time.perf_counter() - t1, 1)
    return out


def summarize(runs: list[dict], window: tuple[int, ...]) -> dict:
    """Means of each algorithm's evaluations at the ``window`` steps, per seed and overall."""
    per_seed = []
    for r in runs:
        row = {"seed": r["seed"]}
        for algo in ("lps", "bc"):
            vals = [s for step, s in r[f"{algo}_curve"] if step in window]
            row[f"{algo}_mean"] = round(float(np.mean(vals)), 3) if vals else None
        per_seed.append(row)
    means = {
        f"{algo}_mean": round(float(np.mean([p[f"{algo}_mean"] for p in per_seed])), 3)
        for algo in ("lps", "bc")
        if all(p[f"{algo}_mean"] is not None for p in per_seed)
    }
    return {"window": list(window), "per_seed": per_seed, **means}


def run(
    task: str,
    steps: int,
    seeds: tuple[int, ...] = (0,),
    dataset: str | None = None,
    data_episodes: int = 100,
    data_seed: int = 0,
    eval_episodes: int = 50,
    eval_every: int = 0,
    out_dir: str = "runs/ogbench",
    overrides: dict | None = None,
    progress: bool = True,
    normalize_obs: bool = True,
    parallel: bool = False,
) -> dict:
    """The protocol for every seed; ``parallel`` runs the seeds side by side, one process
    with one torch thread each (how the published figures were measured on 2 cores)."""
    t0 = time.perf_counter()
    data_env, _ = og.split_name(task)
    path = Path(dataset) if dataset else dataset_path(task, out_dir, data_episodes, data_seed)
    generated = False
    if not path.exists():
        if dataset:
            raise FileNotFoundError(f"dataset: {path} does not exist")
        og.generate(data_env, path, data_episodes, seed=data_seed, progress=progress)
        generated = True
    args = [
        (task, steps, path, seed, eval_episodes, eval_every, out_dir, overrides, progress)
        + (normalize_obs,)
        for seed in seeds
    ]
    if parallel and len(seeds) > 1:  # one single-threaded process per seed, side by side
        from lps_robot.sim.workers import worker_pool

        args = [a[:7] + ({**(overrides or {}), "threads": 1}, False, a[9]) for a in args]
        with worker_pool(len(seeds)) as pool:
            runs = list(pool.map(run_seed, *zip(*args, strict=True)))
    else:
        runs = [run_seed(*a) for a in args]
    every = eval_every or steps
    window = tuple(s for s in range(every, steps + 1, every) if s >= 0.6 * steps) or (steps,)
    return {
        "env": task,
        "dataset": str(path),
        "dataset_generated": generated,
        "steps": steps,
        "eval_episodes": eval_episodes,
        "eval_every": every,
        "normalize_obs": normalize_obs,
        "runs": runs,
        "summary": summarize(runs, window),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
