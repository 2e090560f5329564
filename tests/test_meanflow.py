"""MeanFlow pinning tests: time convention, the JVP target along t, one-step sampling."""

from __future__ import annotations

import math

import pytest
import torch

from lps_robot.bench import toy
from lps_robot.models import MeanFlowDecoder, meanflow_loss, sphere_project, sphere_sample
from lps_robot.models.meanflow import meanflow_target, sample_times

X0 = torch.tensor([[0.3, -0.5, 0.8]])


def exact_g(feat, z, t, dt):
    """Exact MeanFlow solution for a point mass at X0 (a velocity field linear in z):
    every path is straight, u = eps - X0 = (z - X0) / t, so g = z - u = ((t - 1) z + X0) / t."""
    return ((t - 1.0) * z + X0) / t


def test_time_convention_t0_data_t1_noise():
    # one-step decode runs from t = 1 (noise) to r = 0 (data): g(eps, 1, 1) is the data point
    eps = sphere_sample(5, 3, torch.Generator().manual_seed(0))
    one = torch.ones(5, 1)
    torch.testing.assert_close(exact_g(None, eps, one, one), X0.expand(5, 3))
    # and z_t = (1 - t) x + t eps: at t = 0 the path is at the data
    dec = MeanFlowDecoder(1, 3, (8,))
    assert dec.decode(torch.zeros(2, 1), torch.zeros(2, 3)).shape == (2, 3)


def test_target_matches_closed_form_along_t():
    g = torch.Generator().manual_seed(1)
    n = 64
    x = X0.expand(n, 3)
    eps = sphere_sample(n, 3, g)
    t, r = sample_times(n, g, frac_r_neq_t=1.0)
    z = (1 - t) * x + t * eps
    v = eps - x

    def fn(z_, t_, r_):
        return exact_g(None, z_, t_, t_ - r_)

    u, u_tgt = meanflow_target(fn, z, t, r, v, tangent="t")
    # closed form: u = v for straight paths, and the target equals it
    torch.testing.assert_close(u, v, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(u_tgt, v, atol=1e-4, rtol=1e-4)
    # the reference's d/dr slip (tangent (v, 0, 1)) misses the closed form
    _, u_wrong = meanflow_target(fn, z, t, r, v, tangent="r")
    assert (u_wrong - v).abs().max() > 0.1


def test_loss_is_zero_at_the_exact_solution_only_with_the_t_tangent():
    g = torch.Generator().manual_seed(2)
    n = 256
    x = X0.expand(n, 3)
    eps = sphere_sample(n, 3, g)
    t, r = sample_times(n, g)
    feat = torch.zeros(n, 1)
    loss_t, info_t = meanflow_loss(exact_g, feat, x, eps, t, r, tangent="t")
    loss_r, info_r = meanflow_loss(exact_g, feat, x, eps, t, r, tangent="r")
    assert info_t["mf_mse"] < 1e-8
    assert info_r["mf_mse"] > 1e-3


def test_sample_times_shape_and_ratio():
    t, r = sample_times(20000, torch.Generator().manual_seed(3))
    assert (r <= t).all() and ((t > 0) & (t < 1)).all()
    assert (r != t).float().mean().item() == pytest.approx(0.25, abs=0.02)


def test_sphere_projection_radius():
    f = torch.randn(7, 12) * 100
    z = sphere_project(f)
    torch.testing.assert_close(
        z.norm(dim=-1), torch.full((7,), math.sqrt(12)), rtol=1e-4, atol=1e-4
    )
    eps = sphere_sample(7, 12)
    torch.testing.assert_close(
        eps.norm(dim=-1), torch.full((7,), math.sqrt(12)), rtol=1e-5, atol=1e-5
    )


def test_one_step_samples_match_eight_gaussians():
    good = toy.meanflow_swd(toy.train_meanflow_toy(800, "t", seed=0))
    wrong = toy.meanflow_swd(toy.train_meanflow_toy(800, "r", seed=0))
    untrained = toy.meanflow_swd(MeanFlowDecoder(1, 8, (128, 128, 128)))
    assert good < 0.15, good
    assert wrong > 0.3, wrong  # the wrong tangent does not learn the distribution
    assert untrained > 0.3, untrained
