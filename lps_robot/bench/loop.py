"""Control loop over real DDS: fake robot + controller node at 50 Hz, hot-swaps during the run.

The controller runs the image preset (one 64x64 camera from a 128x128 stream + 6 joints);
the probe swaps between two exported policies ``swaps`` times, evenly spread, and tries one
bad model (it must be rejected while the loop keeps running). Figures come from the node's
own statistics: period jitter |period - 1/rate|, tick-to-publish latency, observation age.
"""

from __future__ import annotations

import dataclasses
import json
import random
import tempfile
import time
from pathlib import Path

import torch

from lps_robot.agent import LPSAgent
from lps_robot.bench.train_speed import bench_spec
from lps_robot.configs import make_config
from lps_robot.export import export
from lps_robot.ros.procs import Probe, start_robot_and_policy, stop


def run(
    seconds: float = 60.0,
    rate_hz: float = 50.0,
    swaps: int = 10,
    gil_switch_ms: float = 0.5,
) -> dict:
    from std_srvs.srv import SetBool

    base = bench_spec(True)
    spec = base.replace(robot=dataclasses.replace(base.robot, control_rate_hz=rate_hz))
    domain = random.randint(100, 200)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        spec.save(tmp / "robot.yaml")
        torch.manual_seed(0)
        for name in ("a", "b"):
            agent = LPSAgent(spec, make_config(overrides={"preset": "cpu"}).agent)
            export(agent.eval(), tmp / f"{name}.onnx")
        (tmp / "bad.onnx").write_bytes(b"not a model")
        robot, node = start_robot_and_policy(
            tmp,
            domain,
            {
                "policy_path": str(tmp / "a.onnx"),
                "stats_path": str(tmp / "stats.json"),
                "gil_switch_interval_ms": gil_switch_ms,
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
                    refused_bad = not probe.set_policy(str(tmp / "bad.onnx")).successful
                    tried_bad = True
                probe.spin(0.05)
            probe.spin(1.5)
            after = dict(probe.diag)
        finally:
            probe.close()
            stop(node)
            stop(robot)
        stats = json.loads((tmp / "stats.json").read_text())
    holds = after["holds"] - before.get("holds", 0)
    return {
        "seconds": seconds,
        "gil_switch_ms": gil_switch_ms,
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
