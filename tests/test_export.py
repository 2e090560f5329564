"""Export: graph + manifest + parity; OnnxPolicy validation and rejection reasons."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from lps_robot.agent import LPSAgent
from lps_robot.export import dummy_inputs, export
from lps_robot.preprocess import denormalize_action
from lps_robot.runtime.manifest import MANIFEST_KEY, PolicyRejected
from lps_robot.runtime.policy import OnnxPolicy
from lps_robot.spec import NormStats
from tests.conftest import small_spec
from tests.test_agent import SMALL


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    spec = small_spec().replace(stats=NormStats((0.1, -0.2, 0.3), (0.5, 1.0, 2.0)))
    agent = LPSAgent(spec, SMALL).eval()
    out = tmp_path_factory.mktemp("pol")
    lps = export(agent, out / "lps.onnx", algo="lps", dataset_fingerprint="abc")
    bc = export(agent, out / "bc.onnx", algo="bc")
    return agent, out, lps, bc


def test_manifest_travels_in_metadata_props(exported):
    agent, out, manifest, _ = exported
    model = onnx.load(out / "lps.onnx")
    props = {p.key: p.value for p in model.metadata_props}
    stored = json.loads(props[MANIFEST_KEY])
    assert stored["spec"]["robot"]["joint_names"] == ["j0", "j1", "j2"]
    assert stored["spec"]["stats"]["proprio_std"] == [0.5, 1.0, 2.0]
    for key in (
        "preprocessing",
        "training_config",
        "dataset_fingerprint",
        "git_revision",
        "export_time",
        "content_hash",
        "inputs",
        "outputs",
    ):
        assert key in stored
    assert [i["name"] for i in stored["inputs"]] == ["front", "joint_pos"]
    assert stored["inputs"][0]["dtype"] == "uint8"
    assert manifest["parity_max_abs_diff"] <= 1e-5


def test_onnx_policy_matches_torch(exported):
    agent, out, _, _ = exported
    policy = OnnxPolicy(out / "lps.onnx", agent.spec)
    feed = dummy_inputs(agent, latent_input=False, seed=7)
    got = policy({k: v[0] for k, v in feed.items()})
    with torch.no_grad():
        ref = agent.act({k: torch.from_numpy(v) for k, v in feed.items()})[0].numpy()
    np.testing.assert_allclose(got, denormalize_action(ref, agent.spec), atol=1e-5)
    assert got.shape == (3, 3)


def test_bc_policy_takes_an_explicit_latent(exported):
    agent, out, _, bc = exported
    assert bc["latent"] == "input"
    policy = OnnxPolicy(out / "bc.onnx", agent.spec)
    feed = dummy_inputs(agent, latent_input=True, seed=3)
    obs = {k: v[0] for k, v in feed.items() if k != "latent"}
    got = policy(obs, latent=feed["latent"])
    with torch.no_grad():
        ref = agent.act(
            {k: torch.from_numpy(v) for k, v in feed.items() if k != "latent"},
            z=torch.from_numpy(feed["latent"]),
        )[0].numpy()
    np.testing.assert_allclose(got, denormalize_action(ref, agent.spec), atol=1e-5)
    a, b = policy(obs), policy(obs)  # sampled latents differ
    assert not np.allclose(a, b)


def _robot(**robot_changes):
    spec = small_spec()
    return spec.replace(robot=dataclasses.replace(spec.robot, **robot_changes))


@pytest.mark.parametrize(
    ("robot", "reason"),
    [
        (_robot(joint_names=("j1", "j0", "j2")), "joint order"),
        (_robot(joint_names=("a", "b", "c")), "joint names"),
        (_robot(position_upper=(1.0, 2.0, 0.6)), "position_upper of joint 'j2'"),
        (_robot(control_rate_hz=50.0), "trained at 10.0 Hz"),
        (
            small_spec().replace(obs=dataclasses.replace(small_spec().obs, image_size=(32, 32))),
            "images",
        ),
    ],
)
def test_mismatched_robot_is_refused_with_a_reason(exported, robot, reason):
    _, out, _, _ = exported
    with pytest.raises(PolicyRejected, match=reason):
        OnnxPolicy(out / "lps.onnx", robot)


def test_bad_files_are_refused(exported, tmp_path):
    agent, out, _, _ = exported
    model = onnx.load(out / "lps.onnx")
    del model.metadata_props[:]
    onnx.save(model, tmp_path / "bare.onnx")
    with pytest.raises(PolicyRejected, match="no 'lps_manifest'"):
        OnnxPolicy(tmp_path / "bare.onnx", agent.spec)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(PolicyRejected, match="not a loadable ONNX model"):
        OnnxPolicy(tmp_path / "junk.onnx", agent.spec)
    with pytest.raises(PolicyRejected, match="cannot read model"):
        OnnxPolicy(tmp_path / "missing.onnx", agent.spec)
    with pytest.raises(PolicyRejected, match="warm-up p99 latency"):
        OnnxPolicy(out / "lps.onnx", agent.spec, max_warmup_p99_ms=1e-6)


def test_runtime_never_imports_torch():
    code = (
        "import sys, lps_robot.runtime.policy, lps_robot.runtime.executor, "
        "lps_robot.runtime.safety, lps_robot.preprocess; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_export_says_nothing_about_torchvision(tmp_path, caplog):
    """torch's exporter logs one warning per torchvision operator when torchvision is
    absent; the policy uses none, so export keeps them out of the user's terminal."""
    import logging

    torch.manual_seed(0)
    agent = LPSAgent(small_spec(), SMALL).eval()
    with caplog.at_level(logging.WARNING):
        export(agent, tmp_path / "p.onnx", algo="lps")
    assert not [r for r in caplog.records if "torchvision" in r.getMessage()]
