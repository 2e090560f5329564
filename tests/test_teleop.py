"""Teleop without ROS: device mappings, the differential IK and the teleop tick's safety."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lps_robot.dcio import ConfigError
from lps_robot.ros.teleop_params import default_model_path
from lps_robot.runtime.safety import SafetyFilter
from lps_robot.sim.env import SimArmEnv
from lps_robot.sim.oracle import home_pose
from lps_robot.spec import Spec
from lps_robot.teleop.command import TeleopCommand, bounded
from lps_robot.teleop.ik import DiffIK, IKError
from lps_robot.teleop.joy import JoyMapping, joy_to_command
from lps_robot.teleop.keyboard import FIRST_HOLD_S, REPEAT_HOLD_S, KeyTwist
from lps_robot.teleop.leader import LeaderMap
from lps_robot.teleop.loop import Input, TeleopLoop

SPEC = Spec.load("lps_robot/specs/sim_arm.yaml")
ROBOT = SPEC.robot
ARM = ROBOT.joint_names[:5]
LIMITS = dict(zip(ROBOT.joint_names, ROBOT.velocity_limits, strict=True))
BOX = ([0.1, -0.4, 0.02], [0.6, 0.4, 0.45])
DT = 1.0 / ROBOT.control_rate_hz
DEMO_SPEED = 0.35  # m/s: the scripted operator's Cartesian speed in the demo's data


@pytest.fixture(scope="module")
def home() -> np.ndarray:
    return home_pose(SimArmEnv(SPEC))


def make_ik() -> DiffIK:
    return DiffIK(default_model_path(), ARM, "grip", LIMITS, BOX)


# --- devices -----------------------------------------------------------------------------------


def test_joy_default_mapping_deadman_and_gripper():
    m = JoyMapping()
    axes = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]  # left stick fully forward
    cmd = joy_to_command(axes, [0, 0, 0, 0, 1], m)  # LB held
    assert cmd.deadman and np.allclose(cmd.linear, [m.max_linear, 0, 0])
    assert cmd.gripper is None
    assert joy_to_command(axes, [1, 0, 0, 0, 0], m).gripper == 1.0  # A closes, no deadman
    assert not joy_to_command(axes, [1], m).deadman
    assert joy_to_command(axes, [0, 1], m).gripper == 0.0  # B opens
    assert joy_to_command(axes, [1, 1], m).gripper is None  # both: no change


def test_joy_deadzone_clipping_and_short_messages():
    m = JoyMapping()
    assert not joy_to_command([0.05, -0.09], [0] * 5, m).linear.any()  # inside the deadzone
    cmd = joy_to_command([0.0, 7.0], [0] * 5, m)  # a glitch beyond -1..1 is clipped
    assert np.allclose(cmd.linear, [m.max_linear, 0, 0])
    empty = joy_to_command([], [], m)  # a pad with no axes or buttons at all
    assert not empty.deadman and not empty.linear.any() and not empty.angular.any()


def test_joy_mapping_file_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "pad.yaml"
    bad.write_text("linear_x: {axis: 1, scal: 2.0}\n")
    with pytest.raises(ConfigError, match="pad.yaml.*scal"):
        JoyMapping.load(bad)
    bad.write_text("deadzone: 1.5\n")
    with pytest.raises(ConfigError, match="pad.yaml.*deadzone"):
        JoyMapping.load(bad)
    good = tmp_path / "flip.yaml"
    good.write_text("linear_x: {axis: 1, scale: -1.0}\ndeadman_button: 5\n")
    m = JoyMapping.load(good)
    cmd = joy_to_command([0.0, 1.0], [0, 0, 0, 0, 0, 1], m)
    assert cmd.deadman and cmd.linear[0] == -m.max_linear


def test_bounded_drops_the_deadman_on_non_finite_input_and_caps_speed():
    nan = TeleopCommand(np.array([np.nan, 0, 0]), np.zeros(3), None, True)
    assert not bounded(nan, 0.1, 0.5).deadman
    inf_grip = TeleopCommand(np.zeros(3), np.zeros(3), float("inf"), True)
    assert not bounded(inf_grip, 0.1, 0.5).deadman
    fast = bounded(
        TeleopCommand(np.array([3.0, 4.0, 0]), np.array([0, 0, 9.0]), 2.0, True), 0.1, 0.5
    )
    assert np.isclose(np.linalg.norm(fast.linear), 0.1) and np.allclose(
        fast.linear[:2], [0.06, 0.08]
    )
    assert np.isclose(fast.angular[2], 0.5) and fast.gripper == 1.0
    huge = bounded(TeleopCommand(np.array([1e308, 1e308, 0]), np.zeros(3), None, True), 0.1, 0.5)
    assert np.allclose(huge.linear, [0.1 / np.sqrt(2), 0.1 / np.sqrt(2), 0.0])


def test_keyboard_moves_while_a_key_repeats_and_stops_when_it_does_not():
    keys = KeyTwist(max_linear=0.1)
    keys.press("w", 10.0)
    assert keys.command(10.0 + FIRST_HOLD_S - 0.01).deadman  # the repeat delay is covered
    for i in range(10):  # auto-repeat at 30 Hz
        keys.press("w", 10.5 + i / 30)
    last = 10.5 + 9 / 30
    cmd = keys.command(last + REPEAT_HOLD_S - 0.01)
    assert cmd.deadman and np.allclose(cmd.linear, [0.1, 0, 0])
    assert not keys.command(last + REPEAT_HOLD_S + 0.01).deadman  # released: stops
    keys.press("c", last + 1)  # the gripper key counts as the deadman for a moment, no motion
    grip = keys.command(last + 1)
    assert grip.gripper == 1.0 and grip.deadman and not grip.linear.any()
    assert not keys.command(last + 1 + FIRST_HOLD_S + 0.01).deadman


def test_leader_map_offsets_scales_and_missing_joints(tmp_path):
    f = tmp_path / "leader.yaml"
    f.write_text("joints:\n  gripper: {leader: trigger, scale: -0.05, offset: 0.05}\n")
    m = LeaderMap.load(ROBOT.joint_names, f)
    names = [*ROBOT.joint_names[:5], "trigger"]
    out = m(names, [0.1, 0.2, 0.3, 0.4, 0.5, 1.0])
    assert np.allclose(out, [0.1, 0.2, 0.3, 0.4, 0.5, 0.0])
    assert m(names[:3], [0.0] * 3) is None  # a mapped leader joint missing
    assert m(names, [0.1, np.nan, 0.3, 0.4, 0.5, 1.0]) is None
    f.write_text("joints:\n  elbo: {leader: x}\n")
    with pytest.raises(ConfigError, match="leader.yaml.*elbo"):
        LeaderMap.load(ROBOT.joint_names, f)


# --- IK ------------------------------------------------------------------------------------


def test_ik_refuses_a_model_without_the_site_or_joints():
    with pytest.raises(IKError, match="site 'tool0'"):
        DiffIK(default_model_path(), ARM, "tool0", LIMITS, BOX)
    with pytest.raises(IKError, match="no joints"):
        DiffIK(default_model_path(), ["wrist_3_joint"], "grip", {"wrist_3_joint": 1.0}, BOX)


def _track(ik: DiffIK, q0, direction, limits, ticks: int = 6) -> list[float]:
    """Per-tick tracking errors (achieved minus commanded tool step) of a constant twist at
    the demo's speed from ``q0``; every joint step within its velocity bound."""
    v = np.asarray(direction, float) * DEMO_SPEED
    q = np.asarray(q0, float).copy()
    p, _ = ik.site_pose(q)
    errors = []
    for _ in range(ticks):
        q_next = ik.step(q, v, np.zeros(3), DT)
        assert (np.abs(q_next - q) <= np.asarray(limits) * DT + 1e-9).all()
        p_next, _ = ik.site_pose(q_next)
        errors.append(float(np.linalg.norm((p_next - p) - v * DT)))
        q, p = q_next, p_next
    return errors


@pytest.mark.parametrize(
    "direction", [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
)
def test_ik_tracks_the_twist_within_5_mm_per_tick_at_the_demo_speed(home, direction):
    # 0.3 s, 10 cm: inside the box from the home pose in every direction
    errors = _track(make_ik(), home[:5], direction, [LIMITS[j] for j in ARM])
    print(f"{direction}: per-tick tracking error max {max(errors) * 1e3:.2f} mm")
    assert max(errors) <= 0.005


def test_ik_keeps_the_end_effector_in_the_workspace_box(home):
    ik = make_ik()
    q = home[:5].copy()
    for _ in range(100):  # 5 s straight down at full speed
        q = ik.step(q, np.array([0.0, 0.0, -DEMO_SPEED]), np.zeros(3), DT)
    p, _ = ik.site_pose(q)
    assert p[2] >= BOX[0][2] - 0.002, p


# --- the teleop tick -------------------------------------------------------------------------


def _loop() -> TeleopLoop:
    return TeleopLoop(ROBOT, make_ik(), "gripper", timeout_s=0.25)


def test_motion_needs_the_deadman_and_fresh_input(home):
    loop = _loop()
    go = TeleopCommand(np.array([0.0, 0.1, 0.0]), np.zeros(3), 1.0, True)
    first, status = loop.tick(0.0, home, None, Input(go, time=0.0))
    assert status == "moving" and first[5] > home[5]  # the gripper closes
    held, status = loop.tick(0.05, home, None, Input(TeleopCommand(), time=0.05))
    assert status == "deadman_released" and np.array_equal(held, first)
    stale, status = loop.tick(0.31, home, None, Input(go, time=0.05))
    assert status == "input_timeout" and np.array_equal(stale, first)
    _, status = loop.tick(0.32, home, None, Input(go, time=0.32))
    assert status == "moving"


commands = st.builds(
    TeleopCommand,
    linear=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3).map(
        np.array
    ),
    angular=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3).map(
        np.array
    ),
    gripper=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    deadman=st.booleans(),
)


def _drive_safely(home: np.ndarray, inputs: list[tuple[TeleopCommand, float]]) -> None:
    """Feed (command, its age) tick by tick to a perfect follower: every command is finite,
    inside the joint limits and within the step and arm bounds."""
    loop, bound = _loop(), SafetyFilter(ROBOT)
    lower, upper = np.array(ROBOT.position_lower), np.array(ROBOT.position_upper)
    now, last, position = 0.0, None, home.copy()
    for cmd, age in inputs:
        now += DT
        out, _ = loop.tick(now, position, None, Input(cmd, time=now - age))
        if out is None:
            continue
        assert np.isfinite(out).all()
        assert (out >= lower - 1e-9).all() and (out <= upper + 1e-9).all()
        if last is not None:
            assert (np.abs(out - last) <= bound.max_step + 1e-9).all()
        assert (np.abs(out - position) <= bound.arm_bound + 1e-9).all()
        last, position = out, out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(commands, st.floats(0.0, 0.4)), min_size=1, max_size=12))
def test_hostile_input_never_leaves_the_limits_or_the_step_bound(home, stream):
    _drive_safely(home, stream)


def test_a_virtual_gamepad_reads_back_as_the_command_it_encodes():
    from lps_robot.teleop.joy import command_to_joy

    m = JoyMapping()
    cmd = TeleopCommand(np.array([0.05, -0.1, 0.02]), np.array([0.0, 0.0, 0.3]), 1.0, True)
    back = joy_to_command(*command_to_joy(cmd, m), m)
    assert back.deadman and back.gripper == 1.0
    assert np.allclose(back.linear, cmd.linear) and np.allclose(back.angular, cmd.angular)
    idle = joy_to_command(*command_to_joy(TeleopCommand(), m), m)
    assert not idle.deadman and idle.gripper is None and not idle.linear.any()


hostile = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(hostile, max_size=8),
            st.lists(st.integers(-5, 5), max_size=12),
            st.floats(0.0, 0.4),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_hostile_joy_messages_never_leave_the_limits_or_the_step_bound(home, stream):
    mapping = JoyMapping()
    _drive_safely(home, [(joy_to_command(a, b, mapping), age) for a, b, age in stream])


def test_the_scripted_operator_on_a_virtual_gamepad_does_the_task():
    """What `lps record --sim` and the demo record: the operator's stick (steer) read back
    from Joy, solved by the teleop tick, one command late (as over DDS); careful attempts
    succeed and every command stays inside the limits and the step bound."""
    from lps_robot.sim.oracle import ScriptedTeleop
    from lps_robot.teleop.joy import command_to_joy

    env = SimArmEnv(SPEC, render=False, max_steps=200, seed=0)
    pad = JoyMapping(max_linear=0.5, deadzone=0.0)
    operator = ScriptedTeleop(env, 0.01, seed=0)
    bound = np.asarray(ROBOT.velocity_limits) * DT
    successes = 0
    for episode in range(3):
        env.reset(seed=episode)
        operator.reset()
        loop = TeleopLoop(ROBOT, make_ik(), "gripper", 0.25, 0.5)
        t, pending, last, success, gaps = 0.0, None, None, False, []
        for _ in range(200):
            velocity, grip = operator.steer()
            gaps.append(np.linalg.norm(operator.cursor - operator.ik_site_pos()))
            cmd = TeleopCommand(linear=velocity, gripper=grip, deadman=True)
            cmd = joy_to_command(*command_to_joy(cmd, pad), pad)
            position = env.joint_pos().astype(np.float64)
            command, status = loop.tick(t, position, None, Input(command=cmd, time=t))
            assert status == "moving", status
            assert (command >= np.asarray(ROBOT.position_lower) - 1e-9).all()
            assert (command <= np.asarray(ROBOT.position_upper) + 1e-9).all()
            if last is not None:
                assert (abs(command - last) <= bound + 1e-9).all()
            last = command
            action, pending = (pending if pending is not None else position), command
            _, _, success, truncated, _ = env.step(action.astype(np.float32))
            t += DT
            if success or truncated or operator.finished:
                break
        successes += success
        assert np.mean(gaps) < 0.04  # the tool follows the operator's plan
    assert successes >= 2, successes


@pytest.mark.parametrize("direction", [(1, 0, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)])
def test_the_teleop_ik_drives_the_ur5e_from_its_menagerie_model(direction):
    """A robot this project did not write: the IK on MuJoCo Menagerie's UR5e MJCF (as
    installed with ogbench), its flange site, the spec's UR5e joint names and datasheet
    velocity limits; the same <= 5 mm per tick at the demo's speed."""
    from lps_robot.sim.robots import UR5E_2F85
    from lps_robot.sim.ur5e import descriptions

    ur5e = Spec.load("lps_robot/specs/ur5e_2f85.yaml").robot
    arm = list(ur5e.joint_names[:6])
    limits = dict(zip(ur5e.joint_names, ur5e.velocity_limits, strict=True))
    model = descriptions() / "universal_robots_ur5e" / "ur5e.xml"
    ik = DiffIK(str(model), arm, "attachment_site", limits, ([-1.0] * 3, [1.0] * 3))
    errors = _track(ik, UR5E_2F85.home[:6], direction, [limits[j] for j in arm])
    print(f"UR5e {direction}: per-tick tracking error max {max(errors) * 1e3:.2f} mm")
    assert max(errors) <= 0.005
