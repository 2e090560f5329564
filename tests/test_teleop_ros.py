"""The teleop node over DDS: a scripted gamepad (sensor_msgs/Joy) drives the simulated arm
(sim node following /teleop/joint_command); the end effector moves along the stick, every
command stays inside the limits and velocity bounds, and the arm holds when the deadman is
released or the gamepad falls silent."""

from __future__ import annotations

import time
from itertools import pairwise

import numpy as np
from sensor_msgs.msg import Joy
from std_msgs.msg import Float64MultiArray

from lps_robot.ros.procs import free_domain
from lps_robot.ros.teleop_params import default_model_path
from lps_robot.spec import Spec
from lps_robot.teleop.ik import DiffIK
from tests.ros_helpers import Probe, assert_commands_safe, start_node, stop

SPEC = Spec.load("lps_robot/specs/sim_arm.yaml")
DT = 1.0 / SPEC.robot.control_rate_hz
TIMEOUT_S = 0.25
SPEED = 0.15  # m/s: the default mapping's full stick


def _fk():
    limits = dict(zip(SPEC.robot.joint_names, SPEC.robot.velocity_limits, strict=True))
    box = ([0.1, -0.4, 0.02], [0.6, 0.4, 0.45])
    ik = DiffIK(default_model_path(), SPEC.robot.joint_names[:5], "grip", limits, box)
    return lambda q: ik.site_pose(np.asarray(q[:5]))[0]


def _teleop_on_sim(tmp_path, **params) -> tuple:
    """The sim arm following /teleop/joint_command, the teleop node (Joy input) and a probe
    that keeps every command it publishes: (sim, teleop, probe, commands, Joy publisher)."""
    domain = free_domain()
    follow = {"command_topic": "/teleop/joint_command"}
    sim = start_node("sim", follow, domain, tmp_path / "sim.log")
    teleop = start_node("teleop", {"input": "joy", **params}, domain, tmp_path / "teleop.log")
    probe = Probe(domain)
    commands: list[tuple[float, list[float]]] = []
    probe.node.create_subscription(
        Float64MultiArray,
        "/teleop/joint_command",
        lambda m: commands.append((time.monotonic(), list(m.data))),
        100,
    )
    return sim, teleop, probe, commands, probe.node.create_publisher(Joy, "/joy", 10)


def test_a_gamepad_drives_the_arm_and_letting_go_holds_it(tmp_path):
    sim, teleop, probe, commands, joy_pub = _teleop_on_sim(tmp_path, input_timeout_s=TIMEOUT_S)
    pad = {"axes": [0.0] * 6, "buttons": [0] * 11, "on": False}

    def send() -> None:
        if pad["on"]:
            joy_pub.publish(Joy(axes=pad["axes"], buttons=pad["buttons"]))

    probe.node.create_timer(0.02, send)  # a joy node at 50 Hz
    fk = _fk()
    try:
        pad["on"] = True  # silent sticks, no deadman: the node holds where the arm is
        probe.wait_for(lambda: len(commands) > 10, 60, "teleop commands")
        rest = np.array(commands[-1][1])
        pad["axes"][0], pad["buttons"][4] = 1.0, 1  # left stick left (+y), LB held
        probe.wait_for(lambda: np.abs(np.array(commands[-1][1]) - rest).max() > 1e-6, 10, "motion")
        start = len(commands)
        probe.spin(2.0)
        moving = commands[start:]
        p = np.array([fk(c) for _, c in moving])
        steps = np.diff(p, axis=0)
        error_mm = np.linalg.norm(steps - [0.0, SPEED * DT, 0.0], axis=1) * 1e3
        travel = p[-1] - p[0]
        print(
            f"gamepad +y at {SPEED} m/s: {len(moving)} commands, travel {travel * 1e3} mm, "
            f"per-tick tracking error max {error_mm.max():.2f} mm, mean {error_mm.mean():.2f}"
        )
        assert travel[1] > 0.7 * SPEED * 2.0 and abs(travel[0]) < 0.01 and abs(travel[2]) < 0.01
        assert error_mm.max() <= 5.0

        pad["buttons"][4] = 0  # deadman released: held at once (within a tick and delivery)
        released = time.monotonic()
        probe.spin(1.0)
        after = [c for t, c in commands if t > released + DT + 0.1]
        assert after and all(np.array_equal(c, after[0]) for c in after)

        pad["buttons"][4] = 1  # moving again, then the pad falls silent
        probe.spin(0.5)
        pad["on"] = False
        silent = time.monotonic()
        probe.spin(1.0)
        final = commands[-1][1]
        changed = [t for (_, prev), (t, c) in pairwise(commands) if c != prev]
        hold_after = changed[-1] - silent  # the last step taken, after the pad fell silent
        print(f"silent pad: last step {hold_after * 1e3:.0f} ms after the last Joy message")
        assert 0 < hold_after <= TIMEOUT_S + DT + 0.05  # the timeout, one tick, delivery
        assert all(c == final for t, c in commands if t > silent + TIMEOUT_S + DT + 0.05)
        assert_commands_safe(SPEC, commands)
        assert sim.poll() is None and teleop.poll() is None
    finally:
        probe.close()
        stop(teleop)
        stop(sim)


def test_a_flood_of_hostile_joy_messages_moves_nothing_unsafely(tmp_path):
    """1 kHz of Joy messages with NaN, infinite and huge axes and random buttons for 3 s:
    the node keeps ticking, every command stays inside the limits and the step bound."""
    sim, teleop, probe, commands, joy_pub = _teleop_on_sim(tmp_path)
    rng = np.random.default_rng(0)
    garbage = [np.nan, np.inf, -np.inf, 1e308, -1e308, 5.0, -1.0, 1.0, 0.0]

    def flood() -> None:
        for _ in range(10):  # 10 per 10 ms timer tick: about 1 kHz
            axes = [float(rng.choice(garbage)) for _ in range(rng.integers(0, 9))]
            buttons = [int(b) for b in rng.integers(0, 2, rng.integers(0, 12))]
            joy_pub.publish(Joy(axes=axes, buttons=buttons))

    try:
        probe.wait_for(lambda: len(commands) > 5, 60, "teleop commands")
        probe.node.create_timer(0.01, flood)
        start = len(commands)
        probe.spin(3.0)
        during = commands[start:]
        print(f"hostile flood: {len(during)} commands in 3 s")
        assert len(during) >= 0.8 * 3.0 / DT  # it kept ticking at the control rate
        assert_commands_safe(SPEC, commands)
        assert teleop.poll() is None
    finally:
        probe.close()
        stop(teleop)
        stop(sim)
