"""LPS agent: the gradient path, the bandit result, determinism."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from lps_robot.agent import LPSAgent, LPSConfig
from lps_robot.bench import toy
from tests.conftest import small_spec

SMALL = LPSConfig(
    decoder_hidden=(32, 32),
    actor_hidden=(16,),
    critic_hidden=(32, 32),
    image_channels=(8, 8),
    image_feat_dim=16,
)


def _batch(spec, n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    h, a = spec.policy.chunk_length, spec.action.dim

    def obs():
        return {
            "front": torch.randint(0, 256, (n, 16, 16, 3), generator=g, dtype=torch.uint8),
            "joint_pos": torch.randn(n, 3, generator=g),
        }

    return {
        "obs": obs(),
        "next_obs": obs(),
        "actions": torch.rand(n, h, a, generator=g) * 2 - 1,
        "rewards": -torch.ones(n, h),
        "masks": torch.ones(n),
    }


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_actor_update_touches_only_the_actor_and_flows_through_the_decoder():
    torch.manual_seed(0)
    spec = small_spec()
    a = LPSAgent(spec, SMALL)
    b = copy.deepcopy(a)
    batch = _batch(spec)
    # the actor loss has a non-zero gradient on the actor, through the decoder's Jacobian
    feat = a.features(batch["obs"])
    l_f, _ = a.actor_loss(feat)
    g_actor = torch.autograd.grad(l_f, list(a.actor.parameters()), retain_graph=True)
    assert sum(g.abs().sum() for g in g_actor) > 0
    z = a.latent(feat.detach())
    q = a.critic(feat.detach(), a.decode(feat.detach(), z)).mean()
    (dq_dz,) = torch.autograd.grad(q, z)
    assert dq_dz.abs().sum() > 0
    # a full update equals the update without the actor loss on everything but the actor
    actor_before = _params(a.actor)
    a.update(batch, torch.Generator().manual_seed(5))
    gb = torch.Generator().manual_seed(5)
    feat_b = b.features(batch["obs"], augment=True, generator=gb)
    with torch.no_grad():
        next_b = b.features(batch["next_obs"])
    l_q, _ = b.critic_loss(feat_b, next_b, batch)
    l_mf, _ = b.bc_loss(feat_b, batch, gb)
    b.opt_model.zero_grad()
    (l_q + l_mf).backward()
    b.opt_model.step()
    for name in ("encoder", "decoder", "critic"):
        for pa, pb in zip(
            getattr(a, name).parameters(), getattr(b, name).parameters(), strict=True
        ):
            torch.testing.assert_close(pa, pb, msg=f"{name} got an actor gradient")
    changed = [
        not torch.equal(p0, p1) for p0, p1 in zip(actor_before, a.actor.parameters(), strict=True)
    ]
    assert all(changed)


def test_update_without_the_actor_trains_the_rest_the_same():
    """The prior's warm-up with the critic (``warmup_trains_critic``): the actor waits, the
    encoder, decoder and critic take the same step as in a full update."""
    torch.manual_seed(0)
    spec = small_spec()
    for per_network in (False, True):
        a = LPSAgent(spec, dataclasses.replace(SMALL, encoder_per_network=per_network))
        b = copy.deepcopy(a)
        batch = _batch(spec)
        actor_before = _params(a.actor)
        info = a.update(batch, torch.Generator().manual_seed(3), train_actor=False)
        b.update(batch, torch.Generator().manual_seed(3))
        assert "critic_loss" in info and "actor_loss" not in info
        for p0, p1 in zip(actor_before, a.actor.parameters(), strict=True):
            assert torch.equal(p0, p1)
        names = ["encoder", "decoder", "critic", "target_critic"]
        names += ["critic_encoder", "target_critic_encoder"] if per_network else []
        for name in names:
            for pa, pb in zip(
                getattr(a, name).parameters(), getattr(b, name).parameters(), strict=True
            ):
                torch.testing.assert_close(pa, pb, msg=name)
        changed = [
            not torch.equal(p0, p1)
            for p0, p1 in zip(actor_before, b.actor.parameters(), strict=True)
        ]
        assert all(changed)


def test_updates_are_deterministic_given_the_generator():
    spec = small_spec()
    torch.manual_seed(0)
    a = LPSAgent(spec, SMALL)
    b = copy.deepcopy(a)
    batch = _batch(spec)
    ia = a.update(batch, torch.Generator().manual_seed(1))
    ib = b.update(batch, torch.Generator().manual_seed(1))
    assert ia == ib
    obs = _batch(spec, 4, 9)["obs"]
    torch.testing.assert_close(a.act(obs), b.act(obs))
    assert a.act(obs).shape == (4, 3, 3) and a.act(obs).abs().max() <= 1


def test_target_critic_is_polyak_averaged():
    spec = small_spec()
    agent = LPSAgent(spec, SMALL)
    before = _params(agent.target_critic)
    agent.update(_batch(spec), torch.Generator().manual_seed(0))
    tau = agent.config.tau
    for t0, t1, online in zip(
        before, agent.target_critic.parameters(), agent.critic.parameters(), strict=True
    ):
        torch.testing.assert_close(t1, (1 - tau) * t0 + tau * online, rtol=1e-5, atol=1e-6)


def test_bandit_lps_picks_the_best_mode_in_support():
    result = toy.train_bandit(steps=400, seed=0)
    assert result["bandit_lps_return"] > 0.9 * result["bandit_best_return"]
    assert result["bandit_support_rate"] > 0.9
    assert result["bandit_lps_return"] - result["bandit_bc_return"] > 0.3


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="q_agg"):
        LPSConfig(q_agg="max")
    with pytest.raises(ValueError, match="actor_grad"):
        LPSConfig(actor_grad="nope")


def test_state_only_spec_has_no_cnn():
    agent = LPSAgent(toy.bandit_spec(), SMALL)
    assert len(agent.encoder.cnns) == 0 and agent.encoder.out_dim == 1
    out = agent.act({"state": torch.zeros(3, 1)})
    assert out.shape == (3, 1, 2) and np.isfinite(out.numpy()).all()


def test_spatial_softmax_finds_a_hot_pixel():
    from lps_robot.models.encoders import SpatialSoftmax

    ss = SpatialSoftmax(5, 9)
    with torch.no_grad():
        ss.log_temp.fill_(-3.0)  # sharp
    fmap = torch.zeros(1, 2, 5, 9)
    fmap[0, 0, 1, 8] = 10.0  # row 1 of 5, last column
    fmap[0, 1, 4, 0] = 10.0  # last row, first column
    xy = ss(fmap).view(2, 2)
    torch.testing.assert_close(xy, torch.tensor([[1.0, -0.5], [-1.0, 1.0]]), atol=1e-3, rtol=0)


def test_critic_can_be_kept_out_of_the_shared_encoder():
    import dataclasses

    torch.manual_seed(0)
    spec = small_spec()
    a = LPSAgent(spec, dataclasses.replace(SMALL, critic_trains_encoder=False))
    b = copy.deepcopy(a)
    batch = _batch(spec)
    a.update(batch, torch.Generator().manual_seed(5))
    gb = torch.Generator().manual_seed(5)
    feat_b = b.features(batch["obs"], augment=True, generator=gb)
    l_mf, _ = b.bc_loss(feat_b, batch, gb)
    b.opt_model.zero_grad()
    l_mf.backward()  # the encoder's only gradient is the MeanFlow loss's
    b.opt_model.step()
    for pa, pb in zip(a.encoder.parameters(), b.encoder.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)


# --- reference fidelity (each config field pinned by a small numeric check) -------------------


def test_min_target_aggregation():
    """y uses min over the K target critics (the reference), mean only when asked."""
    spec = small_spec()
    batch = _batch(spec, n=2)
    targets = {}
    for agg in ("min", "mean"):
        agent = LPSAgent(spec, dataclasses.replace(SMALL, q_agg=agg))
        agent.target_critic.forward = lambda feat, a: torch.tensor([[1.0, 5.0], [3.0, 2.0]])
        feat = agent.features(batch["obs"])
        _, info = agent.critic_loss(feat, feat, batch)
        targets[agg] = float(info["target_mean"])
    h, gamma = spec.policy.chunk_length, SMALL.gamma
    ret = -sum(gamma**i for i in range(h))
    assert targets["min"] == pytest.approx(ret + gamma**h * (1.0 + 2.0) / 2, rel=1e-5)
    assert targets["mean"] == pytest.approx(ret + gamma**h * (2.0 + 3.5) / 2, rel=1e-5)


def test_mlp_block_order_and_init():
    from torch import nn

    from lps_robot.models.mlp import mlp

    kinds = [type(m) for m in mlp(4, (8, 8), 1, layer_norm=True, block="reference")]
    assert kinds[:3] == [nn.Linear, nn.GELU, nn.LayerNorm]  # Dense -> GELU -> LayerNorm
    kinds = [type(m) for m in mlp(4, (8, 8), 1, layer_norm=True, block="legacy")]
    assert kinds[:3] == [nn.Linear, nn.LayerNorm, nn.GELU]
    torch.manual_seed(0)
    net = mlp(300, (500,), 200, init="xavier")
    w = net[0].weight
    bound = (6 / (300 + 500)) ** 0.5  # Xavier-uniform: U(-b, b), std b / sqrt(3)
    assert w.abs().max() <= bound and w.std().item() == pytest.approx(bound / 3**0.5, rel=0.02)
    assert all((layer.bias == 0).all() for layer in net if isinstance(layer, nn.Linear))
    torch_init = mlp(300, (500,), 200, init="torch")
    assert torch_init[0].bias.abs().max() > 0  # PyTorch's default: non-zero biases


def test_reference_defaults():
    from lps_robot.configs import make_config

    cfg = make_config()
    assert cfg.preset == "reference" and cfg.agent.q_agg == "min"
    assert cfg.agent.mlp_block == "reference" and cfg.agent.init == "xavier"
    assert (cfg.agent.decoder_hidden, cfg.agent.actor_hidden, cfg.agent.critic_hidden) == (
        (512,) * 4,
        (256,) * 2,
        (256,) * 4,
    )


# --- the robot preset: per-network IMPALA encoders, same crop for s and s', clip, schedule ---

ROBOT_TINY = dataclasses.replace(
    SMALL,
    image_encoder="impala",
    image_channels=(4, 8),
    image_feat_dim=16,
    encoder_per_network=True,
    aug_next_obs=True,
    aug_prob=1.0,
    grad_clip=1.0,
)


def test_robot_preset_matches_the_reference_recipe():
    from lps_robot.configs import make_config

    a = make_config(overrides={"preset": "robot"}).agent
    assert a.image_encoder == "impala" and a.image_channels == (16, 32, 32)
    assert a.image_feat_dim == 512 and a.encoder_per_network and a.aug_next_obs
    assert a.critic_hidden == (512,) * 4 and a.actor_hidden == (512, 512)
    assert a.grad_clip == 1.0 and a.lr_schedule == "warmup_cosine" and a.lr_final_frac == 0.1


def test_same_crop_for_s_and_next_s():
    spec = small_spec()
    agent = LPSAgent(spec, ROBOT_TINY)
    batch = _batch(spec)
    batch["next_obs"] = {k: v.clone() for k, v in batch["obs"].items()}
    obs, next_obs = agent.augment(batch, torch.Generator().manual_seed(1))
    assert not torch.equal(obs["front"], batch["obs"]["front"])  # shifted (aug_prob 1)
    assert torch.equal(obs["front"], next_obs["front"])  # by the same crop


def test_per_network_encoders_learn_from_their_own_losses():
    from lps_robot.models.encoders import ImpalaEncoder

    spec = small_spec()
    agent = LPSAgent(spec, ROBOT_TINY)
    assert isinstance(agent.actor_encoder.cnns["front"], ImpalaEncoder)
    before = {n: copy.deepcopy(getattr(agent, n)) for n in ("encoder", "actor_encoder")}
    target_before = _params(agent.target_critic_encoder)
    agent.update(_batch(spec), torch.Generator().manual_seed(0))
    for name, old in before.items():  # the decoder's encoder (L_MF) and the actor's (L_f)
        moved = any(
            not torch.equal(a, b)
            for a, b in zip(old.parameters(), getattr(agent, name).parameters(), strict=True)
        )
        assert moved, name
    tau = agent.config.tau
    for t0, t1, online in zip(
        target_before,
        agent.target_critic_encoder.parameters(),
        agent.critic_encoder.parameters(),
        strict=True,
    ):
        torch.testing.assert_close(t1, (1 - tau) * t0 + tau * online, rtol=1e-5, atol=1e-6)
    # the actor's loss never reaches the decoder or the critic (nor their encoders)
    agent.opt_model.zero_grad(set_to_none=True)
    feat = agent.features(_batch(spec)["obs"])
    loss, _ = agent.actor_loss(
        feat, agent.actor_encoder(_batch(spec)["obs"]), agent.critic_encoder(_batch(spec)["obs"])
    )
    loss.backward()
    assert all(p.grad is None for p in agent.encoder.parameters())
    assert all(p.grad is None for p in agent.critic_encoder.parameters())
    assert any(p.grad is not None for p in agent.actor_encoder.parameters())


def test_warmup_cosine_schedule():
    from lps_robot.configs import make_config
    from lps_robot.train import lr_factor

    cfg = make_config(
        overrides={"steps": 100, "agent.lr_schedule": "warmup_cosine", "agent.warmup_frac": 0.1}
    )
    f = lr_factor(cfg)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(100) == pytest.approx(0.1)
    assert 0.1 < f(55) < 1.0


def test_fused_adam_steps_as_the_per_tensor_adam():
    """The optimisers are fused (one kernel for all parameters): the same arithmetic as
    torch's per-tensor Adam, within float rounding."""
    spec = small_spec()
    torch.manual_seed(0)
    fused = LPSAgent(spec, SMALL)
    loop = copy.deepcopy(fused)
    assert fused.opt_model.defaults["fused"] and fused.opt_actor.defaults["fused"]
    for name in ("opt_model", "opt_actor"):
        old = getattr(loop, name)
        setattr(loop, name, torch.optim.Adam(old.param_groups[0]["params"], lr=SMALL.lr))
    batch = _batch(spec)
    for seed in range(3):
        fused.update(batch, torch.Generator().manual_seed(seed))
        loop.update(batch, torch.Generator().manual_seed(seed))
    for p, q in zip(fused.parameters(), loop.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_bf16_encoders_run_only_the_encoders_in_bf16():
    """precision bf16_encoders: the convolutions of an update run in bf16, everything the
    losses see is fp32 and close to the fp32 update's; acting stays exactly fp32."""
    spec = small_spec()
    torch.manual_seed(0)
    a = LPSAgent(spec, SMALL)
    b = copy.deepcopy(a)
    b.encoder_autocast = True
    seen: dict[str, set] = {"conv": set(), "decoder": set()}
    convs = [m for m in b.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs
    for m in convs:
        m.register_forward_hook(lambda _m, _i, out: seen["conv"].add(out.dtype))
    b.decoder.register_forward_hook(lambda _m, _i, out: seen["decoder"].add(out.dtype))
    batch = _batch(spec, n=32)
    full = a.update(batch, torch.Generator().manual_seed(1))
    half = b.update(batch, torch.Generator().manual_seed(1))
    assert seen["conv"] == {torch.bfloat16}
    assert seen["decoder"] == {torch.float32}
    assert all(p.dtype == torch.float32 for p in b.parameters())
    for key in ("critic_loss", "mf_loss", "actor_loss"):
        assert torch.isfinite(half[key])
        torch.testing.assert_close(half[key], full[key], rtol=0.05, atol=0.02)
    b_bc = b.update_bc(batch, torch.Generator().manual_seed(2))
    assert torch.isfinite(b_bc["mf_loss"])
    seen["conv"].clear()
    c = copy.deepcopy(b)
    c.encoder_autocast = False
    z = torch.randn(4, b.d)
    obs = {k: v[:4] for k, v in batch["obs"].items()}
    torch.testing.assert_close(b.act(obs, z), c.act(obs, z), rtol=0, atol=0)
    assert seen["conv"] == {torch.float32}


def test_bf16_autocast_keeps_fp32_weights_and_close_losses():
    from lps_robot.agent import precision_context

    spec = small_spec()
    torch.manual_seed(0)
    a = LPSAgent(spec, SMALL)
    b = copy.deepcopy(a)
    batch = _batch(spec, n=32)
    full = a.update(batch, torch.Generator().manual_seed(1))
    with precision_context("bf16", "cpu"):
        half = b.update(batch, torch.Generator().manual_seed(1))
    assert all(p.dtype == torch.float32 for p in b.parameters())
    state = [s for s in b.opt_model.state.values()] + [s for s in b.opt_actor.state.values()]
    assert state and all(s["exp_avg"].dtype == torch.float32 for s in state)
    for key in ("critic_loss", "mf_loss", "actor_loss"):
        assert torch.isfinite(half[key])
        torch.testing.assert_close(half[key], full[key], rtol=0.05, atol=0.02)
    with pytest.raises(ValueError, match="precision"):
        precision_context("fp16", "cpu")
