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


def camera_transforms(context, *args, **kwargs) -> list:
    """The launch files' `OpaqueFunction`: a `static_transform_publisher` node per spec camera
    with a pose, for the spec named by the ``robot_config`` launch argument (empty: the sim
    arm's). Needs the robot's ROS launch packages (not installable from PyPI)."""
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from lps_robot.sim.env import sim_spec

    path = LaunchConfiguration("robot_config").perform(context)
    spec = Spec.load(path) if path else sim_spec()
    return [
        Node(
            package="tf2_ros",
            executable="static_transform_publisher",
            name=f"camera_tf_{i}",
            namespace=LaunchConfiguration("namespace"),
            arguments=args,
        )
        for i, args in enumerate(static_transform_args(spec))
    ]
