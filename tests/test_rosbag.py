"""rosbag2 import: a bag written with `rosbags` (as `ros2 bag record` would) becomes one
episode sampled at the control rate, like the live recorder."""

from __future__ import annotations

import numpy as np
import pytest

from lps_robot.cli import main as lps
from lps_robot.data.dataset import ChunkDataset
from lps_robot.data.reader import list_episodes, load_episode, validate
from tests.conftest import small_spec

rosbags = pytest.importorskip("rosbags")


def _write_bag(path, spec, seconds=1.0, stale_camera_after=None):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    JointState = ts.types["sensor_msgs/msg/JointState"]
    Image = ts.types["sensor_msgs/msg/Image"]
    Header = ts.types["std_msgs/msg/Header"]
    Time = ts.types["builtin_interfaces/msg/Time"]
    Multi = ts.types["std_msgs/msg/Float64MultiArray"]
    Layout = ts.types["std_msgs/msg/MultiArrayLayout"]
    cam = spec.camera("front")
    t0 = 1_000_000_000_000
    with Writer(path, version=9) as w:
        cj = w.add_connection("/joint_states", JointState.__msgtype__, typestore=ts)
        ci = w.add_connection(cam.topic, Image.__msgtype__, typestore=ts)
        ca = w.add_connection("/teleop/joint_command", Multi.__msgtype__, typestore=ts)
        for i in range(int(seconds * 100)):  # joints at 100 Hz, reversed order
            t = t0 + i * 10_000_000
            hdr = Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id="")
            pos = np.array([0.3, 0.2, 0.1 + i * 1e-3])
            msg = JointState(
                header=hdr,
                name=["j2", "j1", "j0"],
                position=pos[::-1].copy(),
                velocity=np.zeros(3),
                effort=np.zeros(0),
            )
            w.write(cj, t, ts.serialize_cdr(msg, JointState.__msgtype__))
            if i % 5 == 0:  # operator command at 20 Hz
                cmd = Multi(
                    layout=Layout(dim=[], data_offset=0), data=np.array([0.1, 0.2, i * 1e-3])
                )
                w.write(ca, t, ts.serialize_cdr(cmd, Multi.__msgtype__))
            if i % 3 == 0 and (stale_camera_after is None or i < stale_camera_after):
                img = np.full((cam.height, cam.width, 3), i % 256, np.uint8)
                m = Image(
                    header=hdr,
                    height=cam.height,
                    width=cam.width,
                    encoding="rgb8",
                    is_bigendian=0,
                    step=cam.width * 3,
                    data=img.reshape(-1),
                )
                w.write(ci, t, ts.serialize_cdr(m, Image.__msgtype__))


def test_a_bag_becomes_one_valid_episode(tmp_path, capsys):
    spec = small_spec()  # 10 Hz, joints j0..j2, camera 'front' 32x24
    spec.save(tmp_path / "robot.yaml")
    _write_bag(tmp_path / "bag", spec)
    argv = ["data", "import", str(tmp_path / "bag"), "--format", "rosbag2"]
    assert lps([*argv, "--spec", str(tmp_path / "robot.yaml"), "-o", str(tmp_path / "eps")]) == 0
    assert validate(tmp_path / "eps") == []
    (ref,) = list_episodes(tmp_path / "eps")
    ep = load_episode(ref)
    n = len(ep["actions"])
    assert 9 <= n <= 10  # 1 s at 10 Hz
    np.testing.assert_allclose(np.diff(ep["timestamps"]), 0.1, atol=1e-9)
    np.testing.assert_allclose(ep["obs/joint_pos"][:, :2], [[0.3, 0.2]] * n, atol=1e-6)  # by name
    assert (np.diff(ep["obs/joint_pos"][:, 2]) > 0).all()
    assert ep["obs/front"].shape == (n, 24, 32, 3) and ep["attrs"]["success"] is True
    ChunkDataset(tmp_path / "eps")  # trainable


def test_a_stale_camera_is_skipped_and_reported(tmp_path):
    from lps_robot.data.rosbag import import_rosbag

    spec = small_spec()
    _write_bag(tmp_path / "bag", spec, seconds=1.0, stale_camera_after=50)
    path, skipped = import_rosbag(tmp_path / "bag", spec, tmp_path / "eps", success=False)
    assert skipped.get(spec.camera("front").topic, 0) >= 3
    assert validate(tmp_path / "eps") == []
