"""Normalisation statistics: computed once from a dataset, stored in the spec it travels with."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from lps_robot.spec import NormStats, Spec

STD_FLOOR = 1e-3
BOUND_MARGIN = 0.05  # fraction of the data range added on each side of the action bounds
BOUND_PERCENTILE = 0.5  # bounds from the 0.5 / 99.5 percentiles: rare outliers clip to +-1


def compute_stats(proprio: np.ndarray) -> NormStats:
    """Mean and std of the concatenated proprio vectors (N, P). A dimension that (almost)
    never varies gets std 1, not the floor: a value it never took in the data must not be
    amplified 1/STD_FLOOR-fold at test time."""
    mean = proprio.mean(axis=0, dtype=np.float64)
    std = proprio.std(axis=0, dtype=np.float64)
    std = np.where(std < STD_FLOOR, 1.0, std)
    return NormStats(tuple(mean.tolist()), tuple(std.tolist()))


def fit_action_bounds(
    actions: np.ndarray, spec: Spec
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Robust data range widened by a margin; joint targets stay inside the joint limits."""
    lo = np.percentile(actions, BOUND_PERCENTILE, axis=0).astype(np.float64)
    hi = np.percentile(actions, 100 - BOUND_PERCENTILE, axis=0).astype(np.float64)
    margin = np.maximum(BOUND_MARGIN * (hi - lo), 1e-3)
    lo, hi = lo - margin, hi + margin
    if spec.action.type == "joint_position":
        lo = np.maximum(lo, spec.robot.position_lower)
        hi = np.minimum(hi, spec.robot.position_upper)
    return tuple(lo.tolist()), tuple(hi.tolist())


def fit_spec(spec: Spec, proprio: np.ndarray, actions: np.ndarray) -> Spec:
    """The spec with proprio stats and action bounds fitted to the data."""
    low, high = fit_action_bounds(actions, spec)
    action = dataclasses.replace(spec.action, low=low, high=high)
    return spec.replace(stats=compute_stats(proprio), action=action)


def fingerprint(files: list[Path]) -> str:
    """Content-independent but change-sensitive id of a dataset: names, sizes, mtimes."""
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def load_cached(sidecar: Path, fp: str) -> Spec | None:
    """The fitted spec stored beside a dataset, if it was computed from the same files."""
    try:
        data = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if data.get("fingerprint") != fp:
        return None
    return Spec.from_dict(data["spec"])


def store(sidecar: Path, fp: str, spec: Spec) -> None:
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps({"fingerprint": fp, "spec": spec.to_dict()}, indent=1))
    tmp.replace(sidecar)
