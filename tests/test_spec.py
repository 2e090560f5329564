"""Spec round trips and validation errors that name the field."""

from __future__ import annotations

from importlib import resources

import pytest

from lps_robot.spec import NormStats, Spec, SpecError
from tests.conftest import small_spec


def test_roundtrip_yaml_and_json(tmp_path):
    spec = small_spec().replace(stats=NormStats((0.1, 0.2, 0.3), (1.0, 2.0, 3.0)))
    for name in ("s.yaml", "s.json"):
        spec.save(tmp_path / name)
        assert Spec.load(tmp_path / name) == spec
    assert Spec.from_json(spec.to_json()) == spec


def test_shipped_sim_arm_spec_loads():
    path = resources.files("lps_robot") / "specs" / "sim_arm.yaml"
    spec = Spec.load(str(path))
    assert spec.robot.num_joints == 6
    assert spec.obs.image_keys == ("front",)


def _broken(**patch) -> dict:
    d = small_spec().to_dict()
    for dotted, value in patch.items():
        node = d
        *parents, leaf = dotted.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return d


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"robot__position_lower": [-1.0, -2.0]}, "robot.position_lower: expected 3 values"),
        (
            {"robot__position_upper": [1.0, -3.0, 0.5]},
            "robot.position_lower[1]: expected lower < upper",
        ),
        ({"robot__velocity_limits": [1.0, 0.0, 1.0]}, "robot.velocity_limits[1]: expected > 0"),
        ({"robot__control_rate_hz": "fast"}, "robot.control_rate_hz: expected a number"),
        ({"robot__joint_names": ["a", "a", "b"]}, "robot.joint_names: expected unique"),
        ({"action__type": "torque"}, "action.type: expected one of"),
        (
            {"action__dim": 2, "action__low": [0, 0], "action__high": [1, 1]},
            "action.dim: expected 3",
        ),
        ({"obs__image_keys": ["wrist"]}, "obs.image_keys[0]: expected a camera name"),
        ({"obs__proprio_dims": [3, 4]}, "obs.proprio_dims: expected 1 values"),
        ({"policy__execute_steps": 9}, "policy.execute_steps: expected 1..chunk_length"),
        ({"robot__bogus": 1}, "robot.bogus: unknown field"),
    ],
)
def test_validation_errors_name_the_field(patch, message):
    with pytest.raises(SpecError) as err:
        Spec.from_dict(_broken(**patch))
    assert message in str(err.value)


def test_missing_required_field():
    d = small_spec().to_dict()
    del d["robot"]["joint_names"]
    with pytest.raises(SpecError, match=r"robot.joint_names: required field is missing"):
        Spec.from_dict(d)


def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("robot: [unclosed")
    with pytest.raises(SpecError, match="bad.yaml: not valid YAML"):
        Spec.load(bad)
    with pytest.raises(SpecError, match="missing.yaml: cannot read"):
        Spec.load(tmp_path / "missing.yaml")
