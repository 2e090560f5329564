"""Control loop over real DDS: fake robot + controller node at 50 Hz, hot-swaps during the run.

The controller runs the image preset (one 64x64 camera from a 128x128 stream + 6 joints), or
with ``preset="robot"`` the `robot` preset on two 224x224 cameras (its inference takes about
a period on this CPU: run it with ``inference="ahead"``);
the probe swaps between two exported policies ``swaps`` times, evenly spread, and tries one
bad model (it must be rejected while the loop keeps running). Figures come from the node's
own statistics: period jitter |period - 1/rate|, tick-to-publish latency, observation age.

``pad_mb`` makes both policies that big with an unused initializer (the manifest's hash is
recomputed), so a swap parses, hashes and loads as much as a large policy (the `robot` preset
with two 224 px cameras exports 216 MB) while inference stays as cheap as the small one's:
the figure isolates what a swap costs the loop from what a slow model costs it.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from lps_robot.agent import LPSAgent
from lps_robot.bench.train_speed import bench_spec
from lps_robot.configs import make_config
from lps_robot.export import export
from lps_robot.ros.procs import Probe, free_domain, start_robot_and_policy, stop


def pad_policy(path: Path, n_bytes: int) -> None:
    """Grow an exported policy by an unused ``n_bytes`` initializer, keeping it valid."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    from lps_robot.runtime.manifest import MANIFEST_KEY, graph_digest

    model = onnx.load(str(path))
    pad = np.ones(n_bytes // 4, np.float32)
    model.graph.initializer.append(numpy_helper.from_array(pad, "lps_bench_padding"))
    for entry in model.metadata_props:
        if entry.key == MANIFEST_KEY:
            manifest = json.loads(entry.value)
            manifest["content_hash"] = graph_digest(model.graph)
            entry.value = json.dumps(manifest)
    onnx.save(model, str(path))


def robot_spec(size: int = 224):
    """The sim arm with a second camera, both ``size`` px, observed at full size."""
    base = bench_spec(True)
    front = dataclasses.replace(base.cameras[0], width=size, height=size)
    wrist = dataclasses.replace(front, name="wrist", topic="/wrist_camera/color/image_raw")
    obs = dataclasses.replace(base.obs, image_keys=("front", "wrist"), image_size=(size, size))
    return base.replace(cameras=(front, wrist), obs=obs)


def run(
    seconds: float = 60.0,
    rate_hz: float = 50.0,
    swaps: int = 10,
    gil_switch_ms: float = 0.5,
    pad_mb: float = 0.0,
    thread_priority: int = 0,
    preset: str = "cpu",
    inference: str = "tick",
    threads: int = 1,
    warmup_fraction: float = 0.5,
) -> dict:
    from std_srvs.srv import SetBool

    if preset not in ("cpu", "robot"):
        raise ValueError(f"preset: expected cpu or robot, got {preset!r}")
    base = robot_spec() if preset == "robot" else bench_spec(True)
    spec = base.replace(robot=dataclasses.replace(base.robot, control_rate_hz=rate_hz))
    domain = free_domain()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        spec.save(tmp / "robot.yaml")
        torch.manual_seed(0)
        for name in ("a", "b"):
            agent = LPSAgent(spec, make_config(overrides={"preset": preset}).agent)
            export(agent.eval(), tmp / f"{name}.onnx")
            if pad_mb > 0:
                pad_policy(tmp / f"{name}.onnx", int(pad_mb * 2**20))
        model_mb = (tmp / "a.onnx").stat().st_size / 2**20
        (tmp / "bad.onnx").write_bytes(b"not a model")
        robot, node = start_robot_and_policy(
            tmp,
            domain,
            {
                "policy_path": str(tmp / "a.onnx"),
                "stats_path": str(tmp / "stats.json"),
                "gil_switch_interval_ms": gil_switch_ms,
                "thread_priority": thread_priority,
                "load_timeout_s": 60.0,
                "inference": inference,
                "threads": threads,
                "warmup_latency_fraction": warmup_fraction,
            },
        )
        probe = Probe(domain)
        try:
            probe.wait_for(lambda: bool(probe.diag.get("policy_hash")), 60, "policy loaded")
            probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=True))
            probe.wait_for(
                lambda: probe.diag.get("last_status") in ("ok", "clamped"), 30, "running"
            )
            # measure from here: restart the node's statistics window by reading its counters
            before = dict(probe.diag)
            t_start = time.monotonic()
            swap_times = [t_start + (i + 0.5) * seconds / (swaps + 1) for i in range(swaps)]
            bad_at = t_start + seconds * 0.5 / (swaps + 1)
            done_swaps, failed_swaps, tried_bad, refused_bad = 0, 0, False, False
            while time.monotonic() - t_start < seconds:
                now = time.monotonic()
                if done_swaps < swaps and now >= swap_times[done_swaps]:
                    target = tmp / ("b.onnx" if done_swaps % 2 == 0 else "a.onnx")
                    failed_swaps += not probe.set_policy(str(target)).successful
                    done_swaps += 1  # each scheduled swap is attempted once
                elif not tried_bad and now >= bad_at:
                    tried_bad = True
                    rejected = probe.diag.get("rejected_swaps", 0)
                    if probe.set_policy(str(tmp / "bad.onnx")).successful:  # loads first
                        probe.wait_for(
                            lambda r=rejected: probe.diag.get("rejected_swaps", 0) > r, 30, "bad"
                        )
                    refused_bad = True
                probe.spin(0.05)
            probe.wait_for(lambda: not probe.diag.get("loading"), 60, "the last swap")
            probe.spin(1.5)
            after = dict(probe.diag)
        finally:
            probe.close()
            stop(node)
            stop(robot)
        stats = json.loads((tmp / "stats.json").read_text())
    holds = after["holds"] - before.get("holds", 0)
    return {
        "preset": preset,
        "inference": inference,
        "inference_lead_ticks": after.get("inference_lead_ticks"),
        "inference_stalls": after.get("inference_stalls", 0) - before.get("inference_stalls", 0),
        "seconds": seconds,
        "gil_switch_ms": gil_switch_ms,
        "threads": threads,
        "warmup_latency_fraction": warmup_fraction,
        "thread_priority": thread_priority,
        "scheduling": stats.get("loop_scheduling"),
        "model_mb": round(model_mb, 1),
        "target_rate_hz": rate_hz,
        "rate_hz": stats["rate_hz"],
        "jitter_p99_ms": stats["jitter_p99_ms"],
        "latency_p50_ms": stats["latency_p50_ms"],
        "latency_p99_ms": stats["latency_p99_ms"],
        "inference_p99_ms": stats["inference_p99_ms"],
        "obs_age_p99_ms": stats["obs_age_p99_ms"],
        "missed_ticks": stats["missed_ticks"] - before.get("missed_ticks", 0),
        "missed_ticks_total": stats["missed_ticks"],
        "ticks": stats["ticks"],
        "swaps": stats["swaps"],
        "rejected_swaps": stats["rejected_swaps"],
        "bad_model_refused": refused_bad,
        "good_swaps_refused": failed_swaps,
        "holds": holds,
        "holds_per_swap": round(holds / max(1, done_swaps + tried_bad), 3),
        "rollbacks": stats["rollbacks"],
    }
