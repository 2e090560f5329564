"""A tiny `make demo`: record (ROS + direct), train both, export, evaluate over ROS with swaps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lps_robot.demo import DEMO_TRAINING, DemoConfig, run
from lps_robot.runtime.manifest import read_manifest

pytestmark = pytest.mark.slow


def test_tiny_demo_end_to_end(tmp_path, capsys):
    cfg = DemoConfig(
        out_dir=str(tmp_path / "demo"),
        ros_episodes=1,
        gen_episodes=3,
        lps_steps=3,
        batch_size=16,
        eval_episodes=2,
        ros_eval_episodes=2,
        diag_episodes=1,
        best_of_n=4,
        max_episode_s=4.0,  # the controller holds 2 s after each enable (discovery gate)
        precision="bf16_encoders",  # the UR5e preset's
        actor_bc_weight=10.0,  # the UR5e preset's
        aug_pad=1,  # the UR5e preset's
        progress=False,
    )
    figures = run(cfg)
    for key in (
        "lps_success",
        "bc_success",
        "episodes",
        "rate_hz",
        "jitter_p99_ms",
        "swaps",
        "missed_ticks",
        "wall_s",
    ):
        assert key in figures
    assert figures["data_episodes"] == 4 and figures["ros_recorded_episodes"] == 1
    assert figures["swaps"] >= 1 and figures["rate_hz"] > 10
    assert figures["parity_max_abs_diff"] <= 1e-5
    out = tmp_path / "demo"
    assert (out / "report.png").stat().st_size > 1000
    assert json.loads((out / "report.json").read_text())["episodes"] == 2
    # the CPU recipe reaches the trainer (it once stayed a dead constant)
    trained = yaml.safe_load((out / "lps" / "config.yaml").read_text())
    assert trained["action_type"] == DEMO_TRAINING["action_type"]
    assert trained["agent"]["critic_trains_encoder"] is False
    assert trained["agent"]["actor_bc_weight"] == 10.0  # the demo's flags over its recipe
    assert trained["agent"]["aug_pad"] == 1
    assert trained["agent"]["actor_bc_target"] == DEMO_TRAINING["agent.actor_bc_target"]
    assert trained["keep_failures"] is True and trained["prior_warmup_steps"] == 1
    assert trained["warmup_trains_critic"] is True
    assert trained["precision"] == "bf16_encoders"
    # the critic's diagnostics and the ROS-vs-stepped agreement are reported
    diag = figures["diagnostics"]
    assert {"best_of_n_success", "random_prior_success", "actor_mse", "prior_mse"} <= set(diag)
    assert figures["ros_held_episodes"] == 0  # the policy commanded in every ROS episode
    assert 0.0 <= figures["ros_vs_stepped_p_lps"] <= 1.0
    assert sum(figures["lps_outcomes"].values()) == 2
    # bc_steps=0: the baseline is the LPS run's own prior, exported with a latent input
    assert not (out / "bc").exists()
    manifests = {n: read_manifest(out / "policies" / f"{n}.onnx") for n in ("lps", "bc")}
    assert manifests["lps"]["latent"] == "actor" and manifests["bc"]["latent"] == "input"
    assert manifests["bc"]["training_config"]["step"] == 3
    assert "LPS" in capsys.readouterr().out


def test_demo_flags_come_from_the_config():
    from lps_robot.cli import build_parser
    from lps_robot.dcio import from_plain

    args = build_parser().parse_args(["demo", "--lps_steps", "7", "--progress", "false"])
    values = {k: v for k, v in vars(args).items() if k not in ("command", "func")}
    cfg = from_plain(DemoConfig, values)
    assert cfg.lps_steps == 7 and cfg.progress is False
    assert cfg.bc_steps == DemoConfig().bc_steps
    with pytest.raises(ValueError, match="precision: expected one of"):
        DemoConfig(precision="fp16")
    with pytest.raises(ValueError, match="actor_bc_weight: expected >= 0"):
        DemoConfig(actor_bc_weight=-1.0)
    with pytest.raises(ValueError, match="aug_pad: expected >= 0"):
        DemoConfig(aug_pad=-1)
    with pytest.raises(ValueError, match="actor_bc_target: expected one of"):
        DemoConfig(actor_bc_target="median")
    assert DemoConfig().actor_bc_weight == DEMO_TRAINING["agent.actor_bc_weight"]
    assert DemoConfig().actor_bc_target == DEMO_TRAINING["agent.actor_bc_target"]


def test_a_bad_demo_flag_is_one_line_and_status_2(monkeypatch, capsys):
    import lps_robot
    from lps_robot.cli import main

    monkeypatch.setattr(lps_robot, "lone_job_spin", lambda: False)
    assert main(["demo", "--aug_pad", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "lps demo: aug_pad: expected >= 0, got -1"


def test_a_robots_demo_preset_fills_only_the_flags_not_given(monkeypatch):
    import lps_robot
    import lps_robot.demo
    from lps_robot.cli import build_parser
    from lps_robot.demo.config import DEMO_PRESETS

    seen: list[DemoConfig] = []

    def fake_run(cfg: DemoConfig) -> dict:
        seen.append(cfg)
        return {}

    monkeypatch.setattr(lps_robot, "lone_job_spin", lambda: False)
    monkeypatch.setattr(lps_robot.demo, "run", fake_run)
    preset = DEMO_PRESETS["ur5e"]
    for argv in ([], ["--actor_bc_weight", "3"]):
        args = build_parser().parse_args(["demo", "--robot", "ur5e", *argv])
        args.func(args)
    assert [c.actor_bc_weight for c in seen] == [preset["actor_bc_weight"], 3.0]
    assert {c.aug_pad for c in seen} == {preset["aug_pad"]}
    assert {c.precision for c in seen} == {preset["precision"]}
    assert {c.actor_bc_target for c in seen} == {preset["actor_bc_target"]}


@pytest.mark.parametrize("user", [None, "7"])
def test_the_demo_takes_libgomps_spin_unless_the_user_chose_one(user):
    """The package sets a short OpenMP spin (training beside another process); the demo
    runs alone and goes back to libgomp's spin, before torch loads, unless the user set it."""
    import os
    import subprocess
    import sys

    code = (
        "import os, sys, lps_robot; before = os.environ.get('GOMP_SPINCOUNT'); "
        "changed = lps_robot.lone_job_spin(); import torch; "
        "print(before, changed, os.environ.get('GOMP_SPINCOUNT'), lps_robot.lone_job_spin())"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    if user:
        env["GOMP_SPINCOUNT"] = user
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    expect = "7 False 7 False" if user else "1000 True None False"
    assert out.stdout.split() == expect.split(), out.stderr


def _processes_naming(text: str) -> list[str]:
    """Command lines of the live processes that contain ``text``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmd:
            found.append(cmd)
    return found


def test_a_terminated_demo_stops_the_nodes_it_started(tmp_path):
    """SIGTERM (a scheduler's or a user's kill) during the ROS recording: the demo exits and
    takes its sim, teleop and recorder nodes with it (they used to run on)."""
    out = tmp_path / "demo"
    flags = ["--ros_episodes", "5", "--gen_episodes", "1", "--max_episode_s", "5"]
    demo = subprocess.Popen(
        [sys.executable, "-m", "lps_robot.cli", "demo", "--out_dir", str(out), *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        recorder_log = out / "data" / "recorder_node.log"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not recorder_log.exists():
            time.sleep(0.2)
        assert recorder_log.exists(), "the demo never started its recorder node"
        time.sleep(3.0)
        nodes = [c for c in _processes_naming(str(out)) if " node " in c]
        assert len(nodes) == 3, nodes  # teleop, sim and recorder
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) != 0
        assert _processes_naming(str(out)) == []
    finally:
        if demo.poll() is None:
            demo.kill()
        for cmd in _processes_naming(str(out)):
            subprocess.run(["pkill", "-f", cmd.split("--params-file ")[-1].strip()], check=False)
