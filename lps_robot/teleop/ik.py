"""Differential inverse kinematics with mink: an end-effector twist -> joint position targets.

Each call takes the joint targets of the last tick, moves the end-effector site's target
pose by the twist over one control period (the position kept inside a workspace box), and
solves one QP step (mink with the daqp solver) for the arm's joints within the model's joint
ranges and the spec's velocity limits, damped near singularities (Levenberg-Marquardt
damping of the frame task). Every other degree of freedom of the model (gripper fingers, the
scene's free bodies) is frozen. The model is any MJCF or URDF MuJoCo loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import mink
import mujoco
import numpy as np

SOLVER = "daqp"


class IKError(ValueError):
    """The model, its site or its joints do not fit the request; the message names which."""


class DiffIK:
    def __init__(
        self,
        model_path: str | Path,
        joints: Sequence[str],
        site: str,
        velocity_limits: Mapping[str, float],
        workspace: tuple[Sequence[float], Sequence[float]],
        orientation_cost: float = 0.1,
        damping: float = 1e-3,
    ) -> None:
        try:
            self.model = mujoco.MjModel.from_xml_path(str(model_path))
        except ValueError as e:
            raise IKError(f"{model_path}: MuJoCo cannot load it ({e})") from None
        m = self.model
        names = [m.joint(i).name for i in range(m.njnt)]
        missing = [j for j in joints if j not in names]
        if missing:
            raise IKError(f"{model_path}: no joints {missing} (it has {names})")
        if site not in [m.site(i).name for i in range(m.nsite)]:
            raise IKError(f"{model_path}: no site '{site}' for the end effector")
        self.joints, self.site = tuple(joints), site
        ids = [m.joint(j).id for j in joints]
        self.qpos_idx = np.array([m.jnt_qposadr[i] for i in ids])
        dofs = {int(m.jnt_dofadr[i]) for i in ids}
        frozen = [d for d in range(m.nv) if d not in dofs]
        self.lo, self.hi = (np.asarray(b, np.float64) for b in workspace)
        if self.lo.shape != (3,) or self.hi.shape != (3,) or not (self.lo < self.hi).all():
            raise IKError(f"workspace: expected min < max per axis, got {workspace}")
        self.config = mink.Configuration(m)
        self.task = mink.FrameTask(
            site, "site", position_cost=1.0, orientation_cost=orientation_cost, lm_damping=damping
        )
        self.limits = [
            mink.ConfigurationLimit(m),
            mink.VelocityLimit(m, {j: float(velocity_limits[j]) for j in joints}),
        ]
        self.constraints = [mink.DofFreezingTask(m, frozen)] if frozen else []
        self.damping = damping

    def _set(self, q: np.ndarray) -> None:
        qpos = self.model.qpos0.copy()
        qpos[self.qpos_idx] = q
        self.config.update(qpos)

    def site_pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position, rotation matrix) of the end-effector site at joint positions ``q``."""
        self._set(np.asarray(q, np.float64))
        t = self.config.get_transform_frame_to_world(self.site, "site")
        return t.translation().copy(), t.rotation().as_matrix().copy()

    def step(
        self, q: np.ndarray, linear: np.ndarray, angular: np.ndarray, dt: float
    ) -> np.ndarray:
        """Joint targets one period on from ``q`` along the twist (base frame)."""
        self._set(np.asarray(q, np.float64))
        now = self.config.get_transform_frame_to_world(self.site, "site")
        pos = now.translation()
        goal = pos + np.asarray(linear, np.float64) * dt
        # inside the box; from outside it, no further out (and no jump back in)
        goal = np.clip(goal, np.minimum(self.lo, pos), np.maximum(self.hi, pos))
        rot = mink.SO3.exp(np.asarray(angular, np.float64) * dt) @ now.rotation()
        self.task.set_target(mink.SE3.from_rotation_and_translation(rot, goal))
        v = mink.solve_ik(
            self.config,
            [self.task],
            dt,
            SOLVER,
            damping=self.damping,
            limits=self.limits,
            constraints=self.constraints,
        )
        return self.config.integrate(v, dt)[self.qpos_idx]
