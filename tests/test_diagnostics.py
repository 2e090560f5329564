"""Deployment diagnostics: the best-of-N policy, distance to the data, the two-rate test."""

import numpy as np
import pytest
import torch

from lps_robot.agent import LPSAgent
from lps_robot.configs import LPSConfig
from lps_robot.diagnostics import TorchPolicy, distance_to_data, fisher_exact_p
from lps_robot.models.actor import sphere_sample
from tests.conftest import small_spec

SMALL = LPSConfig(
    decoder_hidden=(32,), actor_hidden=(16,), critic_hidden=(32,), image_channels=(8, 8)
)


def _obs(spec, rng):
    h, w = spec.obs.image_size
    return {
        "front": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "joint_pos": rng.uniform(-0.5, 0.5, 3).astype(np.float32),
    }


def test_fisher_exact_p_matches_known_values():
    # Fisher's tea-tasting table [[3, 1], [1, 3]]: two-sided p = 34/70
    assert fisher_exact_p(3, 4, 1, 4) == pytest.approx(34 / 70)
    assert fisher_exact_p(10, 20, 10, 20) == pytest.approx(1.0)
    assert fisher_exact_p(0, 20, 30, 100) < 0.01  # 0/20 vs 0.30: not the same rate
    assert fisher_exact_p(3, 20, 30, 100) == pytest.approx(fisher_exact_p(30, 100, 3, 20))


def test_best_of_n_executes_the_highest_rated_prior_sample():
    torch.manual_seed(0)
    spec = small_spec()
    agent = LPSAgent(spec, SMALL).eval()
    obs = _obs(spec, np.random.default_rng(1))
    n = 16
    chunk = TorchPolicy(agent, "best_of_n", n=n, seed=3)(obs)
    assert chunk.shape == (spec.policy.chunk_length, spec.action.dim)
    # the same candidates, scored by the critic: the executed one is the argmax
    batch = {
        k: torch.as_tensor(np.asarray(v)).unsqueeze(0).expand(n, *np.shape(v))
        for k, v in obs.items()
    }
    with torch.no_grad():
        feat = agent.features(batch)
        z = sphere_sample(n, agent.d, torch.Generator().manual_seed(3))
        cands = agent.decode(feat, z)
        q = agent.critic(feat, cands).mean(0)
    low, high = np.asarray(spec.action.low), np.asarray(spec.action.high)
    raw = (cands.numpy().reshape(n, *chunk.shape) + 1) * 0.5 * (high - low) + low
    assert np.allclose(chunk, raw[int(q.argmax())], atol=1e-5)
    assert not np.allclose(chunk, raw[int(q.argmin())], atol=1e-5)
    with pytest.raises(ValueError, match="mode"):
        TorchPolicy(agent, "greedy")


def test_distance_to_data_is_zero_for_a_policy_that_returns_the_data():
    spec = small_spec()
    agent = LPSAgent(spec, SMALL)
    rng = np.random.default_rng(0)

    def sample(batch_size, _rng):
        obs = [_obs(spec, rng) for _ in range(batch_size)]
        return {
            "obs": {k: np.stack([o[k] for o in obs]) for k in obs[0]},
            "actions": np.zeros((batch_size, spec.policy.chunk_length, spec.action.dim)),
        }

    d = distance_to_data(agent, sample, batches=2, batch_size=8)
    assert d["actor_mse"] > 0 and d["prior_mse"] > 0
    agent.decode = lambda feat, z, straight_through=False: torch.zeros(len(feat), agent.d)
    assert distance_to_data(agent, sample, batches=2, batch_size=8)["actor_mse"] == 0.0
