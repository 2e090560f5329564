"""The live recorder over DDS takes the message types other drivers publish: a JointTrajectory
command (joints by name, in another order) and a png CompressedImage camera on
``<topic>/compressed``, converted as the rosbag2 importer converts them."""

from __future__ import annotations

import cv2
import numpy as np
from builtin_interfaces.msg import Duration
from sensor_msgs.msg import CompressedImage
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from lps_robot.ros.procs import free_domain
from tests.conftest import JOINTS, small_spec
from tests.ros_helpers import Probe, record_one_episode, start_node


def test_the_recorder_takes_trajectories_and_compressed_images(tmp_path):
    spec = small_spec()
    spec.save(tmp_path / "robot.yaml")
    cam = spec.camera("front")
    domain = free_domain()
    robot = start_node(
        "fake-robot", {"robot_spec": str(tmp_path / "robot.yaml")}, domain, tmp_path / "r.log"
    )
    params = {
        "robot_spec": str(tmp_path / "robot.yaml"),
        "output_dir": str(tmp_path / "eps"),
        "action_type": "joint_trajectory",
        "camera_transport": "compressed",
    }
    rec = start_node("recorder", params, domain, tmp_path / "recorder.log")
    probe = Probe(domain)
    traj = probe.node.create_publisher(JointTrajectory, "/teleop/joint_command", 10)
    img = probe.node.create_publisher(CompressedImage, f"{cam.topic}/compressed", 10)
    frame = np.zeros((cam.height, cam.width, 3), np.uint8)
    frame[..., 2] = 180  # blue in RGB
    _, jpeg = cv2.imencode(".png", frame[..., ::-1])

    def publish() -> None:
        point = JointTrajectoryPoint(positions=[0.2, 0.0, 0.1], time_from_start=Duration())
        names = [JOINTS[2], JOINTS[0], JOINTS[1]]
        traj.publish(JointTrajectory(joint_names=names, points=[point]))
        msg = CompressedImage(format="png", data=jpeg.tobytes())
        msg.header.stamp = probe.node.get_clock().now().to_msg()  # a driver stamps its frames
        img.publish(msg)

    probe.node.create_timer(0.02, publish)
    ep = record_one_episode(probe, [rec, robot], tmp_path / "eps")
    np.testing.assert_allclose(ep["actions"], [[0.0, 0.1, 0.2]] * len(ep["actions"]))
    assert len(ep["actions"]) >= 5
    assert (ep["obs/front"][..., 2] == 180).all() and (ep["obs/front"][..., :2] == 0).all()
