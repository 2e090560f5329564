"""Reading, validating and summarising HDF5 episode datasets (a file or a directory)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lps_robot.data import schema
from lps_robot.data.timing import timing_faults
from lps_robot.spec import Spec, SpecError


class DataError(ValueError):
    """A dataset file is unreadable or does not follow the schema; the message says where."""


@dataclass(frozen=True)
class EpisodeRef:
    """Where one demo lives."""

    file: Path
    name: str  # "demo_<i>"

    def __str__(self) -> str:
        return f"{self.file}:/{schema.DATA_GROUP}/{self.name}"

    def load(self, keys: tuple[str, ...] | None = None, steps: bool = True) -> dict[str, Any]:
        return load_episode(self, keys, steps)


def dataset_files(path: str | Path) -> list[Path]:
    """The finished episode files of a dataset: the file itself, or a directory's ``*.h5``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_dir():
        return sorted(p for p in path.glob("*.h5") if p.is_file())
    return [path]


def partial_files(path: str | Path) -> list[Path]:
    path = Path(path)
    return sorted(path.glob(f"*.h5{schema.PARTIAL_SUFFIX}")) if path.is_dir() else []


def _open(file: Path) -> h5py.File:
    if not h5py.is_hdf5(file):
        raise DataError(f"{file}: not an HDF5 file (bad signature; expected an episode .h5)")
    try:
        return h5py.File(file, "r")
    except OSError as e:
        raise DataError(f"{file}: cannot open HDF5 file, truncated or corrupt ({e})") from e


def read_spec(path: str | Path) -> Spec:
    """The spec stored in a dataset (all files of a directory must agree)."""
    specs = {}
    for file in dataset_files(path):
        with _open(file) as f:
            specs[file] = _spec_of(f, file)
    if not specs:
        raise DataError(f"{path}: no episode files (*.h5) found")
    first_file, first = next(iter(specs.items()))
    for file, spec in specs.items():
        if spec != first:
            raise DataError(f"{file}: spec differs from {first_file}'s; one dataset, one spec")
    return first


def _spec_of(f: h5py.File, file: Path) -> Spec:
    if "spec" not in f.attrs:
        data = f.get(schema.DATA_GROUP)
        if isinstance(data, h5py.Group) and schema.demo_names(data):
            raise DataError(
                f"{file}: root attribute 'spec' is missing: a robomimic-layout file without an "
                f"lps_robot spec; import it with "
                f"`lps data import --format robomimic {file} --spec robot.yaml -o DIR`"
            )
        raise DataError(f"{file}: root attribute 'spec' is missing (expected the spec as JSON)")
    try:
        return Spec.from_json(schema.attr_str(f.attrs["spec"]))
    except SpecError as e:
        raise DataError(f"{file}: attribute 'spec' is invalid: {e}") from e


def list_episodes(path: str | Path) -> list[EpisodeRef]:
    refs = []
    for file in dataset_files(path):
        with _open(file) as f:
            if schema.DATA_GROUP not in f:
                raise DataError(f"{file}: group '/{schema.DATA_GROUP}' is missing")
            names = schema.demo_names(f[schema.DATA_GROUP])
        refs.extend(EpisodeRef(file, n) for n in names)
    return refs


def load_episode(
    ref: EpisodeRef, keys: tuple[str, ...] | None = None, steps: bool = True
) -> dict[str, Any]:
    """All arrays of one demo (``obs/<key>`` flattened as ``obs/<key>``) plus ``attrs``;
    ``keys``: only these observations; ``steps=False``: without the per-step arrays."""
    with _open(ref.file) as f:
        g = f[schema.DATA_GROUP][ref.name]
        out: dict[str, Any] = {"attrs": {k: _plain(v) for k, v in g.attrs.items()}}
        for key in schema.STEP_KEYS if steps else ():
            out[key] = g[key][()]
        for key, ds in g["obs"].items():
            if keys is None or key in keys:
                out[f"obs/{key}"] = ds[()]
    return out


def validate(path: str | Path, quick: bool = False) -> list[str]:
    """Every problem found, each naming file, demo and field; an empty list means valid.

    Every chunk of every dataset is read back, so HDF5's fletcher32 checksums (written by
    `EpisodeWriter`) catch a flipped byte anywhere; ``quick`` reads only the last frame of
    each image stream (all other datasets are still read whole)."""
    path = Path(path)
    problems: list[str] = []
    try:
        files = dataset_files(path)
    except DataError as e:
        return [str(e)]
    if not files:
        return [f"{path}: no episode files (*.h5) found"]
    for file in files:
        try:
            with _open(file) as f:
                problems += _validate_file(f, file, quick)
        except DataError as e:
            problems.append(str(e))
        except OSError as e:  # data chunks that cannot be read back (truncation, bit rot)
            problems.append(f"{file}: read error, file truncated or corrupt ({e})")
    return problems


def _validate_file(f: h5py.File, file: Path, quick: bool) -> list[str]:
    problems = []
    version = f.attrs.get("schema_version")
    if version != schema.SCHEMA_VERSION:
        problems.append(
            f"{file}: attribute 'schema_version' expected {schema.SCHEMA_VERSION}, got {version}"
        )
    spec = _spec_of(f, file)
    if schema.DATA_GROUP not in f:
        return [*problems, f"{file}: group '/{schema.DATA_GROUP}' is missing"]
    demos = [n for n in f[schema.DATA_GROUP] if n.startswith(schema.DEMO_PREFIX)]
    if not demos:
        problems.append(f"{file}: no '{schema.DEMO_PREFIX}<i>' groups under /{schema.DATA_GROUP}")
    for name in demos:
        where = f"{file}:/{schema.DATA_GROUP}/{name}"
        problems += _validate_demo(f[schema.DATA_GROUP][name], spec, where, quick)
    return problems


def _expected_shapes(spec: Spec) -> dict[str, tuple[tuple[int, ...], str]]:
    shapes: dict[str, tuple[tuple[int, ...], str]] = {
        k: ((), schema.STEP_DTYPES[k]) for k in schema.STEP_KEYS
    }
    shapes["actions"] = ((spec.action.dim,), "float32")
    for key in spec.obs.image_keys:
        cam = spec.camera(key)
        shapes[f"obs/{key}"] = ((cam.height, cam.width, 3), schema.IMAGE_DTYPE)
    for key, dim in zip(spec.obs.proprio_keys, spec.obs.proprio_dims, strict=True):
        shapes[f"obs/{key}"] = ((dim,), schema.PROPRIO_DTYPE)
    return shapes


def _read_back(ds: h5py.Dataset, quick: bool) -> np.ndarray | None:
    """Read every chunk (in frame blocks for images); float data is returned for checks."""
    if ds.ndim == 4:
        if quick:
            ds[-1]
            return None
        block = max(1, ds.chunks[0] if ds.chunks else 1) * 64
        for i in range(0, ds.shape[0], block):
            ds[i : i + block]
        return None
    return ds[()]


def _validate_demo(g: h5py.Group, spec: Spec, where: str, quick: bool = False) -> list[str]:
    problems = []
    n = g.attrs.get("num_samples")
    if g.attrs.get("partial", False):
        problems.append(f"{where}: attribute 'partial' is true (unfinished episode)")
    lengths = {}
    for key, (shape, dtype) in _expected_shapes(spec).items():
        if key not in g:
            problems.append(f"{where}: dataset '{key}' is missing (expected {dtype} (T, {shape}))")
            continue
        ds = g[key]
        if ds.dtype != np.dtype(dtype):
            problems.append(f"{where}: '{key}' has dtype {ds.dtype}, expected {dtype}")
        if ds.shape[1:] != shape:
            problems.append(f"{where}: '{key}' has shape {ds.shape}, expected (T, *{shape})")
        lengths[key] = ds.shape[0] if ds.shape else 0
        if not ds.size:
            continue
        try:
            values = _read_back(ds, quick)
        except OSError as e:  # a checksum mismatch (bit rot) or truncated data
            problems.append(
                f"{where}: '{key}' cannot be read back (corrupt: checksum or truncation; {e})"
            )
            continue
        if values is not None and ds.dtype.kind == "f":
            bad = ~np.isfinite(values)
            if bad.any():
                step = int(np.argwhere(bad)[0][0])
                problems.append(
                    f"{where}: '{key}' has {int(bad.sum())} NaN/inf values (first at step {step})"
                )
    if len(set(lengths.values())) > 1:
        problems.append(f"{where}: datasets disagree on the number of steps: {lengths}")
    if n is not None and lengths and n != max(lengths.values()):
        problems.append(f"{where}: attribute num_samples={n} but datasets hold {lengths}")
    if lengths.get("timestamps", 0) > 1:
        rate = float(g.attrs.get("control_rate_hz", spec.robot.control_rate_hz))
        problems += [f"{where}: {fault}" for fault in timing_faults(g["timestamps"][()], rate)]
    recorded = schema.attr_str(g.attrs.get("timing_faults", "[]"))
    try:
        problems += [f"{where}: timing fault while recording: {f}" for f in json.loads(recorded)]
    except (json.JSONDecodeError, TypeError):
        problems.append(f"{where}: attribute 'timing_faults' is not a JSON list")
    return problems


def summarize(path: str | Path) -> dict[str, Any]:
    """Episodes, lengths, keys/shapes, success rate and measured control rate."""
    episodes = []
    keys: dict[str, Any] = {}
    for ref in list_episodes(path):
        with _open(ref.file) as f:
            g = f[schema.DATA_GROUP][ref.name]
            if "timestamps" in g:
                ts = g["timestamps"][()]
                n = len(ts)
                rate = float((n - 1) / (ts[-1] - ts[0])) if n > 1 and ts[-1] > ts[0] else None
            else:  # a foreign (e.g. robomimic) file: no timestamps
                n = int(g.attrs.get("num_samples", len(g["actions"]) if "actions" in g else 0))
                rate = None
            episodes.append(
                {
                    "episode": str(ref),
                    "length": n,
                    "success": bool(g.attrs.get("success", False)),
                    "partial": bool(g.attrs.get("partial", False)),
                    "measured_rate_hz": rate,
                    "nominal_rate_hz": float(g.attrs.get("control_rate_hz", float("nan"))),
                    "dropped_frames": json.loads(
                        schema.attr_str(g.attrs.get("dropped_frames", "{}"))
                    ),
                }
            )
            if not keys:
                g.visititems(lambda k, o: _collect_dataset(keys, k, o))
    rates = [e["measured_rate_hz"] for e in episodes if e["measured_rate_hz"]]
    return {
        "path": str(path),
        "episodes": len(episodes),
        "steps": sum(e["length"] for e in episodes),
        "success_rate": float(np.mean([e["success"] for e in episodes])) if episodes else None,
        "measured_rate_hz": float(np.median(rates)) if rates else None,
        "partial_files": [str(p) for p in partial_files(path)],
        "keys": keys,
        "per_episode": episodes,
    }


def _collect_dataset(keys: dict[str, Any], name: str, obj: Any) -> None:
    if isinstance(obj, h5py.Dataset):  # returning None keeps h5py's visit going
        keys[name] = [list(obj.shape), str(obj.dtype)]


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v
