"""OnnxPolicy: load an exported model, check it against the robot, warm it up, run it."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from lps_robot.runtime.manifest import (
    PolicyRejected,
    check_manifest,
    input_signature,
    manifest_from_metadata,
)
from lps_robot.spec import Spec


class OnnxPolicy:
    """One exported policy; construction either yields a runnable policy or `PolicyRejected`."""

    def __init__(
        self,
        path: str | Path,
        robot: Spec,
        *,
        threads: int = 1,
        warmup_iters: int = 20,
        max_warmup_p99_ms: float | None = None,
        seed: int = 0,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise PolicyRejected(f"{self.path}: cannot read model ({e.strerror})") from e
        self.file_hash = hashlib.sha256(data).hexdigest()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises several unrelated types for bad files
            raise PolicyRejected(
                f"{self.path}: not a loadable ONNX model ({type(e).__name__})"
            ) from e
        self.manifest = manifest_from_metadata(
            self.session.get_modelmeta().custom_metadata_map, str(self.path)
        )
        self.spec = check_manifest(self.manifest, robot, str(self.path))
        self.latent_input = self.manifest["latent"] == "input"
        self.content_hash = self.manifest["content_hash"]
        self._signature = input_signature(self.spec, self.latent_input)
        graph_inputs = {i.name: i for i in self.session.get_inputs()}
        for name, _, shape in self._signature:
            if name not in graph_inputs or tuple(graph_inputs[name].shape) != shape:
                raise PolicyRejected(
                    f"{self.path}: graph input '{name}' missing or not of shape {shape}"
                )
        self._rng = np.random.default_rng(seed)
        self._d = self.spec.policy.chunk_length * self.spec.action.dim
        self.warmup_ms = self._warmup(warmup_iters)
        p99 = float(np.percentile(self.warmup_ms, 99)) if self.warmup_ms else 0.0
        if max_warmup_p99_ms is not None and p99 > max_warmup_p99_ms:
            raise PolicyRejected(
                f"{self.path}: warm-up p99 latency {p99:.2f} ms exceeds {max_warmup_p99_ms} ms"
            )

    def _warmup(self, iters: int) -> list[float]:
        feed = {
            n: np.zeros(s, np.uint8 if d == "uint8" else np.float32) for n, d, s in self._signature
        }
        times = []
        for _ in range(iters):
            t0 = time.perf_counter()
            self.session.run(["actions"], feed)
            times.append((time.perf_counter() - t0) * 1e3)
        return times

    def sample_latent(self) -> np.ndarray:
        z = self._rng.standard_normal((1, self._d))
        return (np.sqrt(self._d) * z / np.linalg.norm(z)).astype(np.float32)

    def __call__(self, obs: dict[str, np.ndarray], latent: np.ndarray | None = None) -> np.ndarray:
        """Preprocessed observation (no batch dim) -> raw action chunk (h, A)."""
        feed = {}
        for name, dtype, shape in self._signature:
            if name == "latent":
                z = self.sample_latent() if latent is None else latent
                feed[name] = np.asarray(z, np.float32).reshape(shape)
            else:
                feed[name] = np.asarray(obs[name], dtype).reshape(shape)
        return self.session.run(["actions"], feed)[0][0]
