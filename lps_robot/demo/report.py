"""What the demo shows: its log lines, the report (PNG + JSON) and the summary table."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path


def log(msg: str) -> None:
    """One timestamped demo line (the log is read with ``grep '\\[demo'``)."""
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def write_report(out: Path, curves: dict[str, Path], figures: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for algo, path in curves.items():
        rows = list(csv.DictReader(path.open()))
        steps = [int(r["step"]) for r in rows]
        axes[0].plot(steps, [float(r["mf_loss"]) for r in rows], label=f"{algo}: MeanFlow loss")
        if algo == "lps":
            axes[1].plot(steps, [float(r["critic_loss"]) for r in rows], label="critic loss")
            axes[1].plot(steps, [float(r["q_mean"]) for r in rows], label="mean Q")
    axes[0].set_xlabel("step")
    axes[0].legend()
    axes[1].set_xlabel("step")
    axes[1].legend()
    names = ["LPS", "MF-BC", "teleop data"]
    values = [figures["lps_success"], figures["bc_success"], figures["data_success"]]
    axes[2].bar(names, values, color=["tab:blue", "tab:orange", "tab:gray"])
    axes[2].set_ylim(0, 1)
    axes[2].set_title(f"success over {figures['episodes']} episodes each")
    for i, v in enumerate(values):
        axes[2].text(i, v + 0.02, f"{v:.2f}", ha="center")
    fig.tight_layout()
    path = out / "report.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    (out / "report.json").write_text(json.dumps(figures, indent=1))
    return path


def print_summary(figures: dict, episodes: int) -> None:
    """The table at the end of the demo: success per policy, agreement, critic, loop."""
    rows = [
        ("policy", "success (stepped)", "success (ROS)", "episodes"),
        ("LPS", f"{figures['lps_success']:.2f}", f"{figures['ros_lps_success']}", episodes),
        ("MF-BC", f"{figures['bc_success']:.2f}", f"{figures['ros_bc_success']}", episodes),
        ("teleop data", f"{figures['data_success']:.2f}", "-", figures["data_episodes"]),
    ]
    for r in rows:
        print(f"  {r[0]:<12} {r[1]:>18} {r[2]:>14} {r[3]:>9}")
    for algo in ("lps", "bc"):
        print(f"  {algo} outcomes (stepped): {figures[f'{algo}_outcomes']}")
    agree = {k: v for k, v in figures.items() if k.startswith("ros_vs_stepped_p_")}
    if agree:
        print(
            "  ROS vs stepped (Fisher exact p): "
            + ", ".join(f"{k.rsplit('_', 1)[1]} {v}" for k, v in agree.items())
        )
    if figures.get("ros_held_episodes"):
        print(
            f"  ROS: {figures['ros_held_episodes']} episode(s) held throughout by the controller "
            "(no policy tick; its log says why): not counted in the ROS success"
        )
    diag = figures["diagnostics"]
    if diag:
        print(
            f"  critic check: best of {diag['best_of_n_n']} by Q "
            f"{diag['best_of_n_success']:.2f} vs a random prior sample "
            f"{diag['random_prior_success']:.2f}; distance to data chunks (MSE): actor "
            f"{diag['actor_mse']:.4f}, prior {diag['prior_mse']:.4f}"
        )
    print(
        f"  control loop: {figures['rate_hz']} Hz, jitter p99 {figures['jitter_p99_ms']} ms, "
        f"inference p50 {figures['inference_p50_ms']} ms, swaps {figures['swaps']}, "
        f"missed ticks {figures['missed_ticks']}"
    )
