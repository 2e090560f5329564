"""Static TF of the spec cameras: the arguments the launch files give tf2_ros."""

import dataclasses

import numpy as np
import pytest

from lps_robot.ros.tf import static_transform_args
from lps_robot.sim.env import sim_spec
from lps_robot.spec import SpecError


def _rotation(qx: float, qy: float, qz: float, qw: float) -> np.ndarray:
    x, y, z, w = qx, qy, qz, qw
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def test_sim_camera_pose_matches_the_rendered_camera():
    """The spec's pose is the MuJoCo camera's: the optical z axis looks at the workspace."""
    import mujoco

    from lps_robot.sim.robots import ARM_XML

    spec = sim_spec()
    (args,) = static_transform_args(spec)
    values = dict(zip(args[::2], args[1::2], strict=True))
    assert values["--frame-id"] == "base_link"
    assert values["--child-frame-id"] == "front_color_optical_frame"
    xyz = np.array([float(values[k]) for k in ("--x", "--y", "--z")])
    rot = _rotation(*(float(values[k]) for k in ("--qx", "--qy", "--qz", "--qw")))
    m = mujoco.MjModel.from_xml_path(str(ARM_XML))
    d = mujoco.MjData(m)
    mujoco.mj_forward(m, d)
    cam = m.camera("front").id
    np.testing.assert_allclose(xyz, d.cam_xpos[cam], atol=1e-4)
    # MuJoCo cameras look along -z with y up; the optical frame looks along +z with y down
    want = d.cam_xmat[cam].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
    np.testing.assert_allclose(rot, want, atol=1e-4)
    # and the optical axis points from the camera at the table's workspace
    view = rot[:, 2]
    to_target = np.array([0.33, 0.0, 0.02]) - xyz
    assert view @ to_target / np.linalg.norm(to_target) > 0.999


def test_cameras_without_pose_get_no_transform_and_bad_poses_are_refused():
    spec = sim_spec()
    cam = dataclasses.replace(spec.cameras[0], pose=None)
    assert static_transform_args(spec.replace(cameras=(cam,))) == []
    named = dataclasses.replace(spec.cameras[0], frame_id="camera_color_optical_frame")
    assert static_transform_args(spec.replace(cameras=(named,)))[0][-1] == (
        "camera_color_optical_frame"
    )
    with pytest.raises(SpecError, match="pose"):
        dataclasses.replace(spec.cameras[0], pose=(0, 0, 0, 0, 0, 0, 2.0))
    with pytest.raises(SpecError, match="pose"):
        dataclasses.replace(spec.cameras[0], pose=(0, 0, 0))
