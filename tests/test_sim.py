"""Sim task: reset/step/success, rendering, and the scripted teleop's success band."""

from __future__ import annotations

import numpy as np
import pytest

from lps_robot.sim.env import CUBE_HALF, SUCCESS_RADIUS, SimArmEnv
from lps_robot.sim.oracle import ScriptedTeleop


def run_oracle(failure_rate: float, episodes: int, seed: int = 0) -> tuple[list[bool], list]:
    env = SimArmEnv(render=False, max_steps=200)
    teleop = ScriptedTeleop(env, failure_rate=failure_rate, seed=seed)
    results, failures = [], []
    for ep in range(episodes):
        env.reset(seed=seed * 1000 + ep)
        teleop.reset()
        done = success = False
        while not done:
            _, _, success, truncated, _ = env.step(teleop.act())
            done = success or truncated
        results.append(success)
        failures.append(teleop.failure)
    return results, failures


def test_reset_step_render_and_success():
    env = SimArmEnv(render=True, max_steps=5)
    obs = env.reset(seed=3)
    assert obs["front"].shape == (128, 128, 3) and obs["front"].dtype == np.uint8
    assert obs["front"].std() > 5  # a real rendered scene, not a blank frame
    assert obs["joint_pos"].shape == (6,)
    assert np.linalg.norm(env.task.target_xy - env.task.cube_xy) > 0.12
    assert not env.success()
    for i in range(5):
        _, reward, terminated, truncated, info = env.step(obs["joint_pos"])
        assert reward == -1.0 and not terminated and truncated == (i == 4)
    # the cube resting on the pad is a success
    q = env.cube_qpos
    env.data.qpos[q : q + 3] = [*env.task.target_xy, CUBE_HALF]
    env.data.qvel[:] = 0
    env.mj.mj_forward(env.model, env.data)
    assert env.success()
    with pytest.raises(ValueError, match="action: expected 6 finite joint targets"):
        env.step(np.array([np.nan] * 6))
    env.close()


def test_reset_is_seeded():
    a, b = SimArmEnv(render=False), SimArmEnv(render=False)
    a.reset(seed=11)
    b.reset(seed=11)
    np.testing.assert_array_equal(a.task.cube_xy, b.task.cube_xy)
    np.testing.assert_array_equal(a.task.target_xy, b.task.target_xy)


def test_oracle_success_band():
    clean, _ = run_oracle(failure_rate=0.0, episodes=10)
    assert np.mean(clean) >= 0.8, clean
    broken, failures = run_oracle(failure_rate=1.0, episodes=6, seed=1)
    assert all(f is not None for f in failures) and not any(broken)


def test_cli_generate_writes_one_valid_file(tmp_path, capsys):
    import json

    from lps_robot.cli import main as lps
    from lps_robot.data.reader import summarize, validate

    out = tmp_path / "sim.h5"
    assert (
        lps(["data", "generate", "--sim", "2", "-o", str(out), "--failure-rate", "0", "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["episodes"] == 2 and result["path"] == str(out)
    assert validate(out) == []
    info = summarize(out)
    assert info["episodes"] == 2 and info["measured_rate_hz"] == pytest.approx(20.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim.h5"]  # no leftovers


def test_cli_eval_refuses_a_bad_policy(tmp_path, capsys):
    from lps_robot.cli import main as lps

    (tmp_path / "x.onnx").write_bytes(b"nope")
    assert lps(["eval", str(tmp_path / "x.onnx"), "--episodes", "1"]) == 1
    assert "not a loadable ONNX model" in capsys.readouterr().err


def test_state_spec_records_object_state_without_rendering(tmp_path):
    """The ablation path: no camera, the privileged object state recorded per step."""
    from lps_robot.data.reader import list_episodes, load_episode, validate
    from lps_robot.sim.env import sim_state_spec
    from lps_robot.sim.generate import generate

    generate(tmp_path, 1, seed=3, failure_rate=0.0, spec=sim_state_spec(), progress=False)
    assert validate(tmp_path) == []
    ep = load_episode(list_episodes(tmp_path)[0])
    n = len(ep["actions"])
    state = ep["obs/object_state"]
    assert state.shape == (n, 5) and "obs/front" not in ep
    assert abs(state[0, 2] - CUBE_HALF) < 0.005  # the cube starts resting on the table
    assert np.ptp(state[:, 3:], axis=0).max() == 0  # the target pad stays put
    # the recorded label agrees with the state: a success ends with the cube on the pad
    on_pad = np.linalg.norm(state[-1, :2] - state[-1, 3:]) < SUCCESS_RADIUS + 0.01
    assert ep["attrs"]["success"] == bool(on_pad)


def test_cli_eval_writes_a_rollout_video(tmp_path, capsys):
    import av
    import torch

    from lps_robot.agent import LPSAgent
    from lps_robot.cli import main as lps
    from lps_robot.export import export
    from lps_robot.sim.env import SimArmEnv
    from tests.test_agent import SMALL

    env = SimArmEnv(render=False)
    spec = env.spec
    env.close()
    torch.manual_seed(0)
    export(LPSAgent(spec, SMALL).eval(), tmp_path / "p.onnx")
    out = tmp_path / "rollout.mp4"
    argv = ["eval", str(tmp_path / "p.onnx"), "--episodes", "1", "--max-steps", "6"]
    assert lps([*argv, "--video", str(out)]) == 0
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    cam = spec.camera(spec.obs.image_keys[0])
    assert len(frames) == 6 and frames[0].shape == (cam.height, cam.width, 3)


def test_cli_eval_steps_inference_ahead(tmp_path, capsys):
    """Stepped evaluation with chunks computed off the tick, as the node's ``inference: ahead``:
    each episode holds one tick while its first chunk is computed, then every tick commands
    (late chunks are waited for in stepped time), and the result names the mode."""
    import json

    import torch

    from lps_robot.agent import LPSAgent
    from lps_robot.cli import main as lps
    from lps_robot.export import export
    from tests.test_agent import SMALL

    spec = SimArmEnv(render=False).spec
    torch.manual_seed(0)
    export(LPSAgent(spec, SMALL).eval(), tmp_path / "p.onnx")
    argv = ["eval", str(tmp_path / "p.onnx"), "--episodes", "2", "--max-steps", "12"]
    assert lps([*argv, "--inference", "ahead"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["inference"] == "ahead" and result["holds"] == 2
    assert result["mean_length"] == 12
