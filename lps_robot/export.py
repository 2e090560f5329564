"""ONNX export: one inference-only graph ``observations -> action chunk`` plus its manifest.

The graph holds the encoder (proprio normalisation inside), the latent actor, the one-step
MeanFlow decoder and the action de-normalisation, so the node feeds uint8 images and raw
proprio and receives raw joint targets (h, A). The manifest (spec, preprocessing, training
config, dataset fingerprint, git revision, export time, content hash) is stored in ONNX
``metadata_props``; the runtime refuses a model without it. Export fails unless onnxruntime
matches torch within 1e-5 on random and (when given) real inputs.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import subprocess
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lps_robot.agent import LPSAgent
from lps_robot.runtime.manifest import (
    MANIFEST_KEY,
    MANIFEST_VERSION,
    graph_digest,
    input_signature,
)

PARITY_ATOL = 1e-5


class ExportError(RuntimeError):
    """Export or its parity check failed."""


class PolicyGraph(nn.Module):
    """Inference-only wrapper: named observation inputs (+ optional latent) -> raw chunk."""

    def __init__(self, agent: LPSAgent, latent_input: bool):
        super().__init__()
        self.encoder, self.actor, self.decoder = agent.encoder, agent.actor, agent.decoder
        # the actor's own encoder when the agent has one per network
        self.actor_encoder = agent.actor_encoder if agent.per_network else None
        spec = agent.spec
        self.keys = (*spec.obs.image_keys, *spec.obs.proprio_keys)
        self.latent_input = latent_input
        self.h, self.a = spec.policy.chunk_length, spec.action.dim
        self.register_buffer("low", torch.tensor(spec.action.low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(spec.action.high, dtype=torch.float32))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        obs = dict(zip(self.keys, inputs, strict=False))
        feat = self.encoder(obs)
        if self.latent_input:
            z = inputs[len(self.keys)]
        else:
            z = self.actor(feat if self.actor_encoder is None else self.actor_encoder(obs))
        a = self.decoder.decode(feat, z).clamp(-1.0, 1.0).view(-1, self.h, self.a)
        return (a + 1.0) * 0.5 * (self.high - self.low) + self.low


def _git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def dummy_inputs(agent: LPSAgent, latent_input: bool, seed: int = 0) -> dict[str, np.ndarray]:
    """Random single-sample inputs with the exported names, dtypes and shapes."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, dtype, shape in input_signature(agent.spec, latent_input):
        if dtype == "uint8":
            out[name] = rng.integers(0, 256, shape, dtype=np.uint8)
        else:
            out[name] = rng.standard_normal(shape).astype(np.float32)
    if latent_input:
        z = out["latent"]
        out["latent"] = (
            z * np.sqrt(z.shape[1]) / np.linalg.norm(z, axis=1, keepdims=True)
        ).astype(np.float32)
    return out


@contextlib.contextmanager
def _quiet_registry():
    """torch's ONNX exporter warns once per torchvision operator it could register, when
    torchvision is absent (it is: the policy uses none); those lines say nothing here."""
    log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def export(
    agent: LPSAgent,
    out_path: str | Path,
    *,
    algo: str = "lps",
    train_config: Mapping[str, Any] | None = None,
    dataset_fingerprint: str = "",
    real_inputs: list[dict[str, np.ndarray]] | None = None,
    calibration_ids: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Write ``out_path`` (ONNX + manifest) and return the manifest (with parity figures)."""
    import onnx
    import onnxruntime as ort

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if next(agent.parameters()).device.type != "cpu":  # e.g. trained on a GPU
        agent = copy.deepcopy(agent).cpu()
    latent_input = algo == "bc"  # BC samples its latent; the node feeds sphere noise
    graph = PolicyGraph(agent, latent_input).eval()
    names = [n for n, _, _ in input_signature(agent.spec, latent_input)]
    example = dummy_inputs(agent, latent_input)
    args = tuple(torch.from_numpy(example[n]) for n in names)
    tmp = out_path.with_name(out_path.name + ".tmp")
    with warnings.catch_warnings(), torch.no_grad(), _quiet_registry():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            args,
            str(tmp),
            input_names=names,
            output_names=["actions"],
            dynamo=True,
            external_data=False,
            optimize=True,
            verbose=False,
        )
    model = onnx.load(str(tmp))
    content_hash = graph_digest(model.graph)
    spec = agent.spec
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "algo": algo,
        "spec": spec.to_dict(),
        "inputs": [
            {"name": n, "dtype": d, "shape": list(s)}
            for n, d, s in input_signature(spec, latent_input)
        ],
        "outputs": [
            {
                "name": "actions",
                "dtype": "float32",
                "shape": [1, spec.policy.chunk_length, spec.action.dim],
                "units": "raw",
            }
        ],
        "latent": "input" if latent_input else "actor",
        "preprocessing": {
            "image_size": list(spec.obs.image_size),
            "crop": list(spec.obs.crop) if spec.obs.crop else None,
            "image_dtype": "uint8 RGB (H, W, 3), normalised inside the graph",
            "proprio": "raw float32; normalised inside the graph with spec.stats",
            "calibration_ids": dict(
                calibration_ids or {c.name: c.calibration_id for c in spec.cameras}
            ),
        },
        "training_config": dict(train_config or {}),
        "dataset_fingerprint": dataset_fingerprint,
        "git_revision": _git_revision(),
        "export_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "content_hash": content_hash,
    }
    parity = _parity(
        graph,
        model,
        names,
        [example, dummy_inputs(agent, latent_input, 1), *(real_inputs or [])],
        ort,
    )
    manifest["parity_max_abs_diff"] = parity
    entry = model.metadata_props.add()
    entry.key, entry.value = MANIFEST_KEY, json.dumps(manifest)
    onnx.save(model, str(tmp))
    tmp.replace(out_path)
    return manifest


def _parity(
    graph: PolicyGraph, model: Any, names: list[str], inputs: list[dict], ort: Any
) -> float:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(
        model.SerializeToString(), opts, providers=["CPUExecutionProvider"]
    )
    worst = 0.0
    for feed in inputs:
        feed = {n: feed[n] for n in names}
        with torch.no_grad():
            ref = graph(*(torch.from_numpy(feed[n]) for n in names)).numpy()
        got = sess.run(["actions"], feed)[0]
        worst = max(worst, float(np.abs(ref - got).max()))
    if not worst <= PARITY_ATOL:
        raise ExportError(
            f"parity: onnxruntime differs from torch by {worst:.3g} (> {PARITY_ATOL})"
        )
    return worst
