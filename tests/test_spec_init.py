"""`lps spec init`: specs from model files nobody here wrote (Menagerie's UR5e, from the
installed ogbench wheel), from the packaged sim arm, and from a URDF (a small one written
here: no real URDF is installable on this machine)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from lps_robot.cli import main as lps
from lps_robot.data.reader import validate
from lps_robot.data.writer import DatasetWriter
from lps_robot.robot_model import spec_from_model, write_spec
from lps_robot.ros.procs import free_domain
from lps_robot.spec import Spec, SpecError

UR5E_JOINTS = [
    "shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint",
    "wrist_1_joint", "wrist_2_joint", "wrist_3_joint",
]  # fmt: skip
UR5E_VELOCITY = 3.14159  # rad/s, every joint: Universal Robots' UR5e datasheet (180 deg/s)

URDF = """<robot name="two_link">
  <link name="base_link">
    <inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><geometry><cylinder radius="0.05" length="0.1"/></geometry></visual>
  </link>
  <link name="upper"><inertial><mass value="1"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><geometry><box size="0.05 0.05 0.3"/></geometry></visual></link>
  <link name="fore"><inertial><mass value="0.5"/><inertia ixx="0.01" iyy="0.01" izz="0.01" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><geometry><box size="0.04 0.04 0.25"/></geometry></visual></link>
  <link name="finger"><inertial><mass value="0.1"/><inertia ixx="0.001" iyy="0.001" izz="0.001" ixy="0" ixz="0" iyz="0"/></inertial></link>
  <joint name="shoulder" type="revolute"><parent link="base_link"/><child link="upper"/>
    <origin xyz="0 0 0.1"/><axis xyz="0 1 0"/><limit lower="-1.5" upper="1.5" effort="10" velocity="2.0"/></joint>
  <joint name="elbow" type="revolute"><parent link="upper"/><child link="fore"/>
    <origin xyz="0 0 0.3"/><axis xyz="0 1 0"/><limit lower="-2.0" upper="2.0" effort="10"/></joint>
  <joint name="slide" type="prismatic"><parent link="fore"/><child link="finger"/>
    <origin xyz="0 0 0.25"/><axis xyz="1 0 0"/><limit lower="0" upper="0.04" effort="5" velocity="0.1"/></joint>
</robot>
"""  # noqa: E501


def ur5e_mjcf() -> Path:
    import ogbench

    root = Path(ogbench.__file__).parent / "manipspace" / "descriptions"
    return root / "universal_robots_ur5e" / "ur5e.xml"


def _filled(data: dict, velocity: float) -> dict:
    robot = data["robot"]
    robot["velocity_limits"] = [velocity if v is None else v for v in robot["velocity_limits"]]
    return data


def test_the_installed_ur5e_gives_its_driver_joint_names_and_limits(tmp_path):
    out = tmp_path / "ur5e.yaml"
    assert lps(["spec", "init", "--mjcf", str(ur5e_mjcf()), "-o", str(out)]) == 0
    data = yaml.safe_load(out.read_text())
    assert data["robot"]["joint_names"] == UR5E_JOINTS
    assert np.allclose(data["robot"]["position_upper"], [6.28319] * 2 + [3.1415] + [6.28319] * 3)
    assert data["robot"]["velocity_limits"] == [None] * 6  # MuJoCo models have none
    with pytest.raises(SpecError) as e:
        Spec.load(out)
    line = str(e.value)
    assert "\n" not in line and "velocity_limits[0]" in line and "shoulder_pan_joint" in line
    out.write_text(yaml.safe_dump(_filled(data, UR5E_VELOCITY)))
    spec = Spec.load(out)
    # lps data validate accepts what it records
    w = DatasetWriter(tmp_path / "data", spec).begin_episode()
    for t in range(5):
        w.append({"joint_pos": np.zeros(6, np.float32), "joint_vel": np.zeros(6, np.float32)},
                 np.zeros(6, np.float32), timestamp=t / spec.robot.control_rate_hz)  # fmt: skip
    w.finish(True)
    assert validate(tmp_path / "data") == []


def test_the_controller_node_configures_on_the_ur5e_spec(tmp_path):
    import rclpy

    from lps_robot.ros.controller_node import PolicyNode

    data = _filled(spec_from_model(ur5e_mjcf(), rate_hz=50.0), UR5E_VELOCITY)
    path = tmp_path / "ur5e.yaml"
    path.write_text(yaml.safe_dump(data))
    args = ["--ros-args", "-p", f"robot_spec:={path}", "-p", "autostart:=configure"]
    rclpy.init(args=args, domain_id=free_domain())
    node = PolicyNode()
    try:
        assert node.lifecycle == "inactive", node.config_error
        assert node.robot.robot.joint_names == tuple(UR5E_JOINTS)
    finally:
        node.destroy_node()
        rclpy.shutdown()


def test_the_sim_arm_model_gives_back_its_packaged_spec():
    packaged = Spec.load("lps_robot/specs/sim_arm.yaml")
    data = spec_from_model("lps_robot/sim/arm.xml")
    robot = data["robot"]
    assert tuple(robot["joint_names"]) == packaged.robot.joint_names
    assert np.allclose(robot["position_lower"], packaged.robot.position_lower)
    assert np.allclose(robot["position_upper"], packaged.robot.position_upper)
    (cam,) = data["cameras"]
    want = np.array(packaged.camera("front").pose)
    got = np.array(cam["pose"])
    assert np.allclose(got[:3], want[:3], atol=1e-4)
    assert min(np.abs(got[3:] - want[3:]).max(), np.abs(got[3:] + want[3:]).max()) < 1e-4


def test_a_urdf_gives_its_velocity_limits_and_names_the_missing_one(tmp_path):
    urdf = tmp_path / "two_link.urdf"
    urdf.write_text(URDF)
    out = tmp_path / "two_link.yaml"
    todo = write_spec(spec_from_model(urdf), out, urdf)
    data = yaml.safe_load(out.read_text())
    assert data["robot"]["joint_names"] == ["shoulder", "elbow", "slide"]
    assert data["robot"]["velocity_limits"] == [2.0, None, 0.1]
    assert np.allclose(data["robot"]["position_lower"], [-1.5, -2.0, 0.0])
    assert todo == ["robot.velocity_limits[1] (elbow)"]
    with pytest.raises(SpecError, match=r"velocity_limits\[1\]: joint 'elbow' has none"):
        Spec.load(out)


def test_a_bad_model_file_is_refused_in_one_line(tmp_path, capsys):
    bad = tmp_path / "broken.xml"
    bad.write_text("<mujoco><worldbody><body><joint type='hinge'/></body>")
    assert lps(["spec", "init", "--mjcf", str(bad), "-o", str(tmp_path / "x.yaml")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lps spec init:") and "broken.xml" in err and "\n" not in err
    assert not os.path.exists(tmp_path / "x.yaml")
