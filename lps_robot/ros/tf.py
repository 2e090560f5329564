"""Static TF for the spec's cameras: where each camera's optical frame sits on the robot.

ROS 2's TF messages (tf2_msgs) have no wheel on PyPI, so the launch files start the standard
`tf2_ros static_transform_publisher` of the robot's ROS installation with the arguments made
here from the spec (`CameraSpec.pose`, `base_frame`, `optical_frame`).
"""

from __future__ import annotations

from lps_robot.spec import Spec


def static_transform_args(spec: Spec) -> list[list[str]]:
    """One `static_transform_publisher` argument list per camera that has a pose."""
    out = []
    for cam in spec.cameras:
        if cam.pose is None:
            continue
        names = ("--x", "--y", "--z", "--qx", "--qy", "--qz", "--qw")
        args = [a for flag, v in zip(names, cam.pose, strict=True) for a in (flag, repr(v))]
        out.append(args + ["--frame-id", cam.base_frame, "--child-frame-id", cam.optical_frame])
    return out
