"""The actor's data term toward the best-by-Q prior sample (`actor_bc_target: best_of_prior`)
instead of the data's chunk, which at a state where the data has two modes is their mean."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from lps_robot.agent import LPSAgent, LPSConfig
from lps_robot.models.actor import sphere_sample
from tests.conftest import small_spec
from tests.test_agent import SMALL, _batch


def test_best_of_prior_is_the_highest_rated_of_the_same_samples():
    torch.manual_seed(0)
    spec = small_spec()
    agent = LPSAgent(spec, SMALL).eval()
    feat = agent.features(_batch(spec, n=5)["obs"])
    n = 6
    best = agent.best_of_prior(feat, feat, n, torch.Generator().manual_seed(3))
    z = sphere_sample(5 * n, agent.d, torch.Generator().manual_seed(3))
    with torch.no_grad():
        chunks = agent.decode(feat.repeat_interleave(n, 0), z)
        q = agent.critic(feat.repeat_interleave(n, 0), chunks).mean(0).view(5, n)
        q_best = agent.critic(feat, best).mean(0).view(5)
    assert best.shape == (5, agent.h * agent.action_dim)
    assert torch.allclose(q_best, q.max(1).values, atol=1e-5)
    assert torch.equal(best, chunks.view(5, n, -1)[torch.arange(5), q.argmax(1)])


def test_the_actor_term_pulls_toward_that_sample_not_the_data():
    """With a zero Q term the loss is the distance to the chosen prior sample: the data's
    chunk does not enter it."""
    torch.manual_seed(0)
    spec = small_spec()
    cfg = dataclasses.replace(
        SMALL, actor_bc_weight=1.0, actor_bc_target="best_of_prior", actor_bc_samples=4, alpha=0.0
    )
    agent = LPSAgent(spec, cfg)
    batch = _batch(spec)
    feat = agent.features(batch["obs"]).detach()
    far = torch.full_like(batch["actions"].reshape(8, -1), 50.0)
    torch.manual_seed(1)
    loss_far, info = agent.actor_loss(feat, data_actions=far)
    torch.manual_seed(1)
    loss_data, _ = agent.actor_loss(feat, data_actions=batch["actions"].reshape(8, -1))
    assert torch.allclose(loss_far, loss_data)  # the data's chunk is not the target
    assert float(info["actor_bc"]) < 4.0  # chunks in [-1, 1]: nowhere near 50


def test_the_fields_are_checked():
    with pytest.raises(ValueError, match="actor_bc_target"):
        LPSConfig(actor_bc_target="median")
    with pytest.raises(ValueError, match="actor_bc_samples"):
        LPSConfig(actor_bc_samples=0)


def test_updates_with_it_are_deterministic_given_the_generator():
    """The prior samples come from the update's generator, not the global one."""
    spec = small_spec()
    cfg = dataclasses.replace(SMALL, actor_bc_weight=1.0, actor_bc_target="best_of_prior")
    torch.manual_seed(0)
    a = LPSAgent(spec, cfg)
    b = copy.deepcopy(a)
    batch = _batch(spec)
    torch.manual_seed(5)
    ia = a.update(batch, torch.Generator().manual_seed(1))
    torch.manual_seed(6)  # a different global stream
    ib = b.update(batch, torch.Generator().manual_seed(1))
    assert ia == ib and "actor_bc" in ia
