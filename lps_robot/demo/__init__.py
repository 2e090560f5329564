"""`make demo` / `lps demo`: the main job end to end on the simulated arm.

1. record scripted-teleop episodes with choices (careful and hasty ways to act from the same
   states): some through the real ROS 2 path (sim node + recorder node), the rest with the
   same episode writer without ROS, for speed;
2. train LPS on camera + proprio (`DEMO_TRAINING`); the MF-BC baseline is its own prior;
3. export both to ONNX with manifests and the parity check;
4. evaluate in closed loop through ROS 2 (sim node + controller node at the control rate,
   hot-swapping LPS -> BC -> LPS -> BC), and with the same deploy path stepped synchronously
   for the larger success-rate sample;
5. check the critic (best of N prior samples by Q vs a random one, distance to the data);
6. print a table, write a report (PNG + JSON) and print the JSON figures as the last line.
"""

from __future__ import annotations

import time
from pathlib import Path

from lps_robot.demo import steps
from lps_robot.demo.config import DEMO_TRAINING, DemoConfig, demo_train_config
from lps_robot.demo.report import log, print_summary, write_report

__all__ = ["DEMO_TRAINING", "DemoConfig", "demo_train_config", "run"]


def run(cfg: DemoConfig) -> dict:
    """Record, train, export, evaluate, diagnose, report; the figures."""
    t0 = time.perf_counter()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ros_rec, info = steps.record(cfg, out / "data")
    trained = steps.train(cfg, out / "data", out)
    policies, parity = steps.export_policies(trained, out)
    ros, stepped = steps.evaluate(cfg, policies, out)
    diagnostics = steps.diagnose(cfg, trained)
    figures = steps.figures(
        cfg, info, ros_rec, ros, stepped, diagnostics=diagnostics, parity_max_abs_diff=parity,
        wall_s=round(time.perf_counter() - t0, 1),
    )  # fmt: skip
    log(f"5/5 report: {write_report(out, trained.curves, figures)}")
    print_summary(figures, cfg.eval_episodes)
    return figures
