"""A spec document drafted from a source (a robot model file, a dataset) for a person to check.

One shape for every `lps spec init` route: `draft_camera` for each camera, `draft_spec` for
the whole document (what `Spec.from_dict` loads once the fields left as None are filled in).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CHUNK_LENGTH = 5  # a drafted policy's chunk length and executed steps per chunk


def draft_camera(
    name: str,
    width: int,
    height: int,
    pose: list[float] | None = None,
    base_frame: str = "base_link",
) -> dict[str, Any]:
    """One ``cameras`` entry: topic ``/<name>/image_raw``, RGB, not calibrated yet."""
    return {
        "name": name,
        "topic": f"/{name}/image_raw",
        "width": width,
        "height": height,
        "calibration_id": None,
        "encoding": "rgb8",
        "pose": pose,
        "base_frame": base_frame,
    }


def draft_spec(
    robot: dict[str, Any],
    cameras: Sequence[dict[str, Any]],
    image_size: int,
    proprio: Sequence[tuple[str, int]],
    action: dict[str, Any],
) -> dict[str, Any]:
    """The spec document: ``robot`` and ``action`` as given, every camera observed at
    ``image_size`` square, ``proprio`` as (key, width) pairs."""
    return {
        "version": 1,
        "robot": robot,
        "cameras": list(cameras),
        "obs": {
            "image_keys": [c["name"] for c in cameras],
            "image_size": [image_size, image_size],
            "crop": None,
            "proprio_keys": [k for k, _ in proprio],
            "proprio_dims": [d for _, d in proprio],
        },
        "action": action,
        "policy": {"chunk_length": CHUNK_LENGTH, "execute_steps": CHUNK_LENGTH},
        "stats": None,
    }
