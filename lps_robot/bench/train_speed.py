"""Training throughput: LPS update steps/s at batch 256, state and image presets, in fp32
and with bf16 autocast.

Batches are synthetic tensors of the right shapes (the update cost does not depend on values);
peak memory is the process's max RSS. The reference state preset is also timed beside a busy
loop in another process (a CPU shared with other work), with the default thread settings.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import subprocess
import sys
import time

import torch

from lps_robot.agent import LPSAgent, precision_context, to_torch
from lps_robot.configs import make_config
from lps_robot.spec import Spec


def bench_spec(with_image: bool, size: int = 64) -> Spec:
    from importlib import resources

    spec = Spec.load(str(resources.files("lps_robot") / "specs" / "sim_arm.yaml"))
    spec = spec.replace(obs=dataclasses.replace(spec.obs, image_size=(size, size)))  # 1 camera
    if not with_image:
        spec = spec.replace(
            cameras=(), obs=spec.obs.__class__((), (64, 64), None, ("joint_pos",), (6,))
        )
    return spec


def _batch(spec: Spec, n: int) -> dict:
    h, a = spec.policy.chunk_length, spec.action.dim

    def obs() -> dict:
        o = {
            k: torch.randn(n, d)
            for k, d in zip(spec.obs.proprio_keys, spec.obs.proprio_dims, strict=True)
        }
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
    with_image: bool,
    preset: str = "cpu",
    batch_size: int = 256,
    steps: int = 30,
    size: int = 64,
    device: str = "cpu",
    precision: str = "fp32",
    compiled: bool = False,
) -> float:
    spec = bench_spec(with_image, size)
    agent = LPSAgent(spec, make_config(overrides={"preset": preset}).agent).to(device)
    batch = to_torch(_batch(spec, batch_size), device)
    gen = torch.Generator(device=device).manual_seed(0)
    update = torch.compile(agent.update) if compiled else agent.update
    with precision_context(precision, device):
        for _ in range(3):  # compiles, when compiled
            update(batch, gen)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            update(batch, gen)
        _sync(device)
    return steps / (time.perf_counter() - t0)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run(steps: int = 30, busy: bool = True, compiled: bool = True) -> dict:
    """``compiled``: also the torch.compile'd update (state reference, image cpu; on a GPU the
    robot preset too); each costs its compile time (about a minute here) first."""
    out = {
        "threads": torch.get_num_threads(),
        "batch_size": 256,
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }
    out["state_cpu_steps_per_s"] = round(measure(False, "cpu", steps=steps), 2)
    out["state_reference_steps_per_s"] = round(measure(False, "reference", steps=steps), 2)
    bf16 = measure(False, "reference", steps=steps, precision="bf16")
    out["state_reference_bf16_steps_per_s"] = round(bf16, 2)
    if compiled:
        rate = measure(False, "reference", steps=steps, compiled=True)
        out["state_reference_compiled_steps_per_s"] = round(rate, 2)
    if busy:  # a second CPU-bound process beside training
        loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            rate = measure(False, "reference", steps=max(steps // 3, 5))
        finally:
            loop.kill()
            loop.wait()
        out["state_reference_beside_busy_loop_steps_per_s"] = round(rate, 2)
    out["image_cpu_steps_per_s"] = round(measure(True, "cpu", steps=max(steps // 3, 5)), 2)
    bf16 = measure(True, "cpu", steps=max(steps // 3, 5), precision="bf16")
    out["image_cpu_bf16_steps_per_s"] = round(bf16, 2)
    if compiled:
        rate = measure(True, "cpu", steps=max(steps // 3, 5), compiled=True)
        out["image_cpu_compiled_steps_per_s"] = round(rate, 2)
    out["robot_128px_steps_per_s"] = round(measure(True, "robot", steps=3, size=128), 3)
    if torch.cuda.is_available():
        for name, args in {
            "gpu_state_reference": (False, "reference", 256, 200, 64),
            "gpu_robot_128px": (True, "robot", 256, 50, 128),
            "gpu_robot_224px": (True, "robot", 256, 30, 224),
        }.items():
            out[f"{name}_steps_per_s"] = round(measure(*args, device="cuda"), 2)
            if compiled:
                rate = measure(*args, device="cuda", compiled=True)
                out[f"{name}_compiled_steps_per_s"] = round(rate, 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out
