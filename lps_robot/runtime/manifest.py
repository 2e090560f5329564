"""The exported model's manifest: what it needs, and the check against the robot's spec."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lps_robot.spec import Spec, SpecError

MANIFEST_KEY = "lps_manifest"
MANIFEST_VERSION = 1
REQUIRED = ("manifest_version", "algo", "spec", "inputs", "outputs", "latent", "content_hash")


class PolicyRejected(ValueError):
    """A model may not run on this robot; the message says why."""


def manifest_from_metadata(meta: Mapping[str, str], source: str) -> dict[str, Any]:
    """The manifest stored under MANIFEST_KEY in a model's metadata_props."""
    if MANIFEST_KEY not in meta:
        raise PolicyRejected(f"{source}: no '{MANIFEST_KEY}' in the model's metadata_props")
    try:
        manifest = json.loads(meta[MANIFEST_KEY])
    except json.JSONDecodeError as e:
        raise PolicyRejected(f"{source}: manifest is not valid JSON ({e})") from e
    if not isinstance(manifest, dict):
        raise PolicyRejected(
            f"{source}: manifest is JSON {type(manifest).__name__}, expected an object"
        )
    return manifest


def graph_digest(graph: Any) -> str:
    """The manifest's content_hash: sha256 of an ONNX GraphProto, serialised."""
    return hashlib.sha256(graph.SerializeToString()).hexdigest()


def graph_hash(model: bytes | Any) -> str:
    """The content_hash of a model file's bytes or parsed ModelProto (metadata, where the
    manifest lives, excluded)."""
    if isinstance(model, bytes):
        import onnx

        model = onnx.load_from_string(model)
    return graph_digest(model.graph)


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of an exported model file, unchecked (onnxruntime only, no policy built)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return manifest_from_metadata(session.get_modelmeta().custom_metadata_map, str(path))


def input_signature(spec: Spec, latent_input: bool) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, dtype, shape) of each graph input, batch of one."""
    sig: list[tuple[str, str, tuple[int, ...]]] = []
    h, w = spec.obs.image_size
    sig += [(k, "uint8", (1, h, w, 3)) for k in spec.obs.image_keys]
    sig += [
        (k, "float32", (1, d))
        for k, d in zip(spec.obs.proprio_keys, spec.obs.proprio_dims, strict=True)
    ]
    if latent_input:
        sig.append(("latent", "float32", (1, spec.policy.chunk_length * spec.action.dim)))
    return sig


def check_manifest(manifest: dict[str, Any], robot: Spec, source: str = "model") -> Spec:
    """The model's spec if it agrees with the robot's; otherwise `PolicyRejected`."""
    missing = [k for k in REQUIRED if k not in manifest]
    if missing:
        raise PolicyRejected(f"{source}: manifest is missing {missing}")
    if manifest["manifest_version"] != MANIFEST_VERSION:
        raise PolicyRejected(
            f"{source}: manifest_version {manifest['manifest_version']}, "
            f"expected {MANIFEST_VERSION}"
        )
    try:
        spec = Spec.from_dict(manifest["spec"])
    except SpecError as e:
        raise PolicyRejected(f"{source}: manifest spec is invalid: {e}") from e
    mine, theirs = robot.robot, spec.robot
    if theirs.joint_names != mine.joint_names:
        if sorted(theirs.joint_names) == sorted(mine.joint_names):
            raise PolicyRejected(
                f"{source}: joint order {list(theirs.joint_names)} differs from the robot's "
                f"{list(mine.joint_names)}"
            )
        raise PolicyRejected(
            f"{source}: joint names {list(theirs.joint_names)} do not match the robot's "
            f"{list(mine.joint_names)}"
        )
    for field in ("position_lower", "position_upper"):
        for name, a, b in zip(
            mine.joint_names, getattr(theirs, field), getattr(mine, field), strict=True
        ):
            if abs(a - b) > 1e-6:
                raise PolicyRejected(
                    f"{source}: {field} of joint '{name}' is {a}, the robot's is {b}"
                )
    delta_on_position = spec.action.type == "joint_delta" and robot.action.type == "joint_position"
    same_type = spec.action.type == robot.action.type or delta_on_position
    if not same_type or spec.action.dim != robot.action.dim:
        raise PolicyRejected(
            f"{source}: action {spec.action.type}[{spec.action.dim}], robot expects "
            f"{robot.action.type}[{robot.action.dim}]"
        )
    if spec.obs.image_keys != robot.obs.image_keys or tuple(spec.obs.image_size) != tuple(
        robot.obs.image_size
    ):
        raise PolicyRejected(
            f"{source}: images {list(spec.obs.image_keys)} at {list(spec.obs.image_size)}, robot "
            f"provides {list(robot.obs.image_keys)} at {list(robot.obs.image_size)}"
        )
    for key in spec.obs.image_keys:
        a, b = spec.camera(key), robot.camera(key)
        if (a.width, a.height) != (b.width, b.height):
            raise PolicyRejected(
                f"{source}: camera '{key}' trained at {a.width}x{a.height}, "
                f"robot's is {b.width}x{b.height}"
            )
    theirs_p = list(zip(spec.obs.proprio_keys, spec.obs.proprio_dims, strict=True))
    mine_p = list(zip(robot.obs.proprio_keys, robot.obs.proprio_dims, strict=True))
    if theirs_p != mine_p:
        raise PolicyRejected(f"{source}: proprio {theirs_p}, robot provides {mine_p}")
    rate, my_rate = spec.robot.control_rate_hz, mine.control_rate_hz
    if abs(rate - my_rate) > 1e-6:
        raise PolicyRejected(f"{source}: trained at {rate} Hz, robot runs {my_rate} Hz")
    return spec
