"""HDF5 episodes: round trip with images, crash safety under SIGKILL, validator, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from lps_robot.cli import main as lps
from lps_robot.data.reader import list_episodes, load_episode, read_spec, summarize, validate
from lps_robot.data.writer import DatasetWriter, recover_partial
from tests.conftest import small_spec, write_episodes

REPO = Path(__file__).resolve().parents[1]


def test_roundtrip_with_images(tmp_path, spec):
    written = write_episodes(tmp_path / "ds", spec, [7, 4], [True, False])
    assert read_spec(tmp_path / "ds") == spec
    refs = list_episodes(tmp_path / "ds")
    assert [r.name for r in refs] == ["demo_0", "demo_1"]
    for ref, want in zip(refs, written, strict=True):
        ep = load_episode(ref)
        np.testing.assert_array_equal(ep["obs/front"], want["front"])
        np.testing.assert_array_equal(ep["obs/joint_pos"], want["joint_pos"])
        np.testing.assert_array_equal(ep["actions"], want["actions"])
        np.testing.assert_array_equal(ep["timestamps"], want["timestamps"])
        assert ep["obs/front"].dtype == np.uint8
    first, second = (load_episode(r) for r in refs)
    # sparse rewards from the label: -1 per step, 0 on the successful final (terminal) step
    np.testing.assert_array_equal(first["rewards"], [-1] * 6 + [0])
    assert first["terminals"].tolist() == [0] * 6 + [1] and first["timeouts"].sum() == 0
    np.testing.assert_array_equal(second["rewards"], [-1] * 4)
    assert second["timeouts"].tolist() == [0, 0, 0, 1] and second["terminals"].sum() == 0
    assert first["attrs"]["success"] is True and second["attrs"]["success"] is False
    assert validate(tmp_path / "ds") == []
    info = summarize(tmp_path / "ds")
    assert info["episodes"] == 2 and info["success_rate"] == 0.5
    assert info["measured_rate_hz"] == pytest.approx(10.0)


def test_images_are_stored_one_frame_per_chunk(tmp_path, spec):
    write_episodes(tmp_path, spec, [3], [True])
    with h5py.File(tmp_path / "demo_00000.h5") as f:
        assert f["data/demo_0/obs/front"].chunks == (1, 24, 32, 3)


def test_writer_rejects_bad_steps(tmp_path, spec):
    ep = DatasetWriter(tmp_path, spec).begin_episode()
    with pytest.raises(ValueError, match=r"obs/front: expected shape \(24, 32, 3\)"):
        ep.append(
            {"front": np.zeros((2, 2, 3), np.uint8), "joint_pos": np.zeros(3)},
            np.zeros(3),
            timestamp=0.0,
        )
    with pytest.raises(KeyError, match="obs/joint_pos: missing"):
        ep.append({"front": np.zeros((24, 32, 3), np.uint8)}, np.zeros(3), timestamp=0.0)
    ep.abort()
    assert list(tmp_path.iterdir()) == []


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from lps_robot.data.writer import DatasetWriter
    from tests.conftest import small_spec, write_episodes
    root = sys.argv[1]
    spec = small_spec()
    write_episodes(__import__("pathlib").Path(root), spec, [20, 15], [True, False])
    ep = DatasetWriter(root, spec, flush_every=10).begin_episode()
    rng = np.random.default_rng(1)
    for t in range(10**9):
        obs = {"front": rng.integers(0, 256, (24, 32, 3), dtype=np.uint8),
               "joint_pos": np.zeros(3, np.float32)}
        ep.append(obs, np.zeros(3, np.float32), timestamp=float(t))
        if t == 40:
            print("ready", flush=True)
    """
)


def test_sigkill_mid_episode_keeps_finished_episodes(tmp_path):
    root = tmp_path / "session"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(root)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # the two finished episodes are intact and valid; the killed one is marked partial
    assert sorted(p.name for p in root.iterdir()) == [
        "demo_00000.h5",
        "demo_00001.h5",
        "demo_00002.h5.partial",
    ]
    assert validate(root) == []
    assert [len(load_episode(r)["actions"]) for r in list_episodes(root)] == [20, 15]
    info = summarize(root)
    assert info["episodes"] == 2 and info["partial_files"][0].endswith("demo_00002.h5.partial")
    # the unfinished one is recoverable up to its last flush, or refused loudly: never silent
    try:
        recovered = recover_partial(root / "demo_00002.h5.partial")
    except OSError:
        return
    ep = load_episode(list_episodes(recovered)[0])
    assert len(ep["actions"]) >= 40 and ep["attrs"]["recovered"] is True
    assert ep["attrs"]["success"] is False and ep["timeouts"][-1] == 1
    assert validate(recovered) == []  # a salvaged episode is a valid (failed) one


# --- validator on bad files ------------------------------------------------------------------


def _one_episode(tmp_path: Path) -> Path:
    write_episodes(tmp_path / "ds", small_spec(), [6], [True])
    return tmp_path / "ds" / "demo_00000.h5"


def _edit(path: Path, fn) -> None:
    with h5py.File(path, "r+") as f:
        fn(f["data/demo_0"])


def test_validator_missing_key(tmp_path):
    p = _one_episode(tmp_path)
    _edit(p, lambda g: g.__delitem__("obs/joint_pos"))
    (problem,) = validate(p)
    assert "data/demo_0: dataset 'obs/joint_pos' is missing" in problem


def test_validator_wrong_dtype(tmp_path):
    p = _one_episode(tmp_path)

    def retype(g):
        a = g["actions"][()]
        del g["actions"]
        g["actions"] = a.astype(np.float64)

    _edit(p, retype)
    assert any("'actions' has dtype float64, expected float32" in m for m in validate(p))


def test_validator_wrong_shape(tmp_path):
    p = _one_episode(tmp_path)

    def reshape(g):
        del g["obs/front"]
        g["obs/front"] = np.zeros((6, 10, 10, 3), np.uint8)

    _edit(p, reshape)
    assert any(
        "'obs/front' has shape (6, 10, 10, 3), expected (T, *(24, 32, 3))" in m
        for m in validate(p)
    )


def test_validator_nan_actions(tmp_path):
    p = _one_episode(tmp_path)

    def poison(g):
        g["actions"][3, 1] = np.nan

    _edit(p, poison)
    (problem,) = validate(p)
    assert "'actions' has 1 NaN/inf values (first at step 3)" in problem


def test_validator_truncated_file(tmp_path):
    p = _one_episode(tmp_path)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    (problem,) = validate(p)
    assert str(p) in problem and ("truncated" in problem or "corrupt" in problem)


def test_validator_not_hdf5(tmp_path):
    p = tmp_path / "notes.h5"
    p.write_text("this is not an HDF5 file")
    assert validate(p) == [f"{p}: not an HDF5 file (bad signature; expected an episode .h5)"]


def test_validator_length_mismatch_and_missing_spec(tmp_path):
    p = _one_episode(tmp_path)

    def shorten(g):
        r = g["rewards"][()]
        del g["rewards"]
        g["rewards"] = r[:4]

    _edit(p, shorten)
    assert any("disagree on the number of steps" in m for m in validate(p))
    with h5py.File(p, "r+") as f:
        del f.attrs["spec"]
    assert any("root attribute 'spec' is missing" in m for m in validate(p))


def test_cli_validate_and_inspect(tmp_path, capsys):
    write_episodes(tmp_path / "ds", small_spec(), [5, 5, 5], [True, True, False])
    assert lps(["data", "validate", str(tmp_path / "ds")]) == 0
    assert lps(["data", "inspect", str(tmp_path / "ds")]) == 0
    out = capsys.readouterr().out
    assert "3 episodes, 15 steps" in out and "success rate 0.67" in out
    assert "measured control rate 10.00 Hz" in out and "obs/front" in out
    (tmp_path / "bad.h5").write_text("nope")
    assert lps(["data", "validate", str(tmp_path / "bad.h5")]) == 1
    assert "not an HDF5 file" in capsys.readouterr().err


# --- integrity: checksums on every dataset -----------------------------------------------------


def _flip_byte(path: Path, dataset: str, chunk: int = 0) -> None:
    """Flip one byte in the middle of a stored chunk of ``dataset`` (bit rot on disk)."""
    import h5py

    with h5py.File(path, "r") as f:
        (demo,) = f["data"]
        info = f["data"][demo][dataset].id.get_chunk_info(chunk)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("dataset", ["actions", "obs/joint_pos", "obs/front"])
def test_a_flipped_byte_anywhere_is_detected(tmp_path, dataset):
    from lps_robot.data.dataset import ChunkDataset

    p = _one_episode(tmp_path)
    _flip_byte(p, dataset)  # chunk 0: the first frame of an image stream, not the last
    (problem,) = validate(p)
    assert f"'{dataset}' cannot be read back" in problem and str(p) in problem
    if dataset == "obs/front":
        assert validate(p, quick=True) == []  # --quick reads only the last frame
    with pytest.raises(ValueError, match=rf"{p}:/data/demo_0: cannot read the episode"):
        ChunkDataset(p)


def test_episode_video_decodes_back(tmp_path, capsys):
    import av

    from lps_robot.cli import main as lps

    write_episodes(tmp_path / "ds", small_spec(), [7, 4], [True, False])
    out = tmp_path / "ep1.mp4"
    argv = ["data", "video", str(tmp_path / "ds"), "--episode", "1", "-o", str(out)]
    assert lps(argv) == 0
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape == (24, 32, 3)
    assert lps([*argv[:4], "5", "-o", str(out)]) == 1
    assert "episode 5 out of range" in capsys.readouterr().err


def test_episode_view_shows_camera_and_joint_plot(tmp_path):
    import av

    from lps_robot.cli import main as lps
    from lps_robot.data.video import joint_panel

    write_episodes(tmp_path / "ds", small_spec(), [7, 4], [True, False])
    out = tmp_path / "view.mp4"
    assert lps(["data", "view", str(tmp_path / "ds"), "--episode", "0", "-o", str(out)]) == 0
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    # camera 24x32 scaled to height 256 (width 341, padded even), plus a 512-wide plot
    assert len(frames) == 7 and frames[0].shape == (256, 342 + 512, 3)
    # the plot's cursor moves with the frame
    values = np.linspace(0, 1, 10)[:, None] * np.ones((1, 2))
    a = joint_panel(values, 0, np.zeros(2), np.ones(2), (64, 128))
    b = joint_panel(values, 9, np.zeros(2), np.ones(2), (64, 128))
    assert (a[:, 0] == 0).all() and (b[:, 127] == 0).all() and not (a[:, 127] == 0).all()
