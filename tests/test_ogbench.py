"""OGBench path: official-layout generation, relabelled loading, chunk sampling, evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lps_robot.agent import LPSAgent, LPSConfig
from lps_robot.bench import ogbench_adapter as og
from lps_robot.train import transform_rewards

TASK = "cube-single-play-singletask-task1-v0"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("og") / "cube-single-play-v0.npz"
    og.generate("cube-single-v0", path, episodes=2, episode_steps=60, progress=False)
    return path


def test_names():
    assert og.split_name(TASK) == ("cube-single-v0", "cube-single-play-v0")
    with pytest.raises(ValueError, match="singletask"):
        og.split_name("cube-single-v0")


def test_generated_file_has_the_official_layout(generated):
    f = np.load(generated)
    assert {"observations", "actions", "terminals", "qpos", "qvel"} <= set(f.files)
    assert f["observations"].shape == (120, 28) and f["actions"].shape == (120, 5)
    assert f["terminals"].sum() == 2 and f["terminals"][59] == 1
    assert np.abs(f["actions"]).max() <= 1.0
    val = np.load(generated.with_name("cube-single-play-v0-val.npz"))
    assert val["observations"].shape == (60, 28)


def test_load_relabels_and_sampler_keeps_chunks_inside_trajectories(generated):
    env, data = og.load(TASK, generated)
    assert {"rewards", "masks", "next_observations"} <= set(data)
    sampler = og.ChunkSampler(data, h=5)
    ends = np.nonzero(data["terminals"])[0]
    # each chunk [t, t+4] lies in one trajectory: no trajectory end strictly inside it
    for t in sampler.valid:
        assert not np.any((ends >= t) & (ends < t + 4))
    batch = sampler(16, np.random.default_rng(0))
    assert batch["actions"].shape == (16, 5, 5) and batch["rewards"].shape == (16, 5)
    # the sparse-task transform is the trainer's (TrainConfig.reward_transform)
    sparse = transform_rewards(dict(batch), "sparse")["rewards"]
    assert set(np.unique(sparse)) <= {-1.0, 0.0}
    assert np.array_equal(sparse == 0, batch["rewards"] == 0)


def test_evaluate_runs_a_policy_in_the_env(generated):
    env, data = og.load(TASK, generated)
    spec = og.ogbench_spec(28, 5)
    agent = LPSAgent(
        spec, LPSConfig(decoder_hidden=(16,), actor_hidden=(16,), critic_hidden=(16,))
    )
    torch.manual_seed(0)
    result = og.evaluate(agent, env, episodes=1)
    assert result["success"] in (0.0, 1.0) and result["episode_len"] > 0
