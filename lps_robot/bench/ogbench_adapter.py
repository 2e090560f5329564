"""OGBench (state-based manipulation) for LPS: dataset generation, loading, sampling, eval.

OGBench's datasets are downloaded at run time, which this machine cannot do, so play-style
datasets are generated with OGBench's own scripted plan oracles, following its official
generation procedure (noisy plan oracles, a new target whenever the oracle finishes), and
saved in the official npz layout (``observations, actions, terminals, qpos, qvel[,
button_states]`` + a ``-val`` file). `load` hands any official-layout file (generated here or
obtained by a user) to ``ogbench.make_env_and_datasets``, which relabels single-task rewards
and masks exactly as the benchmark does.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from lps_robot.spec import ActionSpec, ObsSpec, PolicySpec, RobotSpec, Spec

SPARSE_ENVS = ("scene", "puzzle")  # the paper's sparse-reward tasks


def split_name(task_name: str) -> tuple[str, str]:
    """'cube-single-play-singletask-task1-v0' -> ('cube-single-v0', 'cube-single-play-v0')."""
    parts = task_name.split("-")
    if "singletask" not in parts:
        raise ValueError(
            f"env: expected a '<env>-<type>-singletask-task<N>-v0' name, got {task_name!r}"
        )
    pos = parts.index("singletask")
    data_env = "-".join(parts[: pos - 1] + parts[-1:])
    dataset = "-".join(parts[:pos] + parts[-1:])
    return data_env, dataset


def _oracle(env: Any, env_name: str, noise: float, smoothing: float) -> Any:
    if env_name.startswith("cube"):
        from ogbench.manipspace.oracles.plan.cube_plan import CubePlanOracle

        return CubePlanOracle(env=env, noise=noise, noise_smoothing=smoothing)
    if env_name.startswith("puzzle"):
        from ogbench.manipspace.oracles.plan.button_plan import ButtonPlanOracle

        return ButtonPlanOracle(
            env=env, noise=noise, noise_smoothing=smoothing, gripper_always_closed=True
        )
    raise ValueError(f"env: dataset generation supports cube-* and puzzle-*, got {env_name!r}")


def generate(
    data_env: str,
    out_path: str | Path,
    episodes: int,
    episode_steps: int = 1001,
    noise: float = 0.1,
    noise_smoothing: float = 0.5,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write ``out_path`` (train) and ``*-val.npz`` (episodes // 10, at least 1) play data."""
    import gymnasium
    import ogbench  # noqa: F401  (registers the environments)
    from tqdm import trange

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    env = gymnasium.make(
        data_env, terminate_at_goal=False, mode="data_collection", max_episode_steps=episode_steps
    )
    oracle = _oracle(env, data_env, noise, noise_smoothing)
    rng = np.random.default_rng(seed)
    n_val = max(1, episodes // 10)
    data: dict[str, list] = defaultdict(list)
    has_buttons = hasattr(env.unwrapped, "_cur_button_states")
    for ep in trange(episodes + n_val, desc=f"generate {data_env}", disable=not progress):
        ob, info = env.reset(seed=int(rng.integers(2**31)))
        np.random.seed(int(rng.integers(2**31)))  # noqa: NPY002  (the oracles draw from it)
        p_stack = 0.0 if "single" in data_env else float(rng.uniform(0.0, 0.25))
        oracle.reset(ob, info)
        done = False
        while not done:
            action = np.clip(np.asarray(oracle.select_action(ob, info)), -1, 1)
            next_ob, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            if oracle.done:
                if data_env.startswith("cube"):
                    agent_ob, agent_info = env.unwrapped.set_new_target(p_stack=p_stack)
                else:
                    agent_ob, agent_info = env.unwrapped.set_new_target()
                oracle.reset(agent_ob, agent_info)
            split = "train" if ep < episodes else "val"
            data[f"{split}/observations"].append(ob)
            data[f"{split}/actions"].append(action)
            data[f"{split}/terminals"].append(done)
            data[f"{split}/qpos"].append(info["prev_qpos"])
            data[f"{split}/qvel"].append(info["prev_qvel"])
            if has_buttons:
                data[f"{split}/button_states"].append(info["prev_button_states"])
            ob = next_ob
    env.close()
    dtypes = {
        "observations": np.float32,
        "actions": np.float32,
        "terminals": np.uint8,
        "qpos": np.float32,
        "qvel": np.float32,
        "button_states": np.float32,
    }
    for split, path in (
        ("train", out_path),
        ("val", out_path.with_name(out_path.stem + "-val.npz")),
    ):
        arrays = {
            k.split("/")[1]: np.asarray(v, dtypes[k.split("/")[1]])
            for k, v in data.items()
            if k.startswith(split)
        }
        np.savez_compressed(path, **arrays)
    return out_path


def load(task_name: str, dataset_path: str | Path) -> tuple[Any, dict[str, np.ndarray]]:
    """(single-task env, train dataset with rewards/masks) from an official-layout npz."""
    import ogbench

    env, train, _ = ogbench.make_env_and_datasets(task_name, dataset_path=str(dataset_path))
    return env, train


def ogbench_spec(obs_dim: int, action_dim: int, chunk_length: int = 5) -> Spec:
    """OGBench manipulation: UR5e, 5-D end-effector deltas in [-1, 1] at 20 Hz, state obs."""
    joints = tuple(f"ur5e_joint{i}" for i in range(6))
    lim = (-2 * math.pi,) * 6, (2 * math.pi,) * 6
    return Spec(
        robot=RobotSpec("ogbench_ur5e", joints, *lim, (math.pi,) * 6, 20.0),
        obs=ObsSpec((), (64, 64), None, ("state",), (obs_dim,)),
        action=ActionSpec("ee_delta", action_dim, (-1.0,) * action_dim, (1.0,) * action_dim),
        policy=PolicySpec(chunk_length, chunk_length),
    )


class ChunkSampler:
    """Chunks of h steps inside one trajectory of a flat OGBench dataset (terminals = ends)."""

    def __init__(self, dataset: dict[str, np.ndarray], h: int) -> None:
        self.obs = dataset["observations"].astype(np.float32)
        self.next_obs = dataset["next_observations"].astype(np.float32)
        self.actions = np.clip(dataset["actions"], -1 + 1e-5, 1 - 1e-5).astype(np.float32)
        # raw rewards; the sparse transform is TrainConfig.reward_transform, applied by train()
        self.rewards = dataset["rewards"].astype(np.float32)
        self.masks = dataset["masks"].astype(np.float32)
        self.h = h
        ends = np.nonzero(dataset["terminals"])[0]  # last index of each trajectory
        starts = np.concatenate([[0], ends[:-1] + 1])
        self.valid = np.concatenate(
            [np.arange(s, e - h + 2) for s, e in zip(starts, ends, strict=True) if e - s + 1 >= h]
        )
        mean = self.obs.mean(0)
        std = self.obs.std(0)
        std = np.where(std < 1e-3, 1.0, std)  # constant dims: never amplified
        self.stats = (tuple(mean.tolist()), tuple(std.tolist()))

    def __call__(self, n: int, rng: np.random.Generator) -> dict[str, Any]:
        t = rng.choice(self.valid, size=n)
        idx = t[:, None] + np.arange(self.h)[None]
        return {
            "obs": {"state": self.obs[t]},
            "next_obs": {"state": self.next_obs[idx[:, -1]]},
            "actions": self.actions[idx],
            "rewards": self.rewards[idx],
            "masks": self.masks[idx].min(axis=1),  # 0 once the task is solved inside the chunk
        }


def evaluate(
    agent: Any, env: Any, episodes: int = 50, seed: int = 0, policy: str = "lps"
) -> dict[str, float]:
    """Success rate over ``episodes`` single-task episodes; chunks run open loop."""
    import torch

    device = next(agent.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    successes, lengths = [], []
    t0 = time.perf_counter()
    for ep in range(episodes):
        ob, info = env.reset(seed=seed + ep)
        done, success, n = False, False, 0
        while not done:
            obs = {"state": torch.as_tensor(ob, dtype=torch.float32, device=device)[None]}
            chunk = agent.act(obs) if policy == "lps" else agent.act_bc(obs, gen)
            for a in chunk[0].cpu().numpy():
                ob, _, terminated, truncated, info = env.step(a)
                n += 1
                success = success or bool(info.get("success", False))
                done = terminated or truncated
                if done:
                    break
        successes.append(success)
        lengths.append(n)
    return {
        "success": float(np.mean(successes)),
        "episode_len": float(np.mean(lengths)),
        "eval_s": round(time.perf_counter() - t0, 1),
    }
