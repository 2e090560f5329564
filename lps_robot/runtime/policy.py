"""OnnxPolicy: load an exported model, check it against the robot, warm it up, run it.

Construction either yields a policy that has already produced finite chunks of the right
shape, within its latency budget, on realistic inputs, or raises `PolicyRejected` with the
reason: a bad file never raises anything else.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from lps_robot.runtime.loader import DEFAULT_MAX_BYTES, read_model_file
from lps_robot.runtime.manifest import (
    PolicyRejected,
    check_manifest,
    graph_hash,
    input_signature,
    manifest_from_metadata,
)
from lps_robot.runtime.stage import Staged, Stager, stage
from lps_robot.spec import Spec

ORT_TYPES = {"uint8": "tensor(uint8)", "float32": "tensor(float)"}
RANGE_MARGIN = 0.01  # fraction of an action's range a chunk may exceed its bounds by


def out_of_range(chunk: np.ndarray, spec: Spec) -> str:
    """'' when every value of a raw chunk (h, A) lies within the policy's action bounds plus
    the margin, else the first offending value with its dimension and bounds. An exported
    policy decodes into those bounds, so anything outside means a broken model."""
    low, high = np.asarray(spec.action.low), np.asarray(spec.action.high)
    margin = RANGE_MARGIN * (high - low)
    rows = np.asarray(chunk).reshape(-1, len(low))
    bad = (rows < low - margin) | (rows > high + margin)
    if not bad.any():
        return ""
    step, dim = np.argwhere(bad)[0]
    names = spec.robot.joint_names
    name = names[dim] if spec.action.type != "ee_delta" and dim < len(names) else f"dim {dim}"
    return (
        f"action {rows[step, dim]:.4g} for '{name}' outside the policy's bounds "
        f"[{low[dim]:.4g}, {high[dim]:.4g}]"
    )


PROVIDERS = {  # execution_provider -> onnxruntime providers, in order of preference
    "cpu": ("CPUExecutionProvider",),
    "cuda": ("CUDAExecutionProvider", "CPUExecutionProvider"),
    "tensorrt": ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"),
}
EXECUTION_PROVIDERS = ("auto", *PROVIDERS)


def providers_for(name: str, available: list[str]) -> tuple[str, ...]:
    """The onnxruntime providers for ``execution_provider`` ``name``: ``auto`` takes CUDA when
    this onnxruntime has it, else the CPU; a named one must be available."""
    if name not in EXECUTION_PROVIDERS:
        raise ValueError(
            f"execution_provider: expected one of {EXECUTION_PROVIDERS}, got {name!r}"
        )
    if name == "auto":
        name = "cuda" if PROVIDERS["cuda"][0] in available else "cpu"
    if PROVIDERS[name][0] not in available:
        raise PolicyRejected(
            f"execution_provider {name!r}: this onnxruntime has only {', '.join(available)}"
        )
    return PROVIDERS[name]


class OnnxPolicy:
    """One exported policy, validated against the robot and warmed up."""

    def __init__(
        self,
        path: str | Path,
        robot: Spec,
        *,
        threads: int = 1,
        warmup_iters: int = 20,
        max_warmup_p99_ms: float | None = None,
        seed: int = 0,
        warmup_obs: Mapping[str, np.ndarray] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        isolate_s: float | None = None,
        stager: Stager | None = None,
        provider: str = "cpu",
        ahead: bool = False,
    ) -> None:
        """``provider``: an `EXECUTION_PROVIDERS` name; ``ahead``: inference runs off the
        tick, so the latency budget is that share of chunk_length - 1 periods. ``isolate_s``:
        parse and hash the file in a child process (``stager``'s, else a one-off `stage`),
        waiting at most that long, so that loading never holds up the caller's other
        threads."""
        self.path = Path(path)
        staged = None
        if isolate_s is not None:
            if stager is not None:
                staged = stager.stage(self.path, max_bytes, isolate_s)
            else:
                staged = stage(self.path, max_bytes, isolate_s)
            source: bytes | Path = staged.path
        else:
            source = read_model_file(self.path, max_bytes)
        try:
            self._load(source, robot, threads, seed, staged, provider)
            self.warmup_ms = self._warmup(warmup_iters, robot, warmup_obs)
        except PolicyRejected:
            raise
        except Exception as e:  # noqa: BLE001 - a bad model may raise anything: reject it
            raise PolicyRejected(f"{self.path}: {type(e).__name__}: {e}") from e
        finally:
            if staged is not None:
                staged.discard()
        timed = self.warmup_ms[1:] or self.warmup_ms  # the first run also initialises
        p99 = float(np.percentile(timed, 99)) if timed else 0.0
        self.warmup_p99_ms = p99
        if max_warmup_p99_ms is not None and ahead:
            max_warmup_p99_ms *= max(1, self.spec.policy.chunk_length - 1)
        if max_warmup_p99_ms is not None and p99 > max_warmup_p99_ms:
            raise PolicyRejected(
                f"{self.path}: warm-up p99 latency {p99:.2f} ms exceeds the budget of "
                f"{max_warmup_p99_ms:.2f} ms"
            )

    def _load(
        self,
        source: bytes | Path,
        robot: Spec,
        threads: int,
        seed: int,
        staged: Staged | None,
        provider: str,
    ) -> None:
        import onnxruntime as ort

        providers = providers_for(provider, ort.get_available_providers())
        if staged is not None:
            self.file_hash, content = staged.file_hash, staged.graph_hash
        else:
            self.file_hash, content = hashlib.sha256(source).hexdigest(), None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4  # errors reach the caller as PolicyRejected, not stderr
        try:
            model = str(source) if isinstance(source, Path) else source
            self.session = ort.InferenceSession(model, opts, providers=list(providers))
        except Exception as e:  # onnxruntime raises several unrelated types for bad files
            raise PolicyRejected(
                f"{self.path}: not a loadable ONNX model ({type(e).__name__})"
            ) from e
        self.provider = self.session.get_providers()[0]  # the one that runs it
        if provider != "auto" and self.provider != providers[0]:
            raise PolicyRejected(
                f"{self.path}: {providers[0]} did not start ({self.provider} did)"
            )
        self.manifest = manifest_from_metadata(
            self.session.get_modelmeta().custom_metadata_map, str(self.path)
        )
        self.spec = check_manifest(self.manifest, robot, str(self.path))
        self.latent_input = self.manifest["latent"] == "input"
        self.content_hash = str(self.manifest["content_hash"])
        if (content or graph_hash(source)) != self.content_hash:
            raise PolicyRejected(
                f"{self.path}: the graph does not match the manifest's content_hash "
                "(modified after export?)"
            )
        self._signature = input_signature(self.spec, self.latent_input)
        self._check_graph()
        self._rng = np.random.default_rng(seed)
        self._d = self.spec.policy.chunk_length * self.spec.action.dim
        self.output_shape = (1, self.spec.policy.chunk_length, self.spec.action.dim)

    def _check_graph(self) -> None:
        graph_inputs = {i.name: i for i in self.session.get_inputs()}
        expected = {name for name, _, _ in self._signature}
        extra = sorted(set(graph_inputs) - expected)
        if extra:
            raise PolicyRejected(f"{self.path}: unexpected graph input(s) {extra}")
        for name, dtype, shape in self._signature:
            got = graph_inputs.get(name)
            if got is None or tuple(got.shape) != shape:
                raise PolicyRejected(
                    f"{self.path}: graph input '{name}' missing or not of shape {shape}"
                )
            if got.type != ORT_TYPES[dtype]:
                raise PolicyRejected(
                    f"{self.path}: graph input '{name}' is {got.type}, expected {ORT_TYPES[dtype]}"
                )
        outputs = [o.name for o in self.session.get_outputs()]
        if "actions" not in outputs:
            raise PolicyRejected(f"{self.path}: no graph output 'actions' (has {outputs})")

    def _synthetic_obs(self, robot: Spec) -> dict[str, np.ndarray]:
        """Plausible inputs: random images, joints inside their limits, zero velocities, and
        any other proprio key of the spec as standard-normal values of its size."""
        r = robot.robot
        lo, hi = np.asarray(r.position_lower), np.asarray(r.position_upper)
        h, w = self.spec.obs.image_size
        obs = {
            k: self._rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            for k in self.spec.obs.image_keys
        }
        obs["joint_pos"] = self._rng.uniform(lo, hi)
        obs["joint_vel"] = np.zeros(r.num_joints)
        for key, dim in zip(self.spec.obs.proprio_keys, self.spec.obs.proprio_dims, strict=True):
            if key not in obs:
                obs[key] = self._rng.standard_normal(dim)
        return obs

    def _warmup(
        self, iters: int, robot: Spec, real: Mapping[str, np.ndarray] | None
    ) -> list[float]:
        """Run on the latest real observation (when given) and on synthetic ones; every
        output must be a finite chunk of the declared shape."""
        feeds = [dict(real)] if real else []
        feeds += [self._synthetic_obs(robot) for _ in range(2)]
        times = []
        for i in range(max(iters, len(feeds))):
            obs = feeds[i % len(feeds)]
            what = f"warm-up input {i % len(feeds)}" + (
                " (real)" if real and i % len(feeds) == 0 else ""
            )
            t0 = time.perf_counter()
            try:
                out = self.run(obs)
            except Exception as e:  # noqa: BLE001 - e.g. onnxruntime's InvalidArgument
                raise PolicyRejected(
                    f"{self.path}: raised on {what}: {type(e).__name__}: {e}"
                ) from e
            times.append((time.perf_counter() - t0) * 1e3)
            self.check_output(out, what)
        return times

    def check_output(self, out: np.ndarray, what: str) -> None:
        if out.shape != self.output_shape:
            raise PolicyRejected(
                f"{self.path}: output 'actions' has shape {list(out.shape)} on {what}, "
                f"expected {list(self.output_shape)}"
            )
        if not np.isfinite(out).all():
            raise PolicyRejected(f"{self.path}: non-finite output on {what}")
        outside = out_of_range(out[0], self.spec)
        if outside:
            raise PolicyRejected(f"{self.path}: {outside} on {what}")

    def sample_latent(self) -> np.ndarray:
        z = self._rng.standard_normal((1, self._d))
        return (np.sqrt(self._d) * z / np.linalg.norm(z)).astype(np.float32)

    def run(self, obs: Mapping[str, np.ndarray], latent: np.ndarray | None = None) -> np.ndarray:
        """The graph's raw output (batch of one), unchecked."""
        feed = {}
        for name, dtype, shape in self._signature:
            if name == "latent":
                z = self.sample_latent() if latent is None else latent
                feed[name] = np.asarray(z, np.float32).reshape(shape)
            else:
                feed[name] = np.asarray(obs[name], dtype).reshape(shape)
        return np.asarray(self.session.run(["actions"], feed)[0])

    def __call__(
        self, obs: Mapping[str, np.ndarray], latent: np.ndarray | None = None
    ) -> np.ndarray:
        """Preprocessed observation (no batch dim) -> raw action chunk (h, A)."""
        out = self.run(obs, latent)
        if out.shape != self.output_shape:
            raise PolicyRejected(
                f"{self.path}: output shape {list(out.shape)}, expected {list(self.output_shape)}"
            )
        return out[0]
