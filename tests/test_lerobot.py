"""LeRobot v3 export and import (pyarrow + PyAV, no `lerobot` package): layout and round trip."""

import json

import numpy as np
import pytest

from lps_robot.data.lerobot import export_lerobot, import_lerobot
from lps_robot.data.reader import DataError, list_episodes, load_episode, validate
from lps_robot.sim.env import sim_spec
from lps_robot.sim.generate import generate


@pytest.fixture(scope="module")
def sim_episodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    generate(root / "eps", 3, seed=4, mistake_rate=0.5, progress=False, max_steps=60)
    return root / "eps"


def test_export_writes_the_v3_layout(sim_episodes, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "lr"
    result = export_lerobot(sim_episodes, out)
    info = json.loads((out / "meta/info.json").read_text())
    assert info["codebase_version"].startswith("v3.")
    assert info["total_episodes"] == 3 and info["fps"] == 20.0
    frames = pq.read_table(out / "data/chunk-000/file-000.parquet")
    want = {"action", "observation.state", "timestamp", "frame_index", "episode_index"}
    want |= {"index", "task_index", "next.reward", "next.done"}
    assert want <= set(frames.column_names)
    assert frames.num_rows == info["total_frames"] == result["frames"]
    assert frames.column("index").to_pylist() == list(range(frames.num_rows))
    episodes = pq.read_table(out / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["dataset_to_index"] - e["dataset_from_index"] for e in episodes] == [
        e["length"] for e in episodes
    ]
    assert (out / "videos/observation.images.front/chunk-000/file-000.mp4").stat().st_size > 0
    stats = json.loads((out / "meta/stats.json").read_text())
    assert np.asarray(stats["observation.images.front"]["mean"]).shape == (3, 1, 1)
    tasks = pq.read_table(out / "meta/tasks.parquet")
    assert tasks.column("task_index").to_pylist() == [0]
    assert json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] == ["task"]
    with pytest.raises(DataError, match="not empty"):
        export_lerobot(sim_episodes, out)


def test_round_trip_keeps_actions_states_labels_and_images(sim_episodes, tmp_path):
    export_lerobot(sim_episodes, tmp_path / "lr")
    written = import_lerobot(tmp_path / "lr", sim_spec(), tmp_path / "back")
    assert len(written) == 3
    assert validate(tmp_path / "back") == []
    for a, b in zip(list_episodes(sim_episodes), list_episodes(tmp_path / "back"), strict=True):
        ea, eb = load_episode(a), load_episode(b)
        np.testing.assert_array_equal(ea["actions"], eb["actions"])
        np.testing.assert_array_equal(ea["obs/joint_pos"], eb["obs/joint_pos"])
        np.testing.assert_array_equal(ea["rewards"], eb["rewards"])
        assert ea["attrs"]["success"] == eb["attrs"]["success"]
        # H.264 is lossy: the frames come back close, in order
        diff = np.abs(ea["obs/front"].astype(int) - eb["obs/front"].astype(int))
        assert diff.mean() < 4.0
        shifted = np.abs(ea["obs/front"][1:].astype(int) - eb["obs/front"][:-1].astype(int))
        assert diff[1:].mean() < shifted.mean()


def test_import_names_what_does_not_fit(sim_episodes, tmp_path):
    import dataclasses

    export_lerobot(sim_episodes, tmp_path / "lr")
    spec = sim_spec()
    assert spec.obs.proprio_dims == (6, 6)  # joint positions and velocities: 12 wide
    obs = dataclasses.replace(spec.obs, proprio_keys=("joint_pos",), proprio_dims=(6,))
    wrong = spec.replace(obs=obs)
    with pytest.raises(DataError, match=r"observation.state.shape \[12\], expected \[6\]"):
        import_lerobot(tmp_path / "lr", wrong, tmp_path / "x")
    info_path = tmp_path / "lr/meta/info.json"
    info = json.loads(info_path.read_text())
    info["codebase_version"] = "v2.1"
    info_path.write_text(json.dumps(info))
    with pytest.raises(DataError, match="expected v3"):
        import_lerobot(tmp_path / "lr", spec, tmp_path / "y")
    with pytest.raises(DataError, match="info.json"):
        import_lerobot(tmp_path / "nothing", spec, tmp_path / "z")


def test_cli_export_and_import(sim_episodes, tmp_path):
    from lps_robot.cli import main

    spec = tmp_path / "robot.yaml"
    sim_spec().save(spec)
    assert (
        main(
            [
                "data",
                "export",
                str(sim_episodes),
                "--format",
                "lerobot",
                "-o",
                str(tmp_path / "lr"),
            ]
        )
        == 0
    )
    args = ["data", "import", str(tmp_path / "lr"), "--format", "lerobot", "--spec", str(spec)]
    assert main([*args, "-o", str(tmp_path / "back")]) == 0
    assert len(list_episodes(tmp_path / "back")) == 3
    assert (
        main(
            [
                "data",
                "export",
                str(tmp_path / "none"),
                "--format",
                "lerobot",
                "-o",
                str(tmp_path / "x"),
            ]
        )
        == 1
    )


def test_a_spec_proposed_from_a_lerobot_dataset_imports_it(sim_episodes, tmp_path, capsys):
    """`lps spec init --from-dataset` on a LeRobot dataset: joint names, the state's split,
    cameras renamed by --map, the rate; the dataset then imports with that spec and map."""
    from lps_robot.cli import main as lps
    from lps_robot.spec import Spec

    export_lerobot(sim_episodes, tmp_path / "lr")
    out = tmp_path / "proposed.yaml"
    assert lps(["spec", "init", "--from-dataset", str(tmp_path / "lr"), "--map", "front=scene",
                "-o", str(out)]) == 0  # fmt: skip
    assert "--map front=scene" in capsys.readouterr().err
    spec, packaged = Spec.load(out), sim_spec()
    assert spec.robot.joint_names == packaged.robot.joint_names
    assert spec.obs.proprio_keys == ("joint_pos", "joint_vel") and spec.obs.proprio_dims == (6, 6)
    assert [c.name for c in spec.cameras] == ["scene"] and spec.robot.control_rate_hz == 20.0
    assert spec.action.type == "joint_position"
    first = load_episode(list_episodes(sim_episodes)[0])
    q = first["obs/joint_pos"]
    assert (np.asarray(spec.robot.position_lower) <= q.min(0)).all()
    assert (np.asarray(spec.robot.position_upper) >= q.max(0)).all()
    assert "Estimated from the data" in out.read_text()
    assert lps(["data", "import", str(tmp_path / "lr"), "--format", "lerobot", "--spec", str(out),
                "--map", "front=scene", "-o", str(tmp_path / "back")]) == 0  # fmt: skip
    back = load_episode(list_episodes(tmp_path / "back")[0])
    np.testing.assert_array_equal(back["actions"], first["actions"])
    assert back["obs/scene"].shape == first["obs/front"].shape


def test_a_dataset_at_another_rate_is_refused_or_resampled(sim_episodes, tmp_path):
    import dataclasses

    export_lerobot(sim_episodes, tmp_path / "lr")
    spec = sim_spec()
    slow = spec.replace(robot=dataclasses.replace(spec.robot, control_rate_hz=10.0))
    with pytest.raises(DataError, match="--resample"):
        import_lerobot(tmp_path / "lr", slow, tmp_path / "x")
    import_lerobot(tmp_path / "lr", slow, tmp_path / "half", resample=True)
    for a, b in zip(list_episodes(sim_episodes), list_episodes(tmp_path / "half"), strict=True):
        ea, eb = load_episode(a), load_episode(b)
        n = len(ea["actions"])
        assert len(eb["actions"]) == (n - 1) // 2 + 1
        np.testing.assert_array_equal(eb["actions"], ea["actions"][::2])
        np.testing.assert_allclose(np.diff(eb["timestamps"]), 0.1)
        assert eb["rewards"].sum() == pytest.approx(ea["rewards"].sum())
        assert eb["obs/front"].shape[0] == len(eb["actions"])


def test_an_image_dataset_is_read_frame_for_frame(sim_episodes, tmp_path):
    """`dtype: image` features (PNG cells in the data files, as LeRobot writes image datasets)
    are read and decoded exactly."""
    import shutil

    import cv2
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "lr"
    export_lerobot(sim_episodes, root)
    data = root / "data/chunk-000/file-000.parquet"
    table = pq.read_table(data)
    frames = np.concatenate([load_episode(e)["obs/front"] for e in list_episodes(sim_episodes)])
    cells = [
        {
            "bytes": cv2.imencode(".png", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes(),
            "path": "",
        }
        for f in frames
    ]
    cell_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    pq.write_table(
        table.append_column("observation.images.front", pa.array(cells, cell_type)), data
    )
    info = json.loads((root / "meta/info.json").read_text())
    info["features"]["observation.images.front"]["dtype"] = "image"
    (root / "meta/info.json").write_text(json.dumps(info))
    shutil.rmtree(root / "videos")
    import_lerobot(root, sim_spec(), tmp_path / "back")
    back = np.concatenate([load_episode(e)["obs/front"] for e in list_episodes(tmp_path / "back")])
    np.testing.assert_array_equal(back, frames)
