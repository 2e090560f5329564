"""The demo's closed loop over ROS 2 rerun on policies it exported, once per inference mode.

The same two policies (``run_dir/policies/lps.onnx`` and ``bc.onnx``), the same episodes
(seeded starts) and the same hot-swaps, with the controller's ``inference`` set to each mode
in turn: what computing chunks off the tick changes in success, apart from training noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lps_robot.ros.policy_params import PARAMS_BY_NAME

MODES = PARAMS_BY_NAME["inference"].choices


def run(
    run_dir: str | Path,
    episodes: int = 40,
    modes: tuple[str, ...] = MODES,
    seed: int = 7,
    robot_spec: str = "",
) -> dict[str, Any]:
    from lps_robot.demo.ros_loop import ros_closed_loop
    from lps_robot.diagnostics import fisher_exact_p

    run_dir = Path(run_dir)
    policies = {k: run_dir / "policies" / f"{k}.onnx" for k in ("lps", "bc")}
    for path in policies.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no exported policy (run `lps demo` first)")
    result: dict[str, Any] = {"run_dir": str(run_dir), "episodes": episodes}
    for mode in modes:
        out = run_dir / f"closed_loop_{mode}"
        out.mkdir(exist_ok=True)
        ros = ros_closed_loop(policies, episodes, out, seed, robot_spec=robot_spec, inference=mode)
        stats = ros["stats"]
        wins = {k: [e["success"] for e in ros["episodes"] if e["policy"] == k] for k in policies}
        result[mode] = {
            "lps": f"{sum(wins['lps'])}/{len(wins['lps'])}",
            "bc": f"{sum(wins['bc'])}/{len(wins['bc'])}",
            "wins": wins,
            "inference_stalls": stats.get("inference_stalls"),
            "inference_lead_ticks": stats.get("inference_lead_ticks"),
            "inference_p99_ms": stats.get("inference_p99_ms"),
            "jitter_p99_ms": stats.get("jitter_p99_ms"),
            "missed_ticks": stats.get("missed_ticks"),
            "real_time_factor": ros["real_time_factor"],
        }
    if len(modes) == 2:  # does the mode change success? (two-sided Fisher exact test)
        for algo in policies:
            a, b = (result[m]["wins"][algo] for m in modes)
            result[f"{algo}_fisher_p"] = round(fisher_exact_p(sum(a), len(a), sum(b), len(b)), 3)
    for mode in modes:
        del result[mode]["wins"]
    return result
