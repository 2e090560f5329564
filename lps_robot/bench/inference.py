"""Single-sample inference latency, 1 CPU thread: ONNX (onnxruntime) vs torch eager.

Presets: 'state' (6 joint positions, no camera) and 'image' (one 64x64 camera + proprio),
both with the CPU-preset network sizes, randomly initialised (latency does not depend on
the weights' values). Inputs are fed exactly as the node feeds them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lps_robot.agent import LPSAgent
from lps_robot.bench.train_speed import bench_spec
from lps_robot.configs import make_config
from lps_robot.export import dummy_inputs, export
from lps_robot.runtime.policy import OnnxPolicy


def _percentiles(ms: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(ms, 50)), 4), round(float(np.percentile(ms, 99)), 4)


def measure(with_image: bool, iters: int, tmp: Path) -> dict:
    spec = bench_spec(with_image)
    torch.manual_seed(0)
    agent = LPSAgent(spec, make_config(overrides={"preset": "cpu"}).agent).eval()
    path = tmp / f"{'image' if with_image else 'state'}.onnx"
    export(agent, path)
    policy = OnnxPolicy(path, spec, threads=1, warmup_iters=50)
    feed = {k: v[0] for k, v in dummy_inputs(agent, False).items()}
    onnx_ms = []
    for _ in range(iters):
        t0 = time.perf_counter()
        policy(feed)
        onnx_ms.append((time.perf_counter() - t0) * 1e3)
    obs = {k: torch.from_numpy(v[None]) for k, v in feed.items()}
    torch_ms = []
    with torch.inference_mode():
        for i in range(max(iters // 4, 50) + 20):
            t0 = time.perf_counter()
            agent.act(obs)
            if i >= 20:
                torch_ms.append((time.perf_counter() - t0) * 1e3)
    return {"onnx": _percentiles(onnx_ms), "torch": _percentiles(torch_ms)}


def run(iters: int = 2000) -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            state = measure(False, iters, Path(tmp))
            image = measure(True, iters, Path(tmp))
    finally:
        torch.set_num_threads(threads)
    return {
        "threads": 1,
        "iters": iters,
        "state_p50_ms": state["onnx"][0],
        "state_p99_ms": state["onnx"][1],
        "image_p50_ms": image["onnx"][0],
        "image_p99_ms": image["onnx"][1],
        "torch_state_p50_ms": state["torch"][0],
        "torch_state_p99_ms": state["torch"][1],
        "torch_image_p50_ms": image["torch"][0],
        "torch_image_p99_ms": image["torch"][1],
    }
