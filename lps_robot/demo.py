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

import csv
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lps_robot.configs import TrainConfig, make_config

# The demo's recipe for camera + proprio on a 2-core CPU (docs/benchmarks.md has the runs that
# chose it): the reference's fidelity settings (min target aggregation, its MLP block and init,
# its real-robot reward convention with failures kept and penalised) at the CPU preset's sizes;
# chunk-relative joint targets; a small conv encoder trained by the MeanFlow loss only; the
# actor held back for the first half while the prior and the critic train (the actor cannot
# steer a prior that has not formed yet); and the actor's loss with a term that keeps its
# decoded chunk near the data's.
DEMO_TRAINING = {
    "preset": "cpu",
    "agent.q_agg": "min",
    "agent.mlp_block": "reference",
    "agent.init": "xavier",
    "reward_convention": "reference",
    "keep_failures": True,
    "action_type": "joint_delta",
    "agent.image_channels": [16, 16, 32, 32],
    "agent.critic_trains_encoder": False,
    "agent.actor_bc_weight": 50.0,
    "warmup_trains_critic": True,
}
PRIOR_WARMUP_FRACTION = 0.5


def demo_train_config(
    data: str | Path, out_dir: str | Path, algo: str, steps: int, **overrides: Any
) -> TrainConfig:
    """`DEMO_TRAINING` for one run on ``data``: the actor waits for the first
    `PRIOR_WARMUP_FRACTION` of an LPS run; ``overrides`` (dotted keys) win."""
    return make_config(
        overrides={
            **DEMO_TRAINING,
            "dataset": str(data),
            "out_dir": str(out_dir),
            "algo": algo,
            "steps": steps,
            "prior_warmup_steps": int(steps * PRIOR_WARMUP_FRACTION) if algo == "lps" else 0,
            "log_every": max(1, min(250, steps)),
            **overrides,
        }
    )


@dataclass(frozen=True)
class DemoConfig:
    """`make demo` / `lps demo`; `lps demo --help` lists every field."""

    out_dir: str = field(default="runs/demo", metadata={"help": "run directory"})
    ros_episodes: int = field(default=10, metadata={"help": "episodes recorded over ROS 2"})
    gen_episodes: int = field(
        default=590, metadata={"help": "episodes recorded with the writer directly (no ROS)"}
    )
    mistake_rate: float = field(
        default=0.5,
        metadata={
            "help": "the scripted operator's chance of a hasty grasp or release at each "
            "decision point (careful and hasty actions from the same states)"
        },
    )
    failure_rate: float = field(
        default=0.0,
        metadata={"help": "injected failure modes decided at reset (the older data option)"},
    )
    lps_steps: int = field(
        default=32000,
        metadata={"help": "LPS training steps (the actor waits for the first half)"},
    )
    bc_steps: int = field(
        default=0,
        metadata={
            "help": "MF-BC training steps for a separate baseline run; 0: the baseline is the "
            "LPS run's own MeanFlow prior with random sphere latents (the prior and its "
            "encoder never get RL gradients in this recipe, so a separate run trains the "
            "same model again)"
        },
    )
    batch_size: int = field(default=64, metadata={"help": "training batch size"})
    eval_episodes: int = field(
        default=200, metadata={"help": "closed-loop episodes per policy, stepped"}
    )
    ros_eval_episodes: int = field(
        default=40, metadata={"help": "closed-loop episodes over ROS 2 in real time, with swaps"}
    )
    diag_episodes: int = field(
        default=30,
        metadata={"help": "episodes for the critic's best-of-N check (0: skip the diagnostics)"},
    )
    best_of_n: int = field(default=32, metadata={"help": "N of the best-of-N check"})
    max_episode_s: float = field(default=10.0, metadata={"help": "evaluation episode timeout"})
    seed: int = field(default=0, metadata={"help": "seed for recording, training, evaluation"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


def _log(msg: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ros_closed_loop(
    policies: dict[str, Path], episodes: int, out: Path, seed: int, max_episode_s: float = 10.0
) -> dict:
    """Sim node + controller node over DDS; swap policies between blocks of episodes."""
    from std_msgs.msg import String
    from std_srvs.srv import SetBool

    from lps_robot.ros.procs import Probe, start_node, stop

    domain = random.randint(100, 200)
    order = ["lps", "bc", "lps", "bc"]
    blocks = [episodes // 4 + (1 if i < episodes % 4 else 0) for i in range(4)]
    sim = start_node(
        "sim", {"seed": seed, "max_episode_s": max_episode_s}, domain, out / "sim_node.log"
    )
    ctl = start_node(
        "policy",
        {
            "policy_path": str(policies["lps"]),
            "autostart": "configure",
            "stats_path": str(out / "controller_stats.json"),
        },
        domain,
        out / "controller_node.log",
    )
    probe = Probe(domain)
    task = probe.listen(String, "/sim/task")
    results: list[dict] = []
    try:
        probe.wait_for(lambda: bool(probe.diag.get("policy_hash")), 90, "controller ready")
        for block, (name, n) in enumerate(zip(order, blocks, strict=True)):
            if block > 0:  # swaps load in the background: wait until this one has taken over
                ok, reason = probe.swap(str(policies[name]), timeout=90)
                if not ok:
                    raise RuntimeError(f"hot-swap to {name} refused: {reason}")
            for _ in range(n):
                probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=False))
                episode = probe.reset_sim()
                probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=True))

                status = probe.wait_for_episode(task, episode, max_episode_s + 20)
                results.append(
                    {
                        "policy": name,
                        "success": status["success"],
                        "seconds": status["elapsed_s"],
                        "sim_s": status.get("sim_s"),
                    }
                )
                outcome = "success" if status["success"] else "fail"
                _log(
                    f"ROS episode {len(results)}/{episodes} [{name}] {outcome} "
                    f"in {status['elapsed_s']:.1f}s (simulated {status.get('sim_s')}s)"
                )
        probe.call(SetBool, "/lps_policy/enable", SetBool.Request(data=False))
        probe.spin(1.5)  # one more stats write
    finally:
        probe.close()
        stop(ctl)
        stop(sim)
    stats = json.loads((out / "controller_stats.json").read_text())
    by = {k: [r["success"] for r in results if r["policy"] == k] for k in ("lps", "bc")}
    wall, sim_s = sum(r["seconds"] for r in results), sum(r["sim_s"] or 0 for r in results)
    return {
        "real_time_factor": round(sim_s / wall, 3) if wall else None,
        "episodes": results,
        "stats": stats,
        "lps_success": sum(by["lps"]) / max(len(by["lps"]), 1),
        "bc_success": sum(by["bc"]) / max(len(by["bc"]), 1),
    }


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


def run(cfg: DemoConfig) -> dict:
    from lps_robot.data.reader import summarize, validate
    from lps_robot.diagnostics import critic_checks, fisher_exact_p
    from lps_robot.export import export
    from lps_robot.ros.record_sim import record_sim
    from lps_robot.sim.evaluate import evaluate_policy
    from lps_robot.sim.generate import generate
    from lps_robot.train import load_chunks, train_from_dataset

    t0 = time.perf_counter()
    out = Path(cfg.out_dir)
    data = out / "data"
    out.mkdir(parents=True, exist_ok=True)

    _log(f"1/5 recording {cfg.ros_episodes} episodes through ROS 2 (sim node + recorder)")
    ros_rec = (
        record_sim(
            cfg.ros_episodes,
            data,
            seed=cfg.seed,
            failure_rate=cfg.failure_rate,
            mistake_rate=cfg.mistake_rate,
            progress=cfg.progress,
        )
        if cfg.ros_episodes
        else {}
    )
    _log(f"    + {cfg.gen_episodes} episodes with the same writer, without ROS")
    generate(
        data,
        cfg.gen_episodes,
        seed=cfg.seed + 1,
        failure_rate=cfg.failure_rate,
        mistake_rate=cfg.mistake_rate,
        progress=cfg.progress,
    )
    problems = validate(data)
    if problems:
        raise RuntimeError(f"recorded data is invalid: {problems[:3]}")
    info = summarize(data)
    _log(
        f"    {info['episodes']} episodes, {info['steps']} steps, "
        f"teleop success {info['success_rate']:.2f}"
    )

    _log(
        "2/5 training LPS offline (camera + proprio, CPU recipe); MF-BC = "
        + (f"a separate {cfg.bc_steps}-step run" if cfg.bc_steps else "the LPS run's prior")
    )
    agents, curves, chunks = {}, {}, {}
    runs = [("lps", cfg.lps_steps)] + ([("bc", cfg.bc_steps)] if cfg.bc_steps else [])
    for algo, steps in runs:
        tcfg = demo_train_config(
            data,
            out / algo,
            algo,
            steps,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            progress=cfg.progress,
        )
        chunks[algo] = load_chunks(tcfg)
        agents[algo], _ = train_from_dataset(tcfg, data=chunks[algo])
        curves[algo] = out / algo / "metrics.csv"
    trained_by = {"lps": "lps", "bc": "bc" if cfg.bc_steps else "lps"}  # run dir per policy
    agents.setdefault("bc", agents["lps"])  # exported with a latent input: the prior alone

    _log("3/5 exporting to ONNX (manifest + onnxruntime parity)")
    policies, parity = {}, {}
    for algo, agent in agents.items():
        policies[algo] = out / "policies" / f"{algo}.onnx"
        run_dir = out / trained_by[algo]
        manifest = export(
            agent.eval(),
            policies[algo],
            algo=algo,
            train_config=json.loads((run_dir / "summary.json").read_text() or "{}"),
        )
        parity[algo] = manifest["parity_max_abs_diff"]

    _log(f"4/5 closed loop over ROS 2: {cfg.ros_eval_episodes} episodes, LPS->BC->LPS->BC swaps")
    ros = (
        ros_closed_loop(policies, cfg.ros_eval_episodes, out, cfg.seed + 7)
        if cfg.ros_eval_episodes
        else None
    )
    _log(f"    and {cfg.eval_episodes} episodes per policy through the same deploy path, stepped")
    evals = {
        algo: evaluate_policy(policies[algo], cfg.eval_episodes, seed=20_000 + cfg.seed)
        for algo in ("lps", "bc")
    }

    diag = {}
    if cfg.diag_episodes:
        _log(
            f"    diagnostics: best of {cfg.best_of_n} prior samples by Q vs a random one "
            f"({cfg.diag_episodes} episodes each), distance of the actor's chunks to the data"
        )
        diag = critic_checks(
            agents["lps"], chunks["lps"].sample, cfg.diag_episodes, cfg.best_of_n, cfg.seed
        )

    stats = ros["stats"] if ros else {}
    agree = {}
    if ros:
        n_ros = {k: sum(r["policy"] == k for r in ros["episodes"]) for k in ("lps", "bc")}
        for algo in ("lps", "bc"):
            k_ros = round(ros[f"{algo}_success"] * n_ros[algo])
            k_step = round(evals[algo]["success"] * cfg.eval_episodes)
            agree[f"ros_vs_stepped_p_{algo}"] = round(
                fisher_exact_p(k_ros, n_ros[algo], k_step, cfg.eval_episodes), 3
            )
    figures = {
        "lps_success": evals["lps"]["success"],
        "bc_success": evals["bc"]["success"],
        "lps_success_stderr": round(evals["lps"]["success_stderr"], 3),
        "bc_success_stderr": round(evals["bc"]["success_stderr"], 3),
        "episodes": cfg.eval_episodes,
        "data_success": info["success_rate"],
        "data_episodes": info["episodes"],
        "ros_recorded_episodes": ros_rec.get("episodes", 0),
        "ros_record_rate_hz": ros_rec.get("measured_rate_hz_mean"),
        "ros_eval_episodes": cfg.ros_eval_episodes,
        "ros_lps_success": ros["lps_success"] if ros else None,
        "ros_bc_success": ros["bc_success"] if ros else None,
        "ros_real_time_factor": ros["real_time_factor"] if ros else None,
        **agree,
        "lps_outcomes": evals["lps"]["outcomes"],
        "bc_outcomes": evals["bc"]["outcomes"],
        "diagnostics": diag,
        "rate_hz": stats.get("rate_hz"),
        "jitter_p99_ms": stats.get("jitter_p99_ms"),
        "inference_p50_ms": stats.get("inference_p50_ms"),
        "inference_p99_ms": stats.get("inference_p99_ms"),
        "swaps": stats.get("swaps"),
        "missed_ticks": stats.get("missed_ticks"),
        "parity_max_abs_diff": max(parity.values()),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    report = write_report(out, curves, figures)
    _log(f"5/5 report: {report}")
    rows = [
        ("policy", "success (stepped)", "success (ROS)", "episodes"),
        (
            "LPS",
            f"{figures['lps_success']:.2f}",
            f"{figures['ros_lps_success']}",
            cfg.eval_episodes,
        ),
        (
            "MF-BC",
            f"{figures['bc_success']:.2f}",
            f"{figures['ros_bc_success']}",
            cfg.eval_episodes,
        ),
        ("teleop data", f"{figures['data_success']:.2f}", "-", figures["data_episodes"]),
    ]
    for r in rows:
        print(f"  {r[0]:<12} {r[1]:>18} {r[2]:>14} {r[3]:>9}")
    for algo in ("lps", "bc"):
        print(f"  {algo} outcomes (stepped): {figures[f'{algo}_outcomes']}")
    if agree:
        print(
            "  ROS vs stepped (Fisher exact p): "
            + ", ".join(f"{k.rsplit('_', 1)[1]} {v}" for k, v in agree.items())
        )
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
    return figures
