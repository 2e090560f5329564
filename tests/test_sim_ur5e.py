"""The UR5e + Robotiq 2F-85 simulation: a robot this project did not write, composed at run
time from MuJoCo Menagerie's models as the ogbench wheel installs them, served over DDS as
ros2_control with a separate gripper driver serves a real one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import JointState

from lps_robot.ros.procs import free_domain
from lps_robot.sim.env import SimArmEnv, sim_spec
from lps_robot.sim.oracle import ScriptedTeleop
from lps_robot.sim.robots import UR5E_2F85
from tests.bad_models import make_model
from tests.ros_helpers import Probe, assert_commands_safe, start_node, stop

pytest.importorskip("ogbench")
SPEC = sim_spec(UR5E_2F85.name)
GRIPPER_TOPIC = "/gripper_controller/commands"
ARM_TOPIC = "/forward_position_controller/commands"


@pytest.fixture(scope="module")
def env():
    e = SimArmEnv(SPEC, render=True, max_steps=200)
    yield e
    e.close()


def test_the_scene_comes_from_the_installed_models_and_matches_its_spec(env):
    from lps_robot.sim.ur5e import descriptions

    m = env.model
    for i, name in enumerate(SPEC.robot.joint_names):
        lo, hi = m.jnt_range[m.joint(name).id]
        assert (lo, hi) == pytest.approx(
            (SPEC.robot.position_lower[i], SPEC.robot.position_upper[i]), abs=1e-4
        ), name
    assert SPEC.robot.joint_names[-1] == "robotiq_85_left_knuckle_joint"
    assert [g.joints for g in SPEC.robot.command_groups] == [(SPEC.robot.joint_names[-1],)]
    assert (descriptions() / "universal_robots_ur5e" / "ur5e.xml").is_file()
    repo = Path(__file__).resolve().parents[1] / "lps_robot"
    assert not [p for p in repo.rglob("*") if p.suffix.lower() in (".stl", ".obj")]
    # the reset pose puts the tool 15 cm above the table, pointing down
    env.reset(seed=0)
    tool = env.data.site(UR5E_2F85.grip_site)
    assert tool.xpos == pytest.approx([0.45, 0.0, 0.15], abs=0.01)
    assert tool.xmat.reshape(3, 3)[:, 2] == pytest.approx([0, 0, -1], abs=0.02)


def test_the_gripper_command_is_the_driver_joint_angle(env):
    env.reset(seed=1)
    command = env.home.copy()
    command[-1] = 0.4
    for _ in range(20):
        env.step(command)
    assert env.joint_pos()[-1] == pytest.approx(0.4, abs=0.03)
    assert env.data.ctrl[env.act_idx[-1]] == pytest.approx(0.4 * 255 / 0.8)


def test_the_scripted_operator_places_the_cube_and_its_mistakes_fail():
    env = SimArmEnv(SPEC, render=False, max_steps=200)
    outcomes = {}
    for rate in (0.0, 1.0):
        teleop = ScriptedTeleop(env, mistake_rate=rate, seed=3)
        wins = []
        for ep in range(6):
            env.reset(seed=100 + ep)
            teleop.reset()
            done = success = False
            grips = []
            while not done:
                action = teleop.act()
                grips.append(action[-1])
                _, _, success, truncated, _ = env.step(action)
                done = success or truncated or teleop.finished
            wins.append(success)
            # the operator's gripper commands move no faster than the spec allows (as a
            # policy's will, through the controller's filter)
            limit = SPEC.robot.velocity_limits[-1] / SPEC.robot.control_rate_hz
            assert np.abs(np.diff(grips)).max() <= limit + 1e-6
        outcomes[rate] = wins
    assert sum(outcomes[0.0]) >= 5, outcomes
    assert not any(outcomes[1.0]), outcomes


def test_both_cameras_see_the_cube(env):
    env.reset(seed=2)
    q = env.model.joint("cube").qposadr[0]
    env.data.qpos[q : q + 3] = [0.45, 0.02, 0.02]  # below the tool at its reset pose
    env.mj.mj_forward(env.model, env.data)
    obs = env.observe()
    for cam in ("front", "wrist"):
        img = obs[cam]
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        blue = (img[..., 2] > 150) & (img[..., 0] < 100) & (img[..., 1] < 150)
        assert blue.sum() >= 2, cam  # the cube


def test_arm_and_gripper_over_dds_from_two_publishers_on_two_topics(tmp_path):
    """The sim node serves the UR5e as ros2_control + a Robotiq driver would; the controller
    node drives it toward a target on both topics inside the limits and the step bound."""
    spec_path = UR5E_2F85.spec_path
    target = np.asarray(UR5E_2F85.home) + [0.5, 0.0, 0.0, 0.0, 0.0, 0.3, 0.0]
    target[-1] = 0.6
    make_model(SPEC, tmp_path / "a.onnx", target=target)
    domain = free_domain()
    sim = start_node("sim", {"robot_spec": spec_path}, domain, tmp_path / "sim.log")
    params = {
        "robot_spec": spec_path,
        "autostart": "activate",
        "policy_path": str(tmp_path / "a.onnx"),
    }
    node = start_node("policy", params, domain, tmp_path / "node.log")
    probe = Probe(domain)
    grip = probe.collect(GRIPPER_TOPIC)
    states: dict[tuple[str, ...], JointState] = {}
    probe.node.create_subscription(
        JointState, "/joint_states", lambda m: states.__setitem__(tuple(m.name), m), 100
    )

    def position(name: str) -> float:
        for names, msg in states.items():
            if name in names:
                return msg.position[names.index(name)]
        return float("nan")

    try:
        probe.wait_for(
            lambda: (
                abs(position("shoulder_pan_joint") - target[0]) < 0.05
                and abs(position("robotiq_85_left_knuckle_joint") - 0.6) < 0.05
            ),
            90,
            "the arm and the gripper at the policy's target",
        )
        assert node.poll() is None and sim.poll() is None
    finally:
        probe.close()
        stop(node)
        stop(sim)
    names = SPEC.robot.joint_names
    assert set(states) == {tuple(names[:6]), (names[6],)}  # two publishers, split by driver
    arm = [(t, c) for t, c in probe.commands]
    assert {len(c) for _, c in arm} == {6} and {len(c) for _, c in grip} == {1}
    full = [(t, a + g) for (t, a), (_, g) in zip(arm, grip, strict=False)]
    assert_commands_safe(SPEC, full)
    assert abs(grip[-1][1][0] - 0.6) < 1e-3
