"""Trainer: CLI smoke run, checkpoints that rebuild their agent, resume, config precedence."""

from __future__ import annotations

import csv
import dataclasses

import pytest
import torch

from lps_robot.cli import main as lps
from lps_robot.configs import TrainConfig, make_config
from lps_robot.dcio import ConfigError
from lps_robot.train import load_checkpoint, train_from_dataset
from tests.conftest import small_spec, write_episodes

TINY = {
    "agent.decoder_hidden": [32, 32],
    "agent.actor_hidden": [16],
    "agent.critic_hidden": [32, 32],
    "agent.image_channels": [8, 8],
    "agent.image_feat_dim": 8,
    "batch_size": 16,
    "log_every": 5,
    "progress": False,
}


def tiny(dataset, out, **overrides):
    """The TINY config on ``dataset``, writing to ``out``, with ``overrides``."""
    return make_config(
        overrides={**TINY, "dataset": str(dataset), "out_dir": str(out), **overrides}
    )


@pytest.fixture
def dataset(tmp_path):
    write_episodes(tmp_path / "ds", small_spec(), [12, 10, 15, 9], [True, False, True, False])
    return tmp_path / "ds"


def test_cli_smoke_run_writes_logs_and_checkpoints(dataset, tmp_path, capsys):
    out = tmp_path / "run"
    argv = [
        "train",
        "--dataset",
        str(dataset),
        "--out_dir",
        str(out),
        "--steps",
        "10",
        "--batch_size",
        "8",
        "--log_every",
        "5",
        "--progress",
        "false",
        "--agent.decoder_hidden",
        "32,32",
        "--agent.critic_hidden",
        "32",
    ]
    assert lps(argv) == 0
    assert '"step": 10' in capsys.readouterr().out
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [5, 10]
    assert {"critic_loss", "mf_loss", "actor_loss", "steps_per_s"} <= set(rows[0])
    agent, ckpt = load_checkpoint(out / "final.safetensors")
    assert ckpt["step"] == 10 and ckpt["dataset_fingerprint"]
    assert agent.config.decoder_hidden == (32, 32)
    assert agent.spec.stats is not None  # the dataset's normalisation travels with it


def test_checkpoint_rebuilds_the_same_policy(dataset, tmp_path):
    agent, _ = train_from_dataset(tiny(dataset, tmp_path / "r", steps=5))
    loaded, _ = load_checkpoint(tmp_path / "r" / "final.safetensors")
    obs = {
        "front": torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8),
        "joint_pos": torch.randn(2, 3),
    }
    torch.testing.assert_close(agent.act(obs), loaded.act(obs))


def test_resume_continues_from_the_last_checkpoint(dataset, tmp_path):
    base = {**TINY, "dataset": str(dataset), "out_dir": str(tmp_path / "r"), "ckpt_every": 5}
    train_from_dataset(make_config(overrides={**base, "steps": 5}))
    _, rows = train_from_dataset(make_config(overrides={**base, "steps": 10, "resume": True}))
    assert [r["step"] for r in rows] == [10]
    _, ckpt = load_checkpoint(tmp_path / "r" / "last.safetensors")
    assert ckpt["step"] == 10


def test_bc_baseline_trains_only_the_prior(dataset, tmp_path):
    agent, rows = train_from_dataset(tiny(dataset, tmp_path / "b", steps=5, algo="bc"))
    assert "mf_loss" in rows[-1] and "actor_loss" not in rows[-1]


@pytest.mark.parametrize("with_critic", [False, True])
def test_prior_warmup_holds_the_actor_back(dataset, tmp_path, with_critic):
    """During the prior's warm-up the actor's loss is not computed; the critic's only with
    ``warmup_trains_critic``; both after it (the agent's test checks the actor stays put)."""
    base = {**TINY, "dataset": str(dataset), "log_every": 1, "steps": 4}
    cfg = make_config(
        overrides={
            **base,
            "out_dir": str(tmp_path / "w"),
            "prior_warmup_steps": 2,
            "warmup_trains_critic": with_critic,
        }
    )
    _, rows = train_from_dataset(cfg)
    warm, joint = rows[:2], rows[2:]
    assert all(r["actor_loss"] != r["actor_loss"] for r in warm)  # NaN: not measured
    assert all(r["actor_loss"] == r["actor_loss"] for r in joint)
    measured = [r["critic_loss"] == r["critic_loss"] for r in warm]
    assert measured == [with_critic] * 2


def test_config_precedence_and_errors(tmp_path):
    assert make_config().agent.decoder_hidden == (512,) * 4  # the reference's sizes
    assert make_config(overrides={"preset": "cpu"}).agent.decoder_hidden == (256, 256, 256)
    f = tmp_path / "c.yaml"
    f.write_text("steps: 7\nagent: {lr: 0.001}\n")
    cfg = make_config(f, {"agent.lr": 0.002})
    assert isinstance(cfg, TrainConfig) and cfg.steps == 7 and cfg.agent.lr == 0.002
    f.write_text("agent: {lr: 3e-4}\n")  # YAML 1.1 (PyYAML) reads this as the string '3e-4'
    assert make_config(f).agent.lr == 3e-4
    with pytest.raises(ConfigError, match="agent.lr: expected a number, got 'fast'"):
        make_config(overrides={"agent.lr": "fast"})
    with pytest.raises(ConfigError, match="agent.q_agg: expected 'mean' or 'min'"):
        make_config(overrides={"agent.q_agg": "max"})
    with pytest.raises(ConfigError, match="stepz: unknown field"):
        make_config(overrides={"stepz": 3})
    with pytest.raises(ConfigError, match="dataset: required"):
        train_from_dataset(make_config())


def test_train_help_documents_every_field(capsys):
    with pytest.raises(SystemExit):
        lps(["train", "--help"])
    out = capsys.readouterr().out
    for name in ("--dataset", "--steps", "--agent.lr", "--agent.decoder_hidden", "--resume"):
        assert name in out


def test_robot_preset_trains_resumes_and_exports(dataset, tmp_path):
    """The robot recipe end to end at toy sizes: per-network IMPALA encoders, warmup-cosine
    lr, gradient clipping, the reference reward convention; export passes its parity check."""
    from lps_robot.export import export
    from lps_robot.runtime.policy import OnnxPolicy

    robot = {
        **TINY,
        "preset": "robot",
        "agent.image_channels": [4, 8],
        "agent.image_feat_dim": 16,
        "agent.critic_hidden": [32, 32],
        "agent.actor_hidden": [16],
        "agent.warmup_frac": 0.3,
        "reward_convention": "reference",
        "dataset": str(dataset),
        "out_dir": str(tmp_path / "robot"),
        "ckpt_every": 3,
    }
    train_from_dataset(make_config(overrides={**robot, "steps": 3}))
    agent, rows = train_from_dataset(make_config(overrides={**robot, "steps": 6, "resume": True}))
    assert rows[-1]["step"] == 6 and agent.per_network
    lr = agent.opt_model.param_groups[0]["lr"]
    assert lr == pytest.approx(agent.config.lr * agent.config.lr_final_frac, rel=1e-6)
    manifest = export(agent.eval(), tmp_path / "robot.onnx")
    assert manifest["parity_max_abs_diff"] <= 1e-5
    OnnxPolicy(tmp_path / "robot.onnx", agent.spec)


def test_version(capsys):
    from lps_robot import __version__

    with pytest.raises(SystemExit) as e:
        lps(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"lps_robot {__version__}"


def test_logs_keep_one_header_and_reach_tensorboard(dataset, tmp_path):
    """A column that appears mid-run (an evaluation) and a resume keep one CSV header; the
    same scalars are in TensorBoard's event file."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    base = {**TINY, "dataset": str(dataset), "out_dir": str(tmp_path / "r"), "ckpt_every": 5}
    base |= {"eval_every": 10}
    train_from_dataset(make_config(overrides={**base, "steps": 10}), lambda a, s: {"score": 1.0})
    train_from_dataset(make_config(overrides={**base, "steps": 15, "resume": True}))
    lines = (tmp_path / "r" / "metrics.csv").read_text().splitlines()
    assert sum(line.startswith("step,") for line in lines) == 1
    rows = list(csv.DictReader(lines))
    assert [int(r["step"]) for r in rows] == [5, 10, 15]
    assert rows[1]["eval/score"] == "1.0" and rows[0]["eval/score"] == ""
    events = EventAccumulator(str(tmp_path / "r" / "tb"))
    events.Reload()
    assert sorted(e.step for e in events.Scalars("critic_loss")) == [5, 10, 15]


def test_shell_completion_knows_the_commands(capsys):
    assert lps(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "complete" in script and "train" in script and "--dataset" in script


def test_the_train_speed_benchmark_runs_on_the_packaged_spec():
    """`lps bench train` builds its synthetic batch from the spec's observation keys."""
    from lps_robot.bench.train_speed import measure

    for with_image in (False, True):
        assert measure(with_image, batch_size=2, steps=1, size=32) > 0


@pytest.mark.parametrize("precision", ["bf16", "bf16_encoders"])
def test_bf16_training_runs_and_leaves_fp32_checkpoints(dataset, tmp_path, precision):
    import math

    from lps_robot.checkpoint import load_checkpoint

    cfg = tiny(dataset, tmp_path / "h", steps=10, precision=precision)
    agent, rows = train_from_dataset(cfg)
    assert agent.encoder_autocast == (precision == "bf16_encoders")
    for key in ("critic_loss", "mf_loss", "actor_loss"):
        assert math.isfinite(float(rows[-1][key])), rows[-1]
    assert all(p.dtype == torch.float32 for p in agent.parameters())
    restored, _ = load_checkpoint(tmp_path / "h" / "last.safetensors")
    assert all(p.dtype == torch.float32 for p in restored.parameters())
    with pytest.raises(ValueError, match="precision: expected one of"):
        make_config(overrides={"precision": "fp16"})


def test_a_compiled_update_trains_as_the_eager_one(dataset, tmp_path):
    """``compile: true`` (torch.compile of the update, both phases: the prior's warm-up with the
    critic, then the full update) gives the eager weights within float tolerance."""
    from torch._dynamo.utils import counters

    counters.clear()
    weights = {}
    for compiled in (False, True):
        over = {"steps": 4, "threads": 1, "compile": compiled, "prior_warmup_steps": 2}
        cfg = tiny(dataset, tmp_path / str(compiled), warmup_trains_critic=True, **over)
        agent, _ = train_from_dataset(cfg)
        weights[compiled] = agent.state_dict()
    for k, v in weights[False].items():
        torch.testing.assert_close(weights[True][k], v, rtol=1e-4, atol=2e-5, msg=k)
    assert counters["stats"]["unique_graphs"] > 0  # dynamo did compile graphs


def test_compile_auto_compiles_where_it_pays(monkeypatch):
    """``compile`` unset (auto): compiled for a camera policy trained long enough to repay the
    compile time, with a C++ compiler; never for a state policy or a short run; true/false
    win; the flag takes true, false and auto."""
    from lps_robot.cli import build_parser
    from lps_robot.configs import COMPILE_MIN_STEPS
    from lps_robot.train import compiles

    camera = small_spec()
    state = camera.replace(cameras=(), obs=dataclasses.replace(camera.obs, image_keys=()))
    long, short = make_config(overrides={"steps": COMPILE_MIN_STEPS}), make_config()
    assert long.compile is None and compiles(long, camera)
    assert not compiles(long, state) and not compiles(make_config(overrides={"steps": 10}), camera)
    assert compiles(make_config(overrides={"steps": 10, "compile": True}), state)
    assert not compiles(make_config(overrides={"steps": 10**5, "compile": False}), camera)
    assert short.steps >= COMPILE_MIN_STEPS and compiles(short, camera)
    monkeypatch.setenv("CXX", "no-such-compiler")
    assert not compiles(long, camera)  # torch's CPU code generator could not build
    parser = build_parser()
    for flag, want in (("auto", None), ("false", False), ("true", True)):
        assert parser.parse_args(["train", "--compile", flag]).compile is want
