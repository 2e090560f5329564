"""Start the LPS policy controller on a robot.

    ros2 launch lps_robot policy.launch.py policy:=/path/policies/current.onnx \
        robot_config:=/path/robot.yaml namespace:=arm

Hot-swap while it runs:  ros2 param set /lps_policy policy_path /path/new.onnx
Enable commanding:       ros2 service call /lps_policy/enable std_srvs/srv/SetBool "{data: true}"
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from lps_robot.ros.tf import camera_transforms


def generate_launch_description() -> LaunchDescription:
    params = PathJoinSubstitution([FindPackageShare("lps_robot"), "config", "policy.yaml"])
    return LaunchDescription(
        [
            DeclareLaunchArgument("policy", default_value="", description="ONNX policy path"),
            DeclareLaunchArgument(
                "robot_config", default_value="", description="robot spec YAML (empty: sim arm)"
            ),
            DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
            DeclareLaunchArgument("params_file", default_value=params, description="node params"),
            Node(
                package="lps_robot",
                executable="policy_node",
                name="lps_policy",
                namespace=LaunchConfiguration("namespace"),
                output="screen",
                parameters=[
                    LaunchConfiguration("params_file"),
                    {
                        "policy_path": LaunchConfiguration("policy"),
                        "robot_spec": LaunchConfiguration("robot_config"),
                    },
                ],
            ),
            OpaqueFunction(function=camera_transforms),
        ]
    )
