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


def _variety_bag(path, spec, camera="compressed", command="joint_state", seconds=1.0):
    """A bag as other tools write them: joint states split over an arm and a gripper
    publisher (j0, j1 | j2), a CompressedImage (jpeg) or bgr8 Image camera, and the command
    as a JointState or a JointTrajectory (joints by name, in another order)."""
    import cv2
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    T = ts.types
    JointState, Header = T["sensor_msgs/msg/JointState"], T["std_msgs/msg/Header"]
    Time = T["builtin_interfaces/msg/Time"]
    cam = spec.camera("front")
    cam_type = "sensor_msgs/msg/CompressedImage" if camera == "compressed" else camera
    cmd_type = {
        "joint_state": "sensor_msgs/msg/JointState",
        "trajectory": "trajectory_msgs/msg/JointTrajectory",
    }[command]
    t0 = 2_000_000_000_000
    with Writer(path, version=9) as w:
        cj = w.add_connection("/joint_states", JointState.__msgtype__, typestore=ts)
        ci = w.add_connection(cam.topic, cam_type, typestore=ts)
        ca = w.add_connection("/teleop/joint_command", cmd_type, typestore=ts)
        for i in range(int(seconds * 100)):
            t = t0 + i * 10_000_000
            hdr = Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id="")
            arm = JointState(header=hdr, name=["j1", "j0"], position=np.array([0.2, 0.1]),
                             velocity=np.zeros(2), effort=np.zeros(0))  # fmt: skip
            w.write(cj, t, ts.serialize_cdr(arm, JointState.__msgtype__))
            if i % 2 == 0:  # the gripper driver, 50 Hz
                grip = JointState(header=hdr, name=["j2"], position=np.array([0.01 * i]),
                                  velocity=np.zeros(0), effort=np.zeros(0))  # fmt: skip
                w.write(cj, t, ts.serialize_cdr(grip, JointState.__msgtype__))
            if i % 5 == 0:
                target = [0.5, 0.4, i * 1e-3]  # j0, j1, j2
                if command == "joint_state":
                    msg = JointState(header=hdr, name=["j2", "j0", "j1"],
                                     position=np.array(target)[[2, 0, 1]], velocity=np.zeros(0),
                                     effort=np.zeros(0))  # fmt: skip
                else:
                    Point = T["trajectory_msgs/msg/JointTrajectoryPoint"]
                    Dur = T["builtin_interfaces/msg/Duration"]
                    point = Point(positions=np.array(target)[[2, 0, 1]], velocities=np.zeros(0),
                                  accelerations=np.zeros(0), effort=np.zeros(0),
                                  time_from_start=Dur(sec=0, nanosec=50_000_000))  # fmt: skip
                    msg = T[cmd_type](header=hdr, joint_names=["j2", "j0", "j1"], points=[point])
                w.write(ca, t, ts.serialize_cdr(msg, cmd_type))
            if i % 3 == 0:
                img = np.zeros((cam.height, cam.width, 3), np.uint8)
                img[..., 0] = 200  # red in RGB
                if cam_type.endswith("CompressedImage"):
                    ok, png = cv2.imencode(".png", img[..., ::-1])
                    m = T[cam_type](header=hdr, format="png", data=png.reshape(-1))
                elif cam_type.endswith("Image"):
                    m = T[cam_type](header=hdr, height=cam.height, width=cam.width,
                                    encoding="bgr8", is_bigendian=0, step=cam.width * 3,
                                    data=img[..., ::-1].reshape(-1).copy())  # fmt: skip
                else:
                    m = T[cam_type](data="not a camera")
                w.write(ci, t, ts.serialize_cdr(m, cam_type))


@pytest.mark.parametrize(
    "camera, command",
    [
        ("compressed", "joint_state"),
        ("compressed", "trajectory"),
        ("sensor_msgs/msg/Image", "trajectory"),
    ],
)
def test_other_tools_message_types_import(tmp_path, camera, command):
    from lps_robot.data.rosbag import import_rosbag

    spec = small_spec()
    _variety_bag(tmp_path / "bag", spec, camera, command)
    path, _ = import_rosbag(tmp_path / "bag", spec, tmp_path / "eps")
    assert validate(tmp_path / "eps") == []
    ep = load_episode(list_episodes(tmp_path / "eps")[0])
    np.testing.assert_allclose(ep["obs/joint_pos"][:, :2], [[0.1, 0.2]] * len(ep["actions"]))
    assert (np.diff(ep["obs/joint_pos"][:, 2]) > 0).all()  # the gripper's own publisher
    np.testing.assert_allclose(ep["actions"][:, :2], [[0.5, 0.4]] * len(ep["actions"]))
    assert (ep["obs/front"][..., 0] == 200).all() and (ep["obs/front"][..., 1:] == 0).all()


def test_an_unsupported_topic_type_is_refused_in_one_line_and_writes_nothing(tmp_path):
    from lps_robot.data.reader import DataError
    from lps_robot.data.rosbag import import_rosbag

    spec = small_spec()
    _variety_bag(tmp_path / "bag", spec, camera="std_msgs/msg/String")
    with pytest.raises(DataError) as e:
        import_rosbag(tmp_path / "bag", spec, tmp_path / "eps")
    msg = str(e.value)
    assert "\n" not in msg and spec.camera("front").topic in msg and "std_msgs/msg/String" in msg
    assert "CompressedImage" in msg
    assert not (tmp_path / "eps").exists() or not list((tmp_path / "eps").iterdir())


def test_a_bag_written_by_mcap_ros2_support_imports(tmp_path):
    """A bare .mcap file written by mcap-ros2-support (Foxglove's writer, not rosbags): split
    joint states, a png CompressedImage camera and a JointTrajectory command."""
    import cv2

    mcap_writer = pytest.importorskip("mcap_ros2.writer")
    from rosbags.typesys import Stores, get_typestore

    from lps_robot.data.rosbag import import_rosbag

    spec = small_spec()
    cam = spec.camera("front")
    ts = get_typestore(Stores.ROS2_JAZZY)
    types = ("sensor_msgs/msg/JointState", "sensor_msgs/msg/CompressedImage",
             "trajectory_msgs/msg/JointTrajectory")  # fmt: skip
    path = tmp_path / "session.mcap"
    img = np.zeros((cam.height, cam.width, 3), np.uint8)
    img[..., 1] = 180  # green in RGB
    png = cv2.imencode(".png", img[..., ::-1])[1].tobytes()
    t0 = 3_000_000_000_000
    with open(path, "wb") as f:
        w = mcap_writer.Writer(f)
        schemas = {t: w.register_msgdef(t, ts.generate_msgdef(t, ros_version=2)[0]) for t in types}
        for i in range(100):
            t = t0 + i * 10_000_000
            hdr = {"stamp": {"sec": t // 10**9, "nanosec": t % 10**9}, "frame_id": ""}

            def put(topic: str, kind: str, msg: dict, t: int = t) -> None:
                w.write_message(topic=topic, schema=schemas[kind], message=msg, log_time=t,
                                publish_time=t)  # fmt: skip

            js = types[0]
            put("/joint_states", js, {"header": hdr, "name": ["j1", "j0"],
                "position": [0.2, 0.1], "velocity": [0.0, 0.0], "effort": []})  # fmt: skip
            if i % 2 == 0:
                put("/joint_states", js, {"header": hdr, "name": ["j2"],
                    "position": [0.01 * i], "velocity": [], "effort": []})  # fmt: skip
            if i % 5 == 0:
                point = {
                    "positions": [i * 1e-3, 0.5, 0.4],
                    "velocities": [],
                    "accelerations": [],
                    "effort": [],
                    "time_from_start": {"sec": 0, "nanosec": 50_000_000},
                }
                put(
                    "/teleop/joint_command",
                    types[2],
                    {"header": hdr, "joint_names": ["j2", "j0", "j1"], "points": [point]},
                )
            if i % 3 == 0:
                put(cam.topic, types[1], {"header": hdr, "format": "png", "data": png})
        w.finish()
    import_rosbag(path, spec, tmp_path / "eps")
    assert validate(tmp_path / "eps") == []
    ep = load_episode(list_episodes(tmp_path / "eps")[0])
    assert len(ep["actions"]) >= 8
    np.testing.assert_allclose(ep["obs/joint_pos"][:, :2], [[0.1, 0.2]] * len(ep["actions"]))
    assert (np.diff(ep["obs/joint_pos"][:, 2]) > 0).all()
    np.testing.assert_allclose(ep["actions"][:, :2], [[0.5, 0.4]] * len(ep["actions"]))
    assert (ep["obs/front"][..., 1] == 180).all() and (ep["obs/front"][..., [0, 2]] == 0).all()
