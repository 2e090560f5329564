"""A robot spec from its model file (MJCF or URDF): `lps spec init`.

Robots are data: a model file and a spec derived from it. The joints are those the model's
actuators drive, in actuator order (every hinge and slide joint when it has none, as a URDF
loaded by MuJoCo); position limits are the joints' ranges; velocity limits come from a URDF's
``<limit velocity=...>`` (MuJoCo itself keeps none, so an MJCF never has them); cameras are
the model's cameras, with their optical-frame pose (z forward, x right, y down) in the frame
of the robot's base body (a camera on a moving link, as a wrist camera: in that link's
frame). What the model does not say is left empty (``null``): the spec loader then refuses
the file with a line naming the joint, until a person fills it in.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from lps_robot.spec import SpecError
from lps_robot.spec_draft import draft_camera, draft_spec

OPTICAL = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]])  # MuJoCo camera -> optical


def _load(path: Path):
    import mujoco

    try:
        return mujoco.MjModel.from_xml_path(str(path))
    except ValueError as e:
        raise SpecError(f"{path}: MuJoCo cannot load it ({str(e).splitlines()[0]})") from None


def _urdf_velocities(path: Path) -> dict[str, float]:
    """``<joint name><limit velocity>`` of a URDF (MuJoCo's importer drops them)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise SpecError(f"{path}: not valid XML ({e})") from None
    out = {}
    for joint in root.iter("joint"):
        limit = joint.find("limit")
        if limit is not None and limit.get("velocity") is not None:
            out[joint.get("name", "")] = float(limit.get("velocity"))
    return out


def _joints(model, chosen: Sequence[str] | None) -> list[int]:
    import mujoco

    names = [model.joint(i).name for i in range(model.njnt)]
    movable = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
    if chosen:
        missing = [j for j in chosen if j not in names]
        if missing:
            raise SpecError(f"joints: {missing} are not in the model (it has {names})")
        return [names.index(j) for j in chosen]
    driven = [
        int(model.actuator_trnid[a, 0])
        for a in range(model.nu)
        if int(model.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_JOINT)
    ]
    ids = list(dict.fromkeys(driven)) or list(range(model.njnt))
    return [i for i in ids if int(model.jnt_type[i]) in movable]


def _base_body(model, joint_ids: list[int]) -> int:
    """The body the first driven joint's chain hangs from (the arm's base)."""
    body = int(model.jnt_bodyid[joint_ids[0]])
    return int(model.body_parentid[body])


def _camera_pose(model, data, cam: int, base: int) -> list[float]:
    import mujoco

    r_base = data.xmat[base].reshape(3, 3)
    p = r_base.T @ (data.cam_xpos[cam] - data.xpos[base])
    r = r_base.T @ data.cam_xmat[cam].reshape(3, 3) @ OPTICAL
    wxyz = np.zeros(4)
    mujoco.mju_mat2Quat(wxyz, r.reshape(-1))
    if wxyz[0] < 0:  # one of the two equal quaternions, w >= 0
        wxyz = -wxyz
    return [round(float(v), 5) for v in (*p, *wxyz[1:], wxyz[0])]


def spec_from_model(
    path: str | Path,
    name: str = "",
    rate_hz: float = 20.0,
    joints: Sequence[str] | None = None,
    image_size: int = 128,
    obs_size: int = 64,
) -> dict:
    """The spec, as plain data, of the robot in ``path`` (what `lps spec init` writes)."""
    import mujoco

    path = Path(path)
    model = _load(path)
    ids = _joints(model, joints)
    if not ids:
        raise SpecError(f"{path}: no hinge or slide joints to command")
    velocity = _urdf_velocities(path) if path.suffix.lower() == ".urdf" else {}
    jnames = [model.joint(i).name for i in ids]
    lower, upper = [], []
    for i in ids:
        limited = bool(model.jnt_limited[i]) and model.jnt_range[i, 0] < model.jnt_range[i, 1]
        lower.append(float(model.jnt_range[i, 0]) if limited else None)
        upper.append(float(model.jnt_range[i, 1]) if limited else None)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    base = _base_body(model, ids)
    base_name = model.body(base).name or "world"
    cameras = []
    for c in range(model.ncam):
        cam = model.camera(c).name or f"camera{c}"
        # a camera on a moving link (a wrist camera) is posed in that link's frame
        body = int(model.cam_bodyid[c])
        moves = model.body_weldid[body] != model.body_weldid[base]
        frame, frame_name = (body, model.body(body).name) if moves else (base, base_name)
        cameras.append(
            draft_camera(
                cam, image_size, image_size, _camera_pose(model, data, c, frame), frame_name
            )
        )
    n = len(ids)
    robot = {
        "name": name or model.names[: model.names.find(b"\0")].decode() or path.stem,
        "joint_names": jnames,
        "position_lower": lower,
        "position_upper": upper,
        "velocity_limits": [velocity.get(j) for j in jnames],
        "control_rate_hz": rate_hz,
    }
    action = {"type": "joint_position", "dim": n, "low": lower, "high": upper}
    return draft_spec(robot, cameras, obs_size, [("joint_pos", n), ("joint_vel", n)], action)


def write_spec(data: dict, out: str | Path, source: str | Path, extra: str = "") -> list[str]:
    """Write the spec YAML with a header (``extra``: more header lines); the fields left for
    a person to fill in."""
    robot = data["robot"]
    todo = [
        f"robot.{field}[{i}] ({joint})"
        for field in ("position_lower", "position_upper", "velocity_limits")
        for i, (joint, v) in enumerate(zip(robot["joint_names"], robot[field], strict=True))
        if v is None
    ]
    header = [
        f"# Spec written by `lps spec init` from {source}.",
        "# Check the control rate, the cameras' topics and resolutions and the observation.",
    ]
    if todo:
        header.append("# Fill in (the model does not say): " + ", ".join(todo))
    if extra:
        header.append(extra)
    text = "\n".join(header) + "\n" + yaml.safe_dump(data, sort_keys=False, width=100)
    Path(out).write_text(text)
    return todo
