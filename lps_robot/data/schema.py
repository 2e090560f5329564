"""The HDF5 episode schema, written down once (robomimic-compatible).

A dataset is either one ``.h5`` file holding many demos, or a directory of episode files
(``demo_00007.h5``, one demo each) as the crash-safe recorder writes them. Every file::

    /                                   attrs: schema_version, spec (JSON), created
    data/                               attrs: total (steps), env_args (JSON, robomimic)
      demo_<i>/                         attrs: num_samples, success (bool), control_rate_hz,
        |                                      calibration_id, operator_notes, partial (bool),
        |                                      start_time (unix s), dropped_frames (per stream),
        |                                      task (the instruction, as LeRobot's single_task)
        obs/<image_key>     (T,H,W,3)   uint8, native camera resolution, one frame per chunk,
        |                               lzf-compressed
        obs/<proprio_key>   (T,D)       float32
        actions             (T,A)       float32, raw units (spec.action), what was commanded
        rewards             (T,)        float32
        dones               (T,)        uint8: episode ended at this step (terminal or timeout)
        terminals           (T,)        uint8: true end of the task (no bootstrapping after it)
        timeouts            (T,)        uint8: cut off without terminating (bootstrap)
        timestamps          (T,)        float64, seconds (sensor time of the step's observation)

Bootstrapping masks follow from ``terminals``: mask = 1 - terminal. An unfinished episode is
written as ``demo_<i>.h5.partial`` and carries ``partial = True`` until it is closed.
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_VERSION = 1
DEFAULT_TASK = "pick the cube and place it on the target"  # the sim task's instruction
DATA_GROUP = "data"
DEMO_PREFIX = "demo_"
PARTIAL_SUFFIX = ".partial"

STEP_KEYS = ("actions", "rewards", "dones", "terminals", "timeouts", "timestamps")
STEP_DTYPES = {
    "actions": "float32",
    "rewards": "float32",
    "dones": "uint8",
    "terminals": "uint8",
    "timeouts": "uint8",
    "timestamps": "float64",
}
IMAGE_DTYPE = "uint8"
PROPRIO_DTYPE = "float32"


def demo_names(group) -> list[str]:
    """The ``demo_<i>`` members of an HDF5 group, in numeric order."""
    names = [n for n in group if n.startswith(DEMO_PREFIX)]
    return sorted(names, key=lambda n: int(n[len(DEMO_PREFIX) :]))


def demo_name(index: int) -> str:
    return f"{DEMO_PREFIX}{index}"


def episode_filename(index: int) -> str:
    return f"{DEMO_PREFIX}{index:05d}.h5"


ROBOMIMIC_GYM_TYPE = 2  # robomimic.envs.env_base.EnvType.GYM_TYPE: a generic (non-robosuite) env


def env_args(spec: Any) -> str:
    """``data.attrs["env_args"]`` as robomimic's loader reads it: an integer env type and
    ``env_kwargs`` (the spec inside); ``spec`` is a `lps_robot.spec.Spec`."""
    return json.dumps(
        {
            "env_name": spec.robot.name,
            "type": ROBOMIMIC_GYM_TYPE,
            "env_kwargs": {"lps_robot_spec": spec.to_dict()},
        }
    )


def attr_str(v: Any) -> str:
    """An HDF5 string attribute as ``str`` (h5py returns bytes or str by how it was written)."""
    return v.decode() if isinstance(v, bytes) else str(v)
