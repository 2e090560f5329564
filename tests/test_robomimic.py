"""robomimic interop, checked with robomimic's own loader (installed without its heavy
dependencies: `pip install --no-deps robomimic`, as the Makefile does)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from lps_robot.cli import main as lps
from lps_robot.data.dataset import ChunkDataset
from lps_robot.data.reader import list_episodes, load_episode, summarize, validate
from lps_robot.data.robomimic import merge
from tests.conftest import small_spec, write_episodes

robomimic_dataset = pytest.importorskip("robomimic.utils.dataset")
ObsUtils = pytest.importorskip("robomimic.utils.obs_utils")


def _sequence_dataset(path, **kwargs):
    ObsUtils.initialize_obs_utils_with_obs_specs(
        {"obs": {"low_dim": ["joint_pos"], "rgb": ["front"]}}
    )
    return robomimic_dataset.SequenceDataset(
        hdf5_path=str(path),
        obs_keys=("joint_pos", "front"),
        dataset_keys=("actions", "rewards", "dones"),
        seq_length=3,
        hdf5_cache_mode=None,
        **kwargs,
    )


def test_robomimic_reads_a_merged_file_with_its_defaults(tmp_path):
    spec = small_spec()
    written = write_episodes(tmp_path / "ds", spec, [6, 5, 7], [True, False, True])
    out = merge(tmp_path / "ds", tmp_path / "merged.hdf5")
    ds = _sequence_dataset(out, load_next_obs=True, filter_by_attribute="train")
    assert len(ds) == 6 + 5 + 7  # every demo in train (valid takes every 10th)
    item = ds[0]
    np.testing.assert_allclose(item["obs"]["joint_pos"][0], written[0]["joint_pos"][0])
    np.testing.assert_allclose(item["next_obs"]["joint_pos"][0], written[0]["joint_pos"][1])
    assert item["actions"].shape == (3, 3)
    with h5py.File(out, "r") as f:
        import json

        env_args = json.loads(f["data"].attrs["env_args"])
        assert isinstance(env_args["type"], int) and "env_kwargs" in env_args
        assert f["mask/valid"].shape == (0,)
    assert validate(out) == []  # next_obs and masks do not upset our own validator


def _genuine_robomimic_file(path, spec, n_demos=2, length=6):
    """A robomimic-layout file as robomimic's tools write it: no lps_robot spec."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = '{"env_name": "Lift", "type": 1, "env_kwargs": {}}'
        for i in range(n_demos):
            g = data.create_group(f"demo_{i}")
            g.attrs["num_samples"] = length
            g["actions"] = rng.uniform(-0.5, 0.5, (length, 3))
            g["rewards"] = np.r_[np.zeros(length - 1), 1.0]
            g["dones"] = np.r_[np.zeros(length - 1), 1].astype(np.int64)
            g["obs/joint_pos"] = rng.uniform(-0.5, 0.5, (length, 3))
            g["obs/front"] = rng.integers(0, 256, (length, 24, 32, 3), dtype=np.uint8)
            g["obs/object"] = rng.normal(size=(length, 10))  # a key the spec does not use
        f["mask/train"] = np.array([b"demo_0", b"demo_1"])


def test_a_genuine_robomimic_file_is_explained_then_imported(tmp_path, capsys):
    spec = small_spec()
    src = tmp_path / "lift.hdf5"
    _genuine_robomimic_file(src, spec)
    (problem,) = validate(src)
    assert "robomimic-layout file without an lps_robot spec" in problem
    assert "lps data import --format robomimic" in problem
    assert lps(["data", "inspect", str(src)]) == 0  # summarised, no traceback
    assert "2 episodes, 12 steps" in capsys.readouterr().out
    spec.save(tmp_path / "robot.yaml")
    argv = ["data", "import", str(src), "--format", "robomimic"]
    argv += ["--spec", str(tmp_path / "robot.yaml"), "-o", str(tmp_path / "eps")]
    assert lps(argv) == 0
    assert validate(tmp_path / "eps") == []
    info = summarize(tmp_path / "eps")
    assert info["episodes"] == 2 and info["success_rate"] == 1.0
    ChunkDataset(tmp_path / "eps")  # trainable
    bad = small_spec().replace(obs=small_spec().obs.__class__((), (16, 16), None, ("q",), (3,)))
    bad.save(tmp_path / "bad.yaml")
    argv[argv.index(str(tmp_path / "robot.yaml"))] = str(tmp_path / "bad.yaml")
    argv[-1] = str(tmp_path / "eps2")
    assert lps(argv) == 1
    assert "needs obs/q" in capsys.readouterr().err


def test_robomimic_import_honours_a_filter_key_and_names_its_source(tmp_path, capsys):
    spec = small_spec()
    src = tmp_path / "lift.hdf5"
    _genuine_robomimic_file(src, spec)
    with h5py.File(src, "a") as f:
        f["mask/valid"] = np.array([b"demo_1"])
    spec.save(tmp_path / "robot.yaml")
    argv = ["data", "import", str(src), "--format", "robomimic", "--filter-key", "valid"]
    argv += ["--spec", str(tmp_path / "robot.yaml"), "-o", str(tmp_path / "eps")]
    assert lps(argv) == 0
    (ref,) = list_episodes(tmp_path / "eps")
    assert load_episode(ref)["attrs"]["operator_notes"] == "imported from lift.hdf5:/data/demo_1"
    argv[argv.index("valid")] = "test"
    assert lps(argv) == 1
    assert "no mask/test (filter keys: ['train', 'valid'])" in capsys.readouterr().err


def test_a_spec_proposed_from_a_robomimic_file_imports_it(tmp_path, capsys):
    """`lps spec init --from-dataset` on a robosuite-style file: images and vectors by shape,
    end-effector actions (robosuite's default controller), the file's control rate; --map
    renames a key; the file then imports with that spec and map."""
    from lps_robot.spec import Spec

    rng = np.random.default_rng(1)
    src = tmp_path / "lift.hdf5"
    with h5py.File(src, "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = (
            '{"env_name": "Lift", "type": 1, "env_kwargs": {"control_freq": 10}}'
        )
        for i in range(2):
            g = data.create_group(f"demo_{i}")
            g["actions"] = rng.uniform(-1, 1, (8, 7))
            g["obs/agentview_image"] = rng.integers(0, 256, (8, 16, 20, 3), dtype=np.uint8)
            g["obs/robot0_joint_pos"] = np.cumsum(rng.normal(0, 0.05, (8, 7)), axis=0)
            g["obs/robot0_eef_pos"] = rng.normal(size=(8, 3))
    out = tmp_path / "lift.yaml"
    args = ["--map", "agentview_image=front"]
    assert lps(["spec", "init", "--from-dataset", str(src), *args, "-o", str(out)]) == 0
    spec = Spec.load(out)
    assert [(c.name, c.height, c.width) for c in spec.cameras] == [("front", 16, 20)]
    assert spec.obs.proprio_keys == ("robot0_eef_pos", "robot0_joint_pos")
    assert spec.robot.control_rate_hz == 10.0 and spec.robot.num_joints == 7
    assert spec.action.type == "ee_delta" and spec.action.dim == 7
    assert all(v > 0 for v in spec.robot.velocity_limits)
    dest = tmp_path / "eps"
    cmd = [
        "data",
        "import",
        str(src),
        "--format",
        "robomimic",
        "--spec",
        str(out),
        "-o",
        str(dest),
    ]
    assert lps(cmd) == 1  # without the map the camera key is not in the file
    assert "obs/front" in capsys.readouterr().err
    assert lps([*cmd, *args]) == 0
    assert validate(dest) == []
    ep = load_episode(list_episodes(dest)[0])
    with h5py.File(src, "r") as f:
        np.testing.assert_array_equal(ep["obs/front"], f["data/demo_0/obs/agentview_image"][()])
    assert lps(["spec", "init", "--from-dataset", str(tmp_path / "none.h5"), "-o", str(out)]) == 1
    assert "neither a robomimic" in capsys.readouterr().err
