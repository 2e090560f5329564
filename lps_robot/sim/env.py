"""The simulated arm task: pick the cube and place it on the target pad (MuJoCo).

A plain Python environment (reset / step / render) commanded in joint space with absolute
position targets, at the spec's control rate. Cube and target positions are randomised per
episode; success is the cube resting on the pad. Offscreen rendering uses EGL (Mesa) on
CPU-only machines; ``render=False`` skips it for fast data generation.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np

from lps_robot.sim.robots import SIM_ARM6, sim_robot
from lps_robot.spec import Spec

CUBE_HALF = 0.02
SUCCESS_RADIUS = 0.035  # cube centre within the pad (xy)


def sim_spec(robot: str = SIM_ARM6.name) -> Spec:
    """The packaged spec of a simulated robot (`lps_robot.sim.robots.ROBOTS`)."""
    return Spec.load(sim_robot(robot).spec_path)


def sim_state_spec() -> Spec:
    """The sim task without a camera: joint positions plus the privileged ``object_state``
    (cube xyz, target pad xy). For ablations that take perception out of the question."""
    base = sim_spec()
    obs = dataclasses.replace(
        base.obs, image_keys=(), proprio_keys=("joint_pos", "object_state"), proprio_dims=(6, 5)
    )
    return base.replace(cameras=(), obs=obs)


@dataclass
class TaskState:
    cube_xy: np.ndarray
    target_xy: np.ndarray


class SimArmEnv:
    """reset() -> obs; step(joint_targets) -> (obs, reward, terminated, truncated, info)."""

    def __init__(
        self, spec: Spec | None = None, render: bool = True, max_steps: int = 200, seed: int = 0
    ) -> None:
        os.environ.setdefault("MUJOCO_GL", "egl")  # headless by default; set it to use a display
        import mujoco

        self.mj = mujoco
        self.spec = spec or sim_spec()
        self.robot = sim_robot(self.spec.robot.name)
        self.model = self.robot.build()
        self.data = mujoco.MjData(self.model)
        names = self.spec.robot.joint_names
        if len(names) != len(self.robot.actuators):
            raise ValueError(
                f"robot.joint_names: the {self.robot.name} simulation drives "
                f"{len(self.robot.actuators)} joints, the spec names {len(names)}"
            )
        self.qpos_idx = np.array([self.model.joint(n).qposadr[0] for n in names])
        self.qvel_idx = np.array([self.model.joint(n).dofadr[0] for n in names])
        self.act_idx = np.array([self.model.actuator(n).id for n in self.robot.actuators])
        self.ctrl_scale = np.asarray(self.robot.ctrl_scale)
        self.home = np.asarray(self.robot.home, np.float64)
        self.cube_qpos = self.model.joint("cube").qposadr[0]
        self.target_mocap = self.model.body("target").mocapid[0]
        self.substeps = max(
            1, round(1.0 / (self.spec.robot.control_rate_hz * self.model.opt.timestep))
        )
        self.max_steps = max_steps
        self.rng = np.random.default_rng(seed)
        self.do_render = render
        self.renderers = {}
        self.scene_option = self.robot.scene_option() if self.robot.scene_option else None
        if render:
            for cam in self.spec.cameras:
                self.renderers[cam.name] = mujoco.Renderer(self.model, cam.height, cam.width)
        self.steps = 0
        self.task = TaskState(np.zeros(2), np.zeros(2))

    # --- episode -----------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        mj, m, d = self.mj, self.model, self.data
        mj.mj_resetData(m, d)
        r = self.robot
        d.qpos[self.qpos_idx] = self.home
        d.ctrl[self.act_idx] = self.home * self.ctrl_scale
        cube = np.array([self.rng.uniform(*r.cube_x), self.rng.uniform(*r.cube_y)])
        while True:  # target at least 12 cm away from the cube
            target = np.array([self.rng.uniform(*r.target_x), self.rng.uniform(*r.target_y)])
            if np.linalg.norm(target - cube) > 0.12:
                break
        d.qpos[self.cube_qpos : self.cube_qpos + 7] = [*cube, CUBE_HALF, 1, 0, 0, 0]
        d.mocap_pos[self.target_mocap] = [*target, 0.001]
        self.task = TaskState(cube, target)
        mj.mj_forward(m, d)
        for _ in range(50):  # settle
            mj.mj_step(m, d)
        self.steps = 0
        return self.observe()

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        action = np.asarray(action, np.float64)
        if action.shape != (len(self.act_idx),) or not np.isfinite(action).all():
            raise ValueError(
                f"action: expected {len(self.act_idx)} finite joint targets, got {action}"
            )
        self.set_command(action)
        self.advance(self.substeps)
        self.steps += 1
        success = self.success()
        truncated = self.steps >= self.max_steps and not success
        return self.observe(), 0.0 if success else -1.0, success, truncated, {"success": success}

    def set_command(self, action: np.ndarray) -> None:
        """Joint position targets for the actuators, clipped to the joint limits."""
        lo = np.asarray(self.spec.robot.position_lower)
        hi = np.asarray(self.spec.robot.position_upper)
        self.data.ctrl[self.act_idx] = np.clip(action, lo, hi) * self.ctrl_scale

    def advance(self, substeps: int) -> None:
        """Step the physics by ``substeps`` timesteps (the ROS node runs it in real time)."""
        for _ in range(substeps):
            self.mj.mj_step(self.model, self.data)

    # --- state -------------------------------------------------------------------------------

    def cube_pos(self) -> np.ndarray:
        return self.data.qpos[self.cube_qpos : self.cube_qpos + 3].copy()

    def success(self) -> bool:
        c = self.cube_pos()
        on_pad = np.linalg.norm(c[:2] - self.task.target_xy) < SUCCESS_RADIUS
        return bool(on_pad and c[2] < CUBE_HALF + 0.01)

    def joint_pos(self) -> np.ndarray:
        return self.data.qpos[self.qpos_idx].astype(np.float32)

    def joint_vel(self) -> np.ndarray:
        return self.data.qvel[self.qvel_idx].astype(np.float32)

    def render(self, camera: str) -> np.ndarray:
        r = self.renderers[camera]
        r.update_scene(self.data, camera, self.scene_option)
        return r.render()

    def observe(self) -> dict[str, np.ndarray]:
        obs = {"joint_pos": self.joint_pos()}
        if "joint_vel" in self.spec.obs.proprio_keys:
            obs["joint_vel"] = self.joint_vel()
        if "object_state" in self.spec.obs.proprio_keys:  # privileged, sim-only (ablations)
            obs["object_state"] = self.object_state()
        if self.do_render:
            for cam in self.spec.cameras:
                obs[cam.name] = self.render(cam.name)
        return obs

    def object_state(self) -> np.ndarray:
        """Cube position (x, y, z) and target pad (x, y): what the camera has to convey."""
        return np.concatenate([self.cube_pos(), self.task.target_xy]).astype(np.float32)

    def close(self) -> None:
        for r in self.renderers.values():
            r.close()
        self.renderers = {}
