"""Closed-loop evaluation of an exported policy on the sim task, without ROS.

Runs the deploy path exactly as the controller node does (`OnnxPolicy`, `Preprocessor`,
`ControlLoop` with its chunk executor and safety filter) but steps the simulator
synchronously, so many episodes take seconds instead of real time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

import numpy as np

from lps_robot.preprocess import Preprocessor
from lps_robot.runtime.controller import ControlLoop, Sensors
from lps_robot.runtime.manifest import read_manifest
from lps_robot.runtime.policy import OnnxPolicy
from lps_robot.sim.env import CUBE_HALF, SimArmEnv, sim_spec
from lps_robot.spec import Spec

LIFTED = CUBE_HALF + 0.02  # cube centre height that means it was picked up
OUTCOMES = ("success", "never_lifted", "dropped", "placed_off_pad", "holding", "other")


def classify(success: bool, max_cube_z: float, env: SimArmEnv) -> str:
    """What happened in an episode, from the cube's trajectory and final pose."""
    if success:
        return "success"
    if max_cube_z < LIFTED:
        return "never_lifted"
    cube = env.cube_pos()
    if cube[2] >= LIFTED:
        return "holding"
    near = np.linalg.norm(cube[:2] - env.task.target_xy) < 0.1
    return "placed_off_pad" if near else "dropped"


class EpisodeWatch(Protocol):
    """Looks on while `evaluate_policy` runs: each tick before its command is sent, and each
    episode's end (a probe of where policies grasp and release uses it)."""

    def tick(self, env: SimArmEnv, command: np.ndarray) -> None: ...

    def done(self, outcome: str) -> None: ...


def _robot_spec(policy: str | Path | OnnxPolicy) -> Spec:
    """The spec the policy was exported with (its simulated robot, what it observes)."""
    if isinstance(policy, (str, Path)):
        try:
            return Spec.from_dict(read_manifest(policy)["spec"])
        except Exception:  # noqa: BLE001 (OnnxPolicy then refuses the file with its reason)
            return sim_spec()
    return policy.spec


def evaluate_policy(
    policy_path: str | Path | OnnxPolicy,
    episodes: int = 50,
    seed: int = 10_000,
    max_steps: int = 200,
    execution: str = "open_loop",
    video: str | Path | None = None,
    inference: str = "tick",
    watch: EpisodeWatch | None = None,
) -> dict:
    """Success rate through the deploy path; ``video``: the first episode's camera frames
    (what the policy saw, before preprocessing) as an MP4. ``policy_path`` may also be a
    loaded policy (anything with OnnxPolicy's call, ``spec`` and ``manifest``).
    ``inference="ahead"``: chunks computed off the tick as the node does (the first of an
    episode while the arm holds for a tick; later ones started at tick q are taken at tick q +
    lead, whatever the wall clock says: stepping stays exact). ``watch`` looks on."""
    env = SimArmEnv(_robot_spec(policy_path), render=True, max_steps=max_steps)
    spec = env.spec
    policy = (
        OnnxPolicy(policy_path, spec, threads=1)
        if isinstance(policy_path, (str, Path))
        else policy_path
    )
    pre = Preprocessor(spec)
    loop = ControlLoop(
        spec, execution=execution, max_obs_age_s=1.0, inference=inference, wait_for_chunks=True
    )
    loop.offer(policy)
    dt = 1.0 / spec.robot.control_rate_hz
    successes, lengths, outcomes, infer_ms, holds = [], [], [], [], 0
    frames: list[np.ndarray] = []
    t0 = time.perf_counter()
    for ep in range(episodes):
        obs = env.reset(seed=seed + ep)
        loop.reset()
        success, max_z = False, 0.0
        for t in range(max_steps):
            now = t * dt
            if video and ep == 0:
                frames.append(obs[spec.obs.image_keys[0]])
            images = {k: (pre.images[k](obs[k]), now) for k in spec.obs.image_keys}
            sensors = Sensors(
                joint_pos=obs["joint_pos"].astype(np.float64),
                joint_vel=obs["joint_vel"].astype(np.float64) if "joint_vel" in obs else None,
                joint_time=now,
                images=images,
            )
            result = loop.tick(sensors, now)
            if result.inferred:
                infer_ms.append(result.inference_ms)
            holds += result.status not in ("ok", "clamped")
            command = result.command if result.command is not None else obs["joint_pos"]
            if watch is not None:
                watch.tick(env, command)
            obs, _, success, truncated, _ = env.step(command)
            max_z = max(max_z, float(env.cube_pos()[2]))
            if success or truncated:
                break
        successes.append(success)
        lengths.append(t + 1)
        outcomes.append(classify(success, max_z, env))
        if watch is not None:
            watch.done(outcomes[-1])
    env.close()
    loop.close()
    if video and frames:
        from lps_robot.data.video import write_video

        write_video(video, frames, spec.robot.control_rate_hz)
    return {
        "policy": str(getattr(policy, "path", policy_path)),
        "algo": policy.manifest["algo"],
        "episodes": episodes,
        "success": float(np.mean(successes)),
        "success_stderr": float(np.std(successes) / np.sqrt(max(episodes, 1))),
        "mean_length": float(np.mean(lengths)),
        "outcomes": {k: outcomes.count(k) for k in OUTCOMES if k in outcomes},
        "inference_p50_ms": float(np.percentile(infer_ms, 50)) if infer_ms else None,
        "holds": int(holds),
        "inference": inference,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
