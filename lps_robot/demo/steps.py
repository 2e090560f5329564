"""The demo's steps, each a function of the config and what earlier steps made."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lps_robot.demo.config import DemoConfig, demo_train_config
from lps_robot.demo.report import log

ALGOS = ("lps", "bc")


@dataclass
class Trained:
    """The trained agents, their metrics files, their data and the run each came from."""

    agents: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, Path] = field(default_factory=dict)
    chunks: dict[str, Any] = field(default_factory=dict)
    run_dirs: dict[str, Path] = field(default_factory=dict)


def record(cfg: DemoConfig, data: Path) -> tuple[dict, dict]:
    """Scripted-teleop episodes: some through ROS 2 (sim + recorder nodes), the rest with
    the same writer without ROS; validated. Returns (the ROS recording, the data summary)."""
    import shutil

    from lps_robot.data.reader import summarize, validate
    from lps_robot.ros.record_sim import record_sim
    from lps_robot.sim.generate import generate
    from lps_robot.spec import Spec

    if data.exists():  # a previous run's episodes would be trained on twice
        log(f"    removing the previous run's data in {data}")
        shutil.rmtree(data)

    how = "virtual gamepad -> teleop node" if cfg.ros_operator == "joy" else "joint targets"
    log(
        f"1/5 recording {cfg.ros_episodes} episodes through ROS 2 (sim node + recorder; "
        f"scripted operator: {how})"
    )
    ros_rec = {}
    if cfg.ros_episodes:
        ros_rec = record_sim(
            cfg.ros_episodes,
            data,
            seed=cfg.seed,
            failure_rate=cfg.failure_rate,
            mistake_rate=cfg.mistake_rate,
            robot_spec=cfg.robot_spec,
            progress=cfg.progress,
            device=cfg.ros_operator,
        )
    log(f"    + {cfg.gen_episodes} episodes with the same writer, without ROS")
    generate(
        data,
        cfg.gen_episodes,
        seed=cfg.seed + 1,
        failure_rate=cfg.failure_rate,
        mistake_rate=cfg.mistake_rate,
        progress=cfg.progress,
        spec=Spec.load(cfg.robot_spec),
        workers=cfg.workers,
    )
    problems = validate(data)
    if problems:
        raise RuntimeError(f"recorded data is invalid: {problems[:3]}")
    info = summarize(data)
    log(
        f"    {info['episodes']} episodes, {info['steps']} steps, "
        f"teleop success {info['success_rate']:.2f}"
    )
    return ros_rec, info


def train(cfg: DemoConfig, data: Path, out: Path) -> Trained:
    """LPS offline; MF-BC is the LPS run's own prior unless ``bc_steps`` asks for a run."""
    from lps_robot.train import load_chunks, train_from_dataset

    log(
        "2/5 training LPS offline (camera + proprio, CPU recipe); MF-BC = "
        + (f"a separate {cfg.bc_steps}-step run" if cfg.bc_steps else "the LPS run's prior")
    )
    t = Trained()
    runs = [("lps", cfg.lps_steps)] + ([("bc", cfg.bc_steps)] if cfg.bc_steps else [])
    for algo, steps in runs:
        tcfg = demo_train_config(
            data, out / algo, algo, steps, batch_size=cfg.batch_size, seed=cfg.seed,
            precision=cfg.precision, progress=cfg.progress,
            **{"agent.actor_bc_weight": cfg.actor_bc_weight, "agent.aug_pad": cfg.aug_pad,
               "agent.actor_bc_target": cfg.actor_bc_target},
        )  # fmt: skip
        t.chunks[algo] = load_chunks(tcfg)
        t.agents[algo], _ = train_from_dataset(tcfg, data=t.chunks[algo])
        t.curves[algo] = out / algo / "metrics.csv"
        t.run_dirs[algo] = out / algo
    t.agents.setdefault("bc", t.agents["lps"])  # exported with a latent input: the prior alone
    t.run_dirs.setdefault("bc", out / "lps")
    return t


def export_policies(trained: Trained, out: Path) -> tuple[dict[str, Path], float]:
    """Both policies to ONNX with manifests; the worst onnxruntime parity error."""
    from lps_robot.export import export

    log("3/5 exporting to ONNX (manifest + onnxruntime parity)")
    policies, parity = {}, []
    for algo, agent in trained.agents.items():
        policies[algo] = out / "policies" / f"{algo}.onnx"
        summary = (trained.run_dirs[algo] / "summary.json").read_text()
        manifest = export(
            agent.eval(), policies[algo], algo=algo, train_config=json.loads(summary or "{}")
        )
        parity.append(manifest["parity_max_abs_diff"])
    return policies, max(parity)


def evaluate(cfg: DemoConfig, policies: dict[str, Path], out: Path) -> tuple[dict | None, dict]:
    """Closed loop over ROS 2 with swaps, and stepped through the same deploy path: with
    ``workers`` > 1 the stepped episodes run in worker processes at the lowest CPU priority
    while the ROS loop runs (its nodes keep their period; the workers take the idle cores)."""
    from lps_robot.sim.evaluate import evaluate_policy
    from lps_robot.sim.workers import LOWEST_PRIORITY, worker_pool

    def stepped_args(algo: str) -> tuple:
        return (str(policies[algo]), cfg.eval_episodes, 20_000 + cfg.seed)

    log(f"4/5 closed loop over ROS 2: {cfg.ros_eval_episodes} episodes, LPS->BC->LPS->BC swaps")
    beside = " (beside it, at the lowest CPU priority)" if cfg.workers > 1 else ""
    log(f"    and {cfg.eval_episodes} episodes per policy through the same deploy path, stepped"
        + beside)  # fmt: skip
    if cfg.workers <= 1:
        ros = _ros_loop(cfg, policies, out)
        return ros, {algo: evaluate_policy(*stepped_args(algo)) for algo in ALGOS}
    with worker_pool(min(cfg.workers, len(ALGOS)), LOWEST_PRIORITY) as pool:
        running = {algo: pool.submit(evaluate_policy, *stepped_args(algo)) for algo in ALGOS}
        ros = _ros_loop(cfg, policies, out)
        return ros, {algo: job.result() for algo, job in running.items()}


def _ros_loop(cfg: DemoConfig, policies: dict[str, Path], out: Path) -> dict | None:
    from lps_robot.demo.ros_loop import ros_closed_loop

    if not cfg.ros_eval_episodes:
        return None
    return ros_closed_loop(
        policies,
        cfg.ros_eval_episodes,
        out,
        cfg.seed + 7,
        cfg.max_episode_s,
        cfg.robot_spec,
        cfg.inference,
    )


def diagnose(cfg: DemoConfig, trained: Trained) -> dict:
    """The critic's best-of-N check and the actor's distance to the data ({} when off)."""
    from lps_robot.diagnostics import critic_checks

    if not cfg.diag_episodes:
        return {}
    log(
        f"    diagnostics: best of {cfg.best_of_n} prior samples by Q vs a random one "
        f"({cfg.diag_episodes} episodes each), distance of the actor's chunks to the data"
    )
    sample = trained.chunks["lps"].sample
    return critic_checks(trained.agents["lps"], sample, cfg.diag_episodes, cfg.best_of_n, cfg.seed)


def agreement(cfg: DemoConfig, ros: dict | None, stepped: dict) -> dict:
    """Fisher's exact p of ROS vs stepped success, per policy ({} without a ROS run)."""
    from lps_robot.demo.ros_loop import outcomes
    from lps_robot.diagnostics import fisher_exact_p

    if not ros:
        return {}
    agree = {}
    for algo in ALGOS:
        wins = outcomes(ros, algo)  # episodes held throughout measured nothing
        k_step = round(stepped[algo]["success"] * cfg.eval_episodes)
        p = fisher_exact_p(sum(wins), len(wins), k_step, cfg.eval_episodes) if wins else None
        agree[f"ros_vs_stepped_p_{algo}"] = None if p is None else round(p, 3)
    return agree


def figures(
    cfg: DemoConfig, info: dict, ros_rec: dict, ros: dict | None, stepped: dict, **extra: Any
) -> dict:
    """The demo's figures (report.json and the last line it prints)."""
    stats = ros["stats"] if ros else {}
    return {
        "lps_success": stepped["lps"]["success"],
        "bc_success": stepped["bc"]["success"],
        "lps_success_stderr": round(stepped["lps"]["success_stderr"], 3),
        "bc_success_stderr": round(stepped["bc"]["success_stderr"], 3),
        "episodes": cfg.eval_episodes,
        "data_success": info["success_rate"],
        "data_episodes": info["episodes"],
        "ros_recorded_episodes": ros_rec.get("episodes", 0),
        "ros_record_rate_hz": ros_rec.get("measured_rate_hz_mean"),
        "ros_eval_episodes": cfg.ros_eval_episodes,
        "ros_lps_success": ros["lps_success"] if ros else None,
        "ros_bc_success": ros["bc_success"] if ros else None,
        "ros_real_time_factor": ros["real_time_factor"] if ros else None,
        "ros_held_episodes": ros["held_episodes"] if ros else None,
        **agreement(cfg, ros, stepped),
        "lps_outcomes": stepped["lps"]["outcomes"],
        "bc_outcomes": stepped["bc"]["outcomes"],
        "diagnostics": extra["diagnostics"],
        "rate_hz": stats.get("rate_hz"),
        "jitter_p99_ms": stats.get("jitter_p99_ms"),
        "inference_p50_ms": stats.get("inference_p50_ms"),
        "inference_p99_ms": stats.get("inference_p99_ms"),
        "swaps": stats.get("swaps"),
        "missed_ticks": stats.get("missed_ticks"),
        "parity_max_abs_diff": extra["parity_max_abs_diff"],
        "wall_s": extra["wall_s"],
    }
