"""A corpus of hand-built ONNX policies, good and bad, for the loader and fault-injection tests.

Each is a tiny graph written with ``onnx.helper`` (no torch, no export): the node must refuse
every bad one with a reason and keep running whatever it already runs. ``good`` commands a
constant chunk at ``target`` (default: the middle of the joint range).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lps_robot.runtime.manifest import (
    MANIFEST_KEY,
    MANIFEST_VERSION,
    graph_digest,
    input_signature,
)
from lps_robot.spec import Spec

KINDS = {  # kind -> words the rejection reason must contain
    "manifest_null": "manifest is JSON NoneType",
    "manifest_number": "manifest is JSON int",
    "wrong_output_name": "no graph output 'actions'",
    "extra_input": "unexpected graph input",
    "float64_input": "tensor(double)",
    "nan": "non-finite output",
    "wrong_action_size": "output 'actions' has shape",
    "raises_on_real_input": "raised on warm-up input",
    "slow": "warm-up p99 latency",
    "tampered": "content_hash",
    "wrong_joints": "joint names",
    "huge": "outside the policy's bounds",
}
_ONNX_TYPES = {"uint8": TensorProto.UINT8, "float32": TensorProto.FLOAT}


def make_model(
    spec: Spec,
    path: str | Path,
    kind: str = "good",
    target=None,
    threshold: float = 0.0,
    pad_bytes: int = 0,
) -> Path:
    """Write the ``kind`` model for ``spec`` to ``path`` and return the path. ``good``,
    ``nan_beyond`` (accepted at load, NaN once joint 0 > ``threshold``) and ``slow_beyond``
    (accepted, then ~4 GFLOP per call once joint 0 > ``threshold``) command ``target``;
    ``chase`` commands the joint positions + ``target`` (an offset), clipped to the action
    bounds, so the arm keeps moving; ``pad_bytes`` adds an unused initializer of that size
    (a model as big as a large policy that runs as fast as a small one)."""
    h, a = spec.policy.chunk_length, spec.action.dim
    sig = input_signature(spec, False)
    inputs = []
    for name, dtype, shape in sig:
        elem = TensorProto.DOUBLE if kind == "float64_input" and dtype == "float32" else None
        inputs.append(helper.make_tensor_value_info(name, elem or _ONNX_TYPES[dtype], shape))
    if kind == "extra_input":
        inputs.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1, 1]))
    lo, hi = np.asarray(spec.robot.position_lower), np.asarray(spec.robot.position_upper)
    goal = (lo + hi) / 2 if target is None else np.asarray(target, np.float64)
    width = a + 1 if kind == "wrong_action_size" else a
    chunk = np.zeros((1, h, width), np.float32)
    chunk[..., :a] = goal
    if kind == "nan":
        chunk[:] = np.nan
    if kind == "huge":
        chunk[:] = 1e30
    out_name = "act" if kind == "wrong_output_name" else "actions"
    inits = [numpy_helper.from_array(chunk, "chunk")]
    nodes = []
    if kind == "raises_on_real_input":  # index = 1000 * sum|joint_pos|: out of range unless 0
        inits += [
            numpy_helper.from_array(np.zeros(1, np.float32), "one_value"),
            numpy_helper.from_array(np.array(1000.0, np.float32), "k"),
        ]
        nodes += [
            helper.make_node("Abs", ["joint_pos"], ["abs"]),
            helper.make_node("ReduceSum", ["abs"], ["s"], keepdims=0),
            helper.make_node("Mul", ["s", "k"], ["sk"]),
            helper.make_node("Cast", ["sk"], ["idx"], to=TensorProto.INT64),
            helper.make_node("Gather", ["one_value", "idx"], ["g"]),
            helper.make_node("Add", ["chunk", "g"], [out_name]),
        ]
    elif kind == "slow":  # two input-dependent 1024x1024 matmuls per call (~4 GFLOP)
        w = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32) * 1e-3
        inits += [
            numpy_helper.from_array(w, "w"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        ]
        nodes += [
            helper.make_node("ReduceSum", ["joint_pos"], ["s"], keepdims=0),
            helper.make_node("Mul", ["w", "s"], ["ws"]),
            helper.make_node("MatMul", ["ws", "w"], ["m1"]),
            helper.make_node("MatMul", ["m1", "w"], ["m2"]),
            helper.make_node("ReduceSum", ["m2"], ["r"], keepdims=0),
            helper.make_node("Mul", ["r", "zero"], ["r0"]),
            helper.make_node("Add", ["chunk", "r0"], [out_name]),
        ]
    elif kind == "nan_beyond":  # passes warm-up; NaN once joint 0 exceeds `threshold`
        inits += [
            numpy_helper.from_array(np.array([0], np.int64), "i0"),
            numpy_helper.from_array(np.array(threshold, np.float32), "thr"),
            numpy_helper.from_array(np.array(np.nan, np.float32), "nan"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
        ]
        nodes += [
            helper.make_node("Gather", ["joint_pos", "i0"], ["j0"], axis=1),
            helper.make_node("Greater", ["j0", "thr"], ["beyond"]),
            helper.make_node("Where", ["beyond", "nan", "zero"], ["poison"]),
            helper.make_node("Unsqueeze", ["poison", "axes"], ["poison3"]),
            helper.make_node("Add", ["chunk", "poison3"], [out_name]),
        ]
        inits.append(numpy_helper.from_array(np.array([2], np.int64), "axes"))
    elif kind == "slow_beyond":  # the slow model's matmuls, only once joint 0 > threshold
        w = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32) * 1e-3
        heavy = helper.make_graph(
            [  # input-dependent (w * sum(joint_pos)), so nothing is folded at load
                helper.make_node("Mul", ["w", "s"], ["ws"]),
                helper.make_node("MatMul", ["ws", "w"], ["m1"]),
                helper.make_node("MatMul", ["m1", "w"], ["m2"]),
                helper.make_node("ReduceSum", ["m2"], ["r"], keepdims=0),
                helper.make_node("Mul", ["r", "zero"], ["r0"]),
                helper.make_node("Add", ["chunk", "r0"], ["heavy_out"]),
            ],
            "heavy",
            [],
            [helper.make_tensor_value_info("heavy_out", TensorProto.FLOAT, [1, h, width])],
        )
        light = helper.make_graph(
            [helper.make_node("Identity", ["chunk"], ["light_out"])],
            "light",
            [],
            [helper.make_tensor_value_info("light_out", TensorProto.FLOAT, [1, h, width])],
        )
        inits += [
            numpy_helper.from_array(w, "w"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
            numpy_helper.from_array(np.array([0], np.int64), "i0"),
            numpy_helper.from_array(np.array(threshold, np.float32), "thr"),
        ]
        nodes += [
            helper.make_node("ReduceSum", ["joint_pos"], ["s"], keepdims=0),
            helper.make_node("Gather", ["joint_pos", "i0"], ["j0"], axis=1),
            helper.make_node("Greater", ["j0", "thr"], ["beyond2"]),
            helper.make_node("Squeeze", ["beyond2"], ["beyond"]),
            helper.make_node("If", ["beyond"], [out_name], then_branch=heavy, else_branch=light),
        ]
    elif kind == "chase":  # joint positions + target, clipped to the action bounds
        low = np.asarray(spec.action.low, np.float32)[None, None]
        high = np.asarray(spec.action.high, np.float32)[None, None]
        inits += [
            numpy_helper.from_array(np.array([1], np.int64), "axes"),
            numpy_helper.from_array(low, "low"),
            numpy_helper.from_array(high, "high"),
        ]
        nodes += [
            helper.make_node("Unsqueeze", ["joint_pos", "axes"], ["pos3"]),
            helper.make_node("Add", ["chunk", "pos3"], ["ahead"]),
            helper.make_node("Min", ["ahead", "high"], ["below"]),
            helper.make_node("Max", ["below", "low"], [out_name]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["chunk"], [out_name]))
    if pad_bytes:
        inits.append(numpy_helper.from_array(np.ones(pad_bytes // 4, np.float32), "padding"))
    output = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, h, width])
    graph = helper.make_graph(nodes, "policy", inputs, [output], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    content_hash = graph_digest(model.graph)
    manifest_spec = spec
    if kind == "wrong_joints":
        names = tuple(f"x{i}" for i in range(spec.robot.num_joints))
        manifest_spec = spec.replace(robot=_with_names(spec, names))
    manifest: object = {
        "manifest_version": MANIFEST_VERSION,
        "algo": "lps",
        "spec": manifest_spec.to_dict(),
        "inputs": [{"name": n, "dtype": d, "shape": list(s)} for n, d, s in sig],
        "outputs": [{"name": "actions", "dtype": "float32", "shape": [1, h, a]}],
        "latent": "actor",
        "content_hash": "0" * 64 if kind == "tampered" else content_hash,
    }
    if kind == "manifest_null":
        manifest = None
    elif kind == "manifest_number":
        manifest = 42
    entry = model.metadata_props.add()
    entry.key, entry.value = MANIFEST_KEY, json.dumps(manifest)
    path = Path(path)
    onnx.save(model, str(path))
    return path


def _with_names(spec: Spec, names: tuple[str, ...]):
    import dataclasses

    return dataclasses.replace(spec.robot, joint_names=names)


def write_pair(spec: Spec, root: Path) -> dict[str, str]:
    """The spec as ``robot.yaml`` and the two good models ``a`` (joints at 60% of their range)
    and ``b`` (40%) in ``root``; their content hashes by name."""
    from lps_robot.runtime.manifest import read_manifest

    spec.save(root / "robot.yaml")
    lo, hi = np.asarray(spec.robot.position_lower), np.asarray(spec.robot.position_upper)
    make_model(spec, root / "a.onnx", target=lo + 0.6 * (hi - lo))
    make_model(spec, root / "b.onnx", target=lo + 0.4 * (hi - lo))
    return {n: read_manifest(root / f"{n}.onnx")["content_hash"] for n in ("a", "b")}
