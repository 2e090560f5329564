"""Record teleop demonstrations on a robot: RealSense camera node + recorder node.

    ros2 launch lps_robot record.launch.py output_dir:=/data/session1 robot_config:=robot.yaml
    ros2 service call /lps_recorder/start std_srvs/srv/Trigger
    ros2 service call /lps_recorder/stop std_srvs/srv/SetBool "{data: true}"   # success label

The teleop device (leader arm, spacemouse bridge) publishes the operator's joint command on
/teleop/joint_command (std_msgs/Float64MultiArray); that is the recorded action.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
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
            Node(
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
