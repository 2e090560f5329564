"""Training throughput: LPS update steps/s at batch 256 on this CPU, state and image presets.

Batches are synthetic tensors of the right shapes (the update cost does not depend on values);
peak memory is the process's max RSS.
"""

from __future__ import annotations

import dataclasses
import resource
import time

import torch

from lps_robot.agent import LPSAgent
from lps_robot.configs import make_config
from lps_robot.spec import Spec


def bench_spec(with_image: bool) -> Spec:
    from importlib import resources

    spec = Spec.load(str(resources.files("lps_robot") / "specs" / "sim_arm.yaml"))
    spec = spec.replace(obs=dataclasses.replace(spec.obs, image_size=(64, 64)))  # one 64x64 camera
    if not with_image:
        spec = spec.replace(
            cameras=(), obs=spec.obs.__class__((), (64, 64), None, ("joint_pos",), (6,))
        )
    return spec


def _batch(spec: Spec, n: int) -> dict:
    h, a = spec.policy.chunk_length, spec.action.dim

    def obs() -> dict:
        o = {"joint_pos": torch.randn(n, 6)}
        for k in spec.obs.image_keys:
            o[k] = torch.randint(0, 256, (n, *spec.obs.image_size, 3), dtype=torch.uint8)
        return o

    return {
        "obs": obs(),
        "next_obs": obs(),
        "actions": torch.rand(n, h, a) * 2 - 1,
        "rewards": -torch.ones(n, h),
        "masks": torch.ones(n),
    }


def measure(
    with_image: bool, preset: str = "cpu", batch_size: int = 256, steps: int = 30
) -> float:
    spec = bench_spec(with_image)
    agent = LPSAgent(spec, make_config(overrides={"preset": preset}).agent)
    batch = _batch(spec, batch_size)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        agent.update(batch, gen)
    t0 = time.perf_counter()
    for _ in range(steps):
        agent.update(batch, gen)
    return steps / (time.perf_counter() - t0)


def run(steps: int = 30) -> dict:
    out = {"threads": torch.get_num_threads(), "batch_size": 256}
    out["state_cpu_steps_per_s"] = round(measure(False, "cpu", steps=steps), 2)
    out["state_reference_steps_per_s"] = round(measure(False, "reference", steps=steps), 2)
    out["image_cpu_steps_per_s"] = round(measure(True, "cpu", steps=max(steps // 3, 5)), 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out
