"""Cameras: pyrealsense2 path with synthetic frames through its software device; camera node
over DDS on realsense-ros topic names."""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from lps_robot.camera import make_camera
from lps_robot.messages import image_to_rgb
from lps_robot.ros.procs import Probe, free_domain, start_node, stop


def test_realsense_camera_reads_color_and_aligned_depth():
    with make_camera("realsense_synthetic", width=64, height=48, fps=60, enable_depth=True) as cam:
        frames = [cam.read(timeout_s=3.0) for _ in range(5)]
        intr = cam.intrinsics
    assert intr.width == 64 and intr.height == 48 and intr.fx == pytest.approx(57.6)
    for f in frames:
        assert f.color.shape == (48, 64, 3) and f.color.dtype == np.uint8
        assert f.depth.shape == (48, 64) and f.depth.dtype == np.uint16
        assert f.domain == "hardware_clock"
    numbers = [f.frame_number for f in frames]
    stamps = [f.timestamp_s for f in frames]
    assert numbers == sorted(numbers) and len(set(numbers)) == 5
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert not np.array_equal(frames[0].color, frames[-1].color)  # a live stream


def test_realsense_camera_needs_connect_and_a_matching_profile():
    cam = make_camera("realsense_synthetic", width=64, height=48, fps=30)
    with pytest.raises(RuntimeError, match="before connect"):
        cam.read()
    from lps_robot.camera.realsense import RealSenseCamera
    from lps_robot.camera.synthetic import SyntheticRealSense

    wrong = RealSenseCamera(
        width=640, height=480, fps=30, device=SyntheticRealSense(64, 48).device
    )
    with pytest.raises(RuntimeError, match="no stream.color format.rgb8 profile at 640x480@30"):
        wrong.connect()


@pytest.mark.slow
def test_camera_node_publishes_realsense_topics(tmp_path):
    domain = free_domain()
    node = start_node(
        "camera",
        {
            "backend": "realsense_synthetic",
            "width": 64,
            "height": 48,
            "fps": 30,
            "enable_depth": True,
        },
        domain,
        tmp_path / "camera.log",
    )
    probe = Probe(domain)
    try:
        # a reliable subscriber (realsense-ros's default QoS) connects, as rviz would
        color = probe.listen(Image, "/camera/camera/color/image_raw", sensor_qos=False)
        info = probe.listen(CameraInfo, "/camera/camera/color/camera_info", sensor_qos=True)
        depth = probe.listen(
            Image, "/camera/camera/aligned_depth_to_color/image_raw", sensor_qos=True
        )
        probe.wait_for(lambda: {"msg"} <= set(color) & set(info) & set(depth), 30, "camera topics")
        first = image_to_rgb(color["msg"], 64, 48)
        probe.spin(0.5)
        assert not np.array_equal(first, image_to_rgb(color["msg"], 64, 48))
        assert info["msg"].width == 64 and info["msg"].k[0] == pytest.approx(57.6)
        assert depth["msg"].encoding == "16UC1" and depth["msg"].height == 48
    finally:
        probe.close()
        stop(node)
        print((tmp_path / "camera.log").read_text()[-2000:])
