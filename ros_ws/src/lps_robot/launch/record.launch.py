"""Record teleop demonstrations on a robot: RealSense camera node + recorder node.

    ros2 launch lps_robot record.launch.py output_dir:=/data/session1 robot_config:=robot.yaml

``camera:=none`` starts no camera node: the recorder reads the spec's camera topics from a
camera driver already running (realsense-ros, usb_cam, a bag).
    ros2 service call /lps_recorder/start std_srvs/srv/Trigger
    ros2 service call /lps_recorder/stop std_srvs/srv/SetBool "{data: true}"   # success label

The teleop device (leader arm, spacemouse bridge) publishes the operator's joint command on
/teleop/joint_command (std_msgs/Float64MultiArray); that is the recorded action.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from lps_robot.ros.tf import camera_transforms


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("lps_robot")
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "output_dir", default_value="recordings", description="episodes"
            ),
            DeclareLaunchArgument(
                "robot_config", default_value="", description="robot spec YAML (empty: sim arm)"
            ),
            DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
            DeclareLaunchArgument("serial", default_value="", description="RealSense serial"),
            DeclareLaunchArgument(
                "camera",
                default_value="realsense",
                choices=["realsense", "none"],
                description="realsense: start lps_camera; none: use a camera driver already "
                "publishing the spec's topics",
            ),
            Node(
                condition=IfCondition(
                    PythonExpression(["'", LaunchConfiguration("camera"), "' == 'realsense'"])
                ),
                package="lps_robot",
                executable="camera_node",
                name="lps_camera",
                namespace=LaunchConfiguration("namespace"),
                output="screen",
                parameters=[
                    PathJoinSubstitution([share, "config", "camera.yaml"]),
                    {"serial": LaunchConfiguration("serial")},
                ],
            ),
            Node(
                package="lps_robot",
                executable="recorder_node",
                name="lps_recorder",
                namespace=LaunchConfiguration("namespace"),
                output="screen",
                parameters=[
                    PathJoinSubstitution([share, "config", "record.yaml"]),
                    {
                        "output_dir": LaunchConfiguration("output_dir"),
                        "robot_spec": LaunchConfiguration("robot_config"),
                    },
                ],
            ),
            OpaqueFunction(function=camera_transforms),
        ]
    )
