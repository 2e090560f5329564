"""ament_python package: launch files, configs and ROS executables for lps_robot.

The node code lives in the `lps_robot` Python package (installed with pip, deploy extras);
these entry points only call into `lps_robot.ros`. The ROS package is `lps_robot` (package.xml,
share/ and lib/ directories, `ros2 launch lps_robot ...`), but its Python distribution is
`lps_robot_ros`: colcon's entry-point scripts look their distribution up by name, and with the
pip package's name they found the pip distribution (no such entry point: StopIteration)
whenever it came first on the path.
"""

from glob import glob

from setuptools import setup

PACKAGE = "lps_robot"  # the ROS package name
DISTRIBUTION = "lps_robot_ros"  # the Python distribution name, distinct from the pip package's

setup(
    name=DISTRIBUTION,
    version="0.1.0",
    packages=[],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="lps_robot maintainers",
    description="LPS policy controller, recorder, camera and teleop nodes",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "policy_node = lps_robot.ros.controller_node:main",
            "fake_robot = lps_robot.ros.fake_robot:main",
            "camera_node = lps_robot.ros.camera_node:main",
            "recorder_node = lps_robot.ros.recorder_node:main",
            "sim_node = lps_robot.ros.sim_node:main",
            "teleop_node = lps_robot.ros.teleop_node:main",
        ]
    },
)
