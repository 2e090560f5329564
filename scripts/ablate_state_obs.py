"""Perception ablation of the demo (issue #6): the same recipe with privileged object state.

Replaces the 48x48 camera with the sim's ``object_state`` (cube xyz + target pad xy) and keeps
the rest of `lps demo`'s recipe (`DEMO_TRAINING`, overridable with ``--set key=value``): one
LPS run whose MeanFlow prior is also the MF-BC baseline, both exported to ONNX and run through
the deploy path's safety filter and chunk executor on the same evaluation seeds, with outcome
classes. It tells whether LPS can steer on the task once perception is solved. The session-5
runs in docs/benchmarks.md, e.g.:

    .venv/bin/python scripts/ablate_state_obs.py --out runs/x --episodes 300 --joint-vel \
        --failure-rate 0 --mistake-rate 0.5 --steps 16000 --batch-size 128 \
        --set prior_warmup_steps=8000 agent.actor_bc_weight=50
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import yaml

from lps_robot.configs import make_config
from lps_robot.demo import DEMO_TRAINING
from lps_robot.export import export
from lps_robot.runtime.executor import ChunkExecutor
from lps_robot.runtime.policy import OnnxPolicy
from lps_robot.runtime.safety import SafetyFilter
from lps_robot.sim.env import SimArmEnv, sim_state_spec
from lps_robot.sim.evaluate import classify
from lps_robot.sim.generate import generate
from lps_robot.spec import Spec
from lps_robot.train import train_from_dataset


def evaluate(path: Path, spec: Spec, episodes: int, seed: int, max_steps: int = 200) -> dict:
    env = SimArmEnv(spec, render=False, max_steps=max_steps)
    policy = OnnxPolicy(path, spec, threads=1)
    p = policy.spec.policy
    successes, lengths, outcomes = [], [], []
    for ep in range(episodes):
        obs = env.reset(seed=seed + ep)
        safety = SafetyFilter(spec.robot)
        executor = ChunkExecutor(p.chunk_length, p.execute_steps, "open_loop", 0.1)
        success, max_z = False, 0.0
        for t in range(max_steps):
            pos = obs["joint_pos"].astype(np.float64)
            if executor.needs_query():
                chunk = policy({k: obs[k] for k in spec.obs.proprio_keys})
                if policy.spec.action.type == "joint_delta":
                    chunk = chunk + pos[None, :]
                executor.push(chunk)
            cmd, _ = safety(executor.next_action(), pos)
            obs, _, success, truncated, _ = env.step(cmd)
            max_z = max(max_z, float(env.cube_pos()[2]))
            length = t + 1
            if success or truncated:
                break
        successes.append(success)
        lengths.append(length)
        outcomes.append(classify(success, max_z, env))
    return {
        "success": float(np.mean(successes)),
        "success_stderr": float(np.std(successes) / np.sqrt(episodes)),
        "mean_length": float(np.mean(lengths)),
        "outcomes": {k: outcomes.count(k) for k in set(outcomes)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/ablate_state", help="run directory")
    ap.add_argument("--seed", type=int, default=0, help="seed for data, training and eval")
    ap.add_argument("--episodes", type=int, default=150, help="teleop episodes")
    ap.add_argument("--steps", type=int, default=12000, help="LPS training steps")
    ap.add_argument("--eval-episodes", type=int, default=50, help="episodes per policy")
    ap.add_argument("--batch-size", type=int, default=64, help="training batch size")
    ap.add_argument("--eval-every", type=int, default=0, help="evaluate both every N steps")
    ap.add_argument("--joint-vel", action="store_true", help="joint velocities in the obs")
    ap.add_argument("--failure-rate", type=float, default=0.3, help="injected teleop failures")
    ap.add_argument("--mistake-rate", type=float, default=0.0, help="hasty-operator mistakes")
    ap.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="training overrides (YAML)"
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = Path(args.out)
    spec = sim_state_spec()
    if args.joint_vel:  # joint velocities make the PD-tracked arm's state Markov
        obs = dataclasses.replace(
            spec.obs,
            proprio_keys=("joint_pos", "joint_vel", "object_state"),
            proprio_dims=(6, 6, 5),
        )
        spec = spec.replace(obs=obs)
    data = generate(
        out / "data",
        args.episodes,
        seed=args.seed + 1,
        spec=spec,
        progress=False,
        failure_rate=args.failure_rate,
        mistake_rate=args.mistake_rate,
    )
    cfg = make_config(
        overrides={
            **{k: v for k, v in DEMO_TRAINING.items() if k != "agent.image_channels"},
            "dataset": str(out / "data"),
            "out_dir": str(out / "lps"),
            "steps": args.steps,
            "batch_size": args.batch_size,
            "eval_every": args.eval_every,
            "seed": args.seed,
            "progress": False,
            **{k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.set)},
        }
    )
    curve: list[dict] = []

    def evaluate_both(agent, step: int) -> dict[str, float]:
        row: dict = {"step": step}
        for algo in ("lps", "bc"):
            path = out / "policies" / f"{algo}_{step}.onnx"
            export(agent.eval(), path, algo=algo)
            row[algo] = evaluate(path, spec, args.eval_episodes, seed=20_000 + args.seed)
        agent.train()
        curve.append(row)
        print(json.dumps(row), flush=True)
        return {algo: row[algo]["success"] for algo in ("lps", "bc")}

    train_from_dataset(cfg, evaluate_both)
    results = {
        "data_success": data["success_rate"],
        "steps": args.steps,
        "batch_size": args.batch_size,
        **{algo: curve[-1][algo] for algo in ("lps", "bc")},
        "curve": curve,
    }
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
