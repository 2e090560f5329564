"""The UR5e + Robotiq 2F-85 scene, composed at run time from MuJoCo Menagerie's models.

The models are those the ``ogbench`` wheel installs (``manipspace/descriptions``; BSD-3 and
Apache-2.0, licences beside them); nothing is copied into this repository. The gripper is
attached at the UR5e's tool flange (``attachment_site``); its left driver joint is renamed
``robotiq_85_left_knuckle_joint``, the joint the ROS 2 Robotiq driver reports. Added here: a
table (top at z = 0, the arm's base on it), the cube, the target pad, lights, a scene camera
``front`` and a wrist camera ``wrist`` on the gripper's base. The arm's links get gravity
compensation, as UR's own controller provides. No shadows, reflections or skybox.

What the cameras see (``scene_option``): the models' collision geometry, drawn as convex
hulls (the arm's capsules, the gripper's hulls), not the visual meshes: 3 ms for both 64x64
frames against 46 ms with the meshes on this CPU (docs/robots.md has the figures).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

KNUCKLE = "robotiq_85_left_knuckle_joint"
ARM_JOINTS = (
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "elbow_joint",
    "wrist_1_joint",
    "wrist_2_joint",
    "wrist_3_joint",
)
ARM_BODIES = ("shoulder_link", "upper_arm_link", "forearm_link", "wrist_1_link", "wrist_2_link")
GRIPPER_PREFIX = "robotiq_85_"
GRIP_SITE = GRIPPER_PREFIX + "pinch"
# the fingers' actuator: ctrl 0..255 drives the driver joints' mean to ctrl / 255 * 0.8 rad
GRIPPER_ACTUATOR = GRIPPER_PREFIX + "fingers_actuator"
GRIPPER_CTRL_PER_RAD = 255.0 / 0.8


def descriptions() -> Path:
    """Menagerie's models inside the installed ogbench package."""
    try:
        import ogbench
    except ImportError as e:
        raise RuntimeError(
            "the UR5e scene loads MuJoCo Menagerie's models from the ogbench package: "
            "install the bench extra (pip install -e '.[bench]')"
        ) from e
    return Path(os.path.dirname(ogbench.__file__)) / "manipspace" / "descriptions"


def look_at(pos, target, up=(0.0, 0.0, 1.0)) -> list[float]:
    """MuJoCo camera ``xyaxes`` for a camera at ``pos`` looking at ``target``."""
    f = np.asarray(target, float) - np.asarray(pos, float)
    f /= np.linalg.norm(f)
    x = np.cross(f, up)
    x /= np.linalg.norm(x)
    return [*x, *np.cross(x, f)]


def build_spec():
    """The composed scene as an ``mujoco.MjSpec`` (compile() gives the model)."""
    import mujoco

    root = descriptions()
    arm = mujoco.MjSpec.from_file(str(root / "universal_robots_ur5e" / "ur5e.xml"))
    grip = mujoco.MjSpec.from_file(str(root / "robotiq_2f85" / "2f85.xml"))
    arm.option.timestep = 0.002
    arm.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC  # the gripper model's own settings
    arm.option.impratio = 10
    _rename_driver(grip, "left_driver_joint", KNUCKLE.removeprefix(GRIPPER_PREFIX))
    arm.attach(grip, site=arm.site("attachment_site"), prefix=GRIPPER_PREFIX)
    for name in ARM_BODIES + ("wrist_3_link",):
        arm.body(name).gravcomp = 1.0
    for key in list(arm.keys):
        arm.delete(key)  # the arm-only keyframe no longer fits the composed model
    vis = arm.visual
    vis.quality.shadowsize = 0
    vis.global_.offwidth, vis.global_.offheight = 640, 480
    for light in arm.lights:
        light.castshadow = False

    geom = mujoco.mjtGeom
    wb = arm.worldbody
    wb.add_light(pos=[0.5, -0.5, 1.6], dir=[0, 0.3, -1], diffuse=[0.8] * 3, castshadow=False)
    wb.add_light(pos=[-0.4, 0.5, 1.2], dir=[0.3, -0.3, -1], diffuse=[0.3] * 3, castshadow=False)
    wb.add_geom(
        name="table", type=geom.mjGEOM_BOX, pos=[0.45, 0, -0.02], size=[0.6, 0.6, 0.02],
        rgba=[0.62, 0.62, 0.58, 1],
    )  # fmt: skip
    cube = wb.add_body(name="cube", pos=[0.5, 0, 0.02])
    cube.add_freejoint(name="cube")
    cube.add_geom(
        name="cube", type=geom.mjGEOM_BOX, size=[0.02] * 3, mass=0.05, rgba=[0.1, 0.3, 1.0, 1],
        friction=[2, 0.05, 0.001], condim=4,
    )  # fmt: skip
    target = wb.add_body(name="target", mocap=True, pos=[0.45, 0.2, 0.001])
    target.add_geom(
        type=geom.mjGEOM_CYLINDER, size=[0.045, 0.001, 0], rgba=[0.1, 0.9, 0.2, 1],
        contype=0, conaffinity=0,
    )  # fmt: skip
    front = [1.05, -0.55, 0.75]
    wb.add_camera(name="front", pos=front, xyaxes=look_at(front, [0.45, 0.0, 0.05]), fovy=45)
    # a wrist camera behind the fingers, off their closing axis (y), looking along the approach
    wrist = [0.075, 0.0, 0.02]
    arm.body(GRIPPER_PREFIX + "base").add_camera(
        name="wrist", pos=wrist, xyaxes=look_at(wrist, [0.0, 0.0, 0.2], up=(1.0, 0, 0)), fovy=75
    )
    return arm


def _rename_driver(grip, old: str, new: str) -> None:
    """Rename a driver joint and the references to it (the equality, the actuated tendon,
    rebuilt with the same coefficients)."""
    grip.joint(old).name = new
    for eq in grip.equalities:
        eq.name1, eq.name2 = (new if n == old else n for n in (eq.name1, eq.name2))
    split = grip.tendons[0]
    name, rng = split.name, split.range
    grip.delete(split)
    tendon = grip.add_tendon(name=name, range=rng)
    for joint in ("right_driver_joint", new):
        tendon.wrap_joint(joint, 0.5)


def build_model():
    return build_spec().compile()


def scene_option():
    """Collision geometry as convex hulls; visual meshes hidden."""
    import mujoco

    opt = mujoco.MjvOption()
    opt.geomgroup[:] = [1, 1, 0, 1, 0, 0]
    opt.flags[mujoco.mjtVisFlag.mjVIS_CONVEXHULL] = 1
    return opt
