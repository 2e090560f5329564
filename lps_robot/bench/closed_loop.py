"""The demo's closed loop rerun on policies it exported, once per inference mode.

The same two policies (``run_dir/policies/lps.onnx`` and ``bc.onnx``) with the controller's
``inference`` set to each mode in turn: over ROS 2 (the same seeded starts and hot-swaps)
and stepped (``stepped_episodes`` per policy, the same seeds in both modes, so each episode
is paired): what computing chunks off the tick changes in success, apart from training
noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lps_robot.runtime.ahead import INFERENCE_MODES


def run(
    run_dir: str | Path,
    episodes: int = 40,
    modes: tuple[str, ...] = INFERENCE_MODES,
    seed: int = 7,
    robot_spec: str = "",
    stepped_episodes: int = 200,
) -> dict[str, Any]:
    from lps_robot.demo.ros_loop import outcomes, ros_closed_loop
    from lps_robot.diagnostics import fisher_exact_p
    from lps_robot.sim.evaluate import evaluate_policy

    run_dir = Path(run_dir)
    policies = {k: run_dir / "policies" / f"{k}.onnx" for k in ("lps", "bc")}
    for path in policies.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no exported policy (run `lps demo` first)")
    result: dict[str, Any] = {"run_dir": str(run_dir), "episodes": episodes}
    wins: dict[str, dict[str, list[bool]]] = {}
    for mode in modes:
        result[mode] = {}
        if stepped_episodes:
            result[mode]["stepped"] = {
                algo: round(evaluate_policy(path, stepped_episodes, 20_000 + seed,
                                            inference=mode)["success"], 3)
                for algo, path in policies.items()
            }  # fmt: skip
        if episodes:
            out = run_dir / f"closed_loop_{mode}"
            out.mkdir(exist_ok=True)
            ros = ros_closed_loop(policies, episodes, out, seed, robot_spec=robot_spec,
                                  inference=mode)  # fmt: skip
            wins[mode] = {k: outcomes(ros, k) for k in policies}
            stats = ros["stats"]
            result[mode] |= {k: f"{sum(v)}/{len(v)}" for k, v in wins[mode].items()} | {
                "inference_stalls": stats.get("inference_stalls"),
                "inference_lead_ticks": stats.get("inference_lead_ticks"),
                "inference_p99_ms": stats.get("inference_p99_ms"),
                "jitter_p99_ms": stats.get("jitter_p99_ms"),
                "missed_ticks": stats.get("missed_ticks"),
                "real_time_factor": ros["real_time_factor"],
                "held_episodes": ros["held_episodes"],
            }
    if len(wins) == 2:  # does the mode change success over ROS? (two-sided Fisher exact test)
        for algo in policies:
            a, b = (wins[m][algo] for m in modes)
            result[f"{algo}_fisher_p"] = round(fisher_exact_p(sum(a), len(a), sum(b), len(b)), 3)
    return result
