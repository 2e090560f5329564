"""Scripted teleoperator for the sim task: Cartesian waypoints -> IK -> joint position targets.

Quality is mixed on purpose (offline RL needs suboptimal and failed data): every episode gets
waypoint noise and per-step joint noise, and two kinds of imperfection can be switched on:

- ``mistake_rate`` (the demo's default): at each of two decision points the operator acts
  hastily with this probability, from the same states as a careful operator: it closes the
  gripper while still descending, 4.5 cm above the grasp (the fingers miss the cube), or it
  opens the gripper mid-transit (the cube drops). Careful and hasty ways to act are both in
  the data at the same states and differ in outcome: what offline RL can choose between.
- ``failure_rate``: one failure mode injected per episode, decided at reset (grasp
  off-centre, release early in transit, or place on a wrong spot).

A failed attempt ends about a second after the mistake shows (the operator stops recording,
``finished``); a successful one ends when the cube rests on the pad.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lps_robot.sim.env import CUBE_HALF, SimArmEnv
from lps_robot.sim.robots import hand_rotation

FAILURES = ("offset_grasp", "early_release", "wrong_place")
MISTAKES = ("early_close", "early_release")
HASTY_CLOSE_HEIGHT = 0.045  # above the grasp height: the fingertips close over the cube
NOTICE_S = 1.0  # an operator stops recording this long after a failure shows
STEER_RESPONSE_S = 0.3  # s: a gamepad operator closes a gap to the cursor in about this long
STEER_ARRIVE_TOL = 0.01  # m: a gamepad operator dwells once the tool is this close
STEER_LEAD_S = 0.15  # s: how far ahead a gamepad operator sees where the tool is heading
STEER_SETTLED = 0.05  # m/s: a tool slower than this has settled


def down_rotation(yaw: float = 0.0) -> np.ndarray:
    """Hand frame with x (approach) pointing down and y (finger axis) at ``yaw``."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[0.0, -s, c], [0.0, c, s], [-1.0, 0.0, 0.0]])


class ArmIK:
    """Damped least squares IK for the tool site over the arm joints (gripper untouched).
    Rotations are canonical hand rotations (x: approach, y: finger axis)."""

    def __init__(self, env: SimArmEnv, damping: float = 1e-3, iters: int = 60) -> None:
        mj = env.mj
        self.mj, self.model, self.robot = mj, env.model, env.robot
        self.data = mj.MjData(env.model)
        self.site = env.model.site(env.robot.grip_site).id
        n = env.robot.arm_joints
        self.qpos_idx = env.qpos_idx[:n]
        self.dof_idx = env.qvel_idx[:n]
        ids = [env.model.joint(j).id for j in env.spec.robot.joint_names[:n]]
        self.lo, self.hi = env.model.jnt_range[ids, 0], env.model.jnt_range[ids, 1]
        self.damping, self.iters = damping, iters
        self.jacp = np.zeros((3, env.model.nv))
        self.jacr = np.zeros((3, env.model.nv))

    def solve(self, q0: np.ndarray, pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
        mj, d = self.mj, self.data
        q = np.array(q0[: len(self.qpos_idx)], np.float64)
        rot = hand_rotation(self.robot, rot)
        for _ in range(self.iters):
            d.qpos[self.qpos_idx] = q
            mj.mj_kinematics(self.model, d)
            mj.mj_comPos(self.model, d)
            err_p = pos - d.site_xpos[self.site]
            r = d.site_xmat[self.site].reshape(3, 3)
            err_r = 0.5 * sum(np.cross(r[:, i], rot[:, i]) for i in range(3))
            err = np.concatenate([err_p, 0.3 * err_r])
            if np.linalg.norm(err) < 1e-4:
                break
            mj.mj_jacSite(self.model, d, self.jacp, self.jacr, self.site)
            jac = np.vstack([self.jacp[:, self.dof_idx], 0.3 * self.jacr[:, self.dof_idx]])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + self.damping * np.eye(6), err)
            q = np.clip(q + np.clip(dq, -0.3, 0.3), self.lo, self.hi)
        return q


@dataclass
class Segment:
    pos: np.ndarray  # grip-site target at the end of the segment
    gripper: float
    hold_s: float = 0.0  # time to dwell at the end


class ScriptedTeleop:
    """Produces one joint-target action per control tick for the current episode."""

    def __init__(
        self,
        env: SimArmEnv,
        noise: float = 0.01,
        failure_rate: float = 0.0,
        speed: float = 0.35,
        seed: int = 0,
        mistake_rate: float = 0.0,
    ) -> None:
        for name, rate in (("failure_rate", failure_rate), ("mistake_rate", mistake_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name}: expected 0..1, got {rate}")
        self.env, self.ik = env, ArmIK(env)
        self.open_, self.closed = env.robot.gripper_open, env.robot.gripper_closed
        self.noise, self.failure_rate, self.speed = noise, failure_rate, speed
        self.mistake_rate = mistake_rate
        self.rng = np.random.default_rng(seed)
        self.dt = 1.0 / env.spec.robot.control_rate_hz
        self.failure: str | None = None
        self.finished = False

    def reset(self) -> None:
        env, rng = self.env, self.rng
        cube = env.cube_pos()
        target = env.task.target_xy
        self.failure = (
            FAILURES[rng.integers(len(FAILURES))] if rng.random() < self.failure_rate else None
        )
        if self.failure is None and self.mistake_rate > 0:
            hasty = [m for m in MISTAKES if rng.random() < self.mistake_rate]
            self.failure = hasty[0] if hasty else None  # the first one ends the attempt
        jitter = rng.normal(0, self.noise, 3)
        grasp = np.array([cube[0], cube[1], CUBE_HALF + 0.005]) + jitter * [1, 1, 0.3]
        if self.failure == "offset_grasp":
            grasp[:2] += rng.choice([-1, 1], 2) * rng.uniform(0.03, 0.05, 2)
        place = np.array([*target, CUBE_HALF + 0.025]) + rng.normal(0, self.noise, 3) * [1, 1, 0.3]
        if self.failure == "wrong_place":
            place[:2] += rng.choice([-1, 1], 2) * rng.uniform(0.06, 0.1, 2)
        up = 0.14 + rng.uniform(-0.02, 0.02)
        above = np.array([grasp[0], grasp[1], up])
        self.segments = [Segment(above, self.open_)] + self._rest(grasp, place, above, up)
        self.seg_i, self.dwell = 0, 0.0
        self._start()

    def _rest(
        self, grasp: np.ndarray, place: np.ndarray, above: np.ndarray, up: float
    ) -> list[Segment]:
        """The segments after the approach, as this episode's operator acts them."""
        if self.failure == "early_close":  # closes on the way down, lifts, sees no cube
            hasty = grasp + [0.0, 0.0, HASTY_CLOSE_HEIGHT]
            return [
                Segment(hasty, self.open_),
                Segment(hasty, self.closed, 0.5),
                Segment(above, self.closed, NOTICE_S),
            ]
        segs = [
            Segment(grasp, self.open_, 0.1),
            Segment(grasp, self.closed, 0.5),
            Segment(above, self.closed),
        ]
        if self.failure == "early_release":
            mid = np.array([(grasp[0] + place[0]) / 2, (grasp[1] + place[1]) / 2, up])
            return segs + [Segment(mid, self.open_, NOTICE_S)]
        over_place = np.array([place[0], place[1], up])
        return segs + [
            Segment(over_place, self.closed),
            Segment(place, self.closed, 0.1),
            Segment(place, self.open_, 0.4),
            Segment(over_place, self.open_, NOTICE_S if self.failure else 5.0),
        ]

    def _start(self) -> None:
        self.finished = False
        self.cursor = self.ik_site_pos()
        self.q = self.env.joint_pos()[: self.env.robot.arm_joints].astype(np.float64)
        self.grip = float(self.env.robot.gripper_open)
        self.rot = down_rotation(0.0)
        self._tool: np.ndarray | None = None  # where steer() last saw the tool

    def _within(self, pos: np.ndarray, tol: float) -> bool:
        return bool(np.linalg.norm(self.ik_site_pos() - pos) < tol)

    def ik_site_pos(self) -> np.ndarray:
        return self.env.data.site(self.env.robot.grip_site).xpos.copy()

    def _advance(self, arrived: Callable[[np.ndarray], bool] | None) -> Segment:
        """Move the cursor one tick along the plan (dwelling at a waypoint once ``arrived``
        says the tool is there; None: once the cursor is) and the gripper command."""
        seg = self.segments[min(self.seg_i, len(self.segments) - 1)]
        delta = seg.pos - self.cursor
        dist = np.linalg.norm(delta)
        step = self.speed * self.dt
        if dist > step:
            self.cursor = self.cursor + delta / dist * step
        else:
            self.cursor = seg.pos.copy()
            there = arrived is None or arrived(seg.pos)
            limited = self.env.robot.operator_rate_limits_gripper
            if there and (not limited or self.grip == seg.gripper):
                self.dwell += self.dt
            if self.dwell >= seg.hold_s:
                if self.seg_i < len(self.segments) - 1:
                    self.seg_i += 1
                    self.dwell = 0.0
                else:
                    self.finished = True
        if self.env.robot.operator_rate_limits_gripper:  # as the controller will
            step = self.env.spec.robot.velocity_limits[-1] * self.dt
            self.grip += float(np.clip(seg.gripper - self.grip, -step, step))
        else:
            self.grip = seg.gripper
        return seg

    def act(self) -> np.ndarray:
        """Joint targets for this tick (a leader arm or a teleop bridge's output)."""
        tol = self.env.robot.arrive_tol
        self._advance(None if tol is None else lambda p: self._within(p, tol))
        self.q = self.ik.solve(self.q, self.cursor, self.rot)
        q = self.q + self.rng.normal(0, self.noise * 0.5, len(self.q))
        return np.concatenate([q, [self.grip]]).astype(np.float32)

    def steer(self, response_s: float = STEER_RESPONSE_S) -> tuple[np.ndarray, float]:
        """The operator on a gamepad: (tool velocity in m/s, base frame; gripper 0 open ..
        1 closed). A person watches the arm, not the stick: the stick follows the cursor's
        own motion and closes the gap from where the tool is heading (its position
        ``STEER_LEAD_S`` ahead at its speed) in about ``response_s``; each waypoint counts
        as reached once the tool has settled near it (within the arrival tolerance, or
        stopped within 3x of it, as a finger on the table stops it)."""
        tool = self.ik_site_pos()
        speed = np.zeros(3) if self._tool is None else (tool - self._tool) / self.dt
        self._tool, ahead = tool, tool + speed * STEER_LEAD_S
        tol, still = self.env.robot.arrive_tol or STEER_ARRIVE_TOL, np.linalg.norm(speed)

        def arrived(p: np.ndarray) -> bool:
            near = np.linalg.norm(ahead - p)
            return (near < tol and still < STEER_SETTLED) or (near < 3 * tol and still < 0.02)

        before = self.cursor
        self._advance(arrived)
        velocity = (self.cursor - before) / self.dt + (self.cursor - ahead) / response_s
        velocity += self.rng.normal(0, self.noise, 3)
        span = self.closed - self.open_
        return velocity, float(np.clip((self.grip - self.open_) / span, 0.0, 1.0))


def home_pose(
    env: SimArmEnv, xyz: tuple[float, float, float] = (0.3, 0.0, 0.15), seed=None
) -> np.ndarray:
    """Joint targets that put the tool at ``xyz``, pointing down, the gripper open (solved
    from ``seed``, default the robot's home)."""
    q0 = np.asarray(env.robot.home if seed is None else seed, np.float64)
    q = ArmIK(env, iters=400).solve(q0, np.asarray(xyz, np.float64), down_rotation())
    return np.concatenate([q, [env.robot.gripper_open]])
