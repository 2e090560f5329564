"""robomimic interop: what robomimic's loader expects of our merged files, and importing a
genuine robomimic file into our episodes.

robomimic's ``SequenceDataset`` reads ``data/demo_<i>/{obs,next_obs}/<key>``, ``actions``,
``rewards``, ``dones``, the ``num_samples`` attribute, ``mask/<filter>`` lists of demo names
(``train``/``valid`` by default) and ``data.attrs["env_args"]`` (JSON with an integer
``type`` and ``env_kwargs``). A robomimic file carries no robot spec: on import the spec
(``--spec robot.yaml``) supplies joint names, limits, cameras and the control rate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from lps_robot.data import schema
from lps_robot.data.reader import DataError
from lps_robot.data.writer import DatasetWriter
from lps_robot.spec import Spec

VALID_EVERY = 10  # every 10th demo goes to mask/valid, the rest to mask/train


def add_robomimic_views(f: h5py.File, spec: Spec) -> None:
    """``next_obs/`` for every demo (s_{t+1}; the last step repeats its own observation, as
    robomimic's own conversion scripts do), ``mask/train`` + ``mask/valid`` and env_args."""
    data = f[schema.DATA_GROUP]
    names = schema.demo_names(data)
    for name in names:
        demo = data[name]
        if "next_obs" in demo:
            del demo["next_obs"]
        for key, ds in demo["obs"].items():
            values = ds[()]
            shifted = np.concatenate([values[1:], values[-1:]]) if len(values) else values
            chunks = (1, *ds.shape[1:]) if ds.ndim == 4 else True
            demo.create_dataset(
                f"next_obs/{key}",
                data=shifted,
                chunks=chunks,
                compression=ds.compression,
                fletcher32=True,
            )
    valid = [n for i, n in enumerate(names) if i % VALID_EVERY == VALID_EVERY - 1]
    train = [n for n in names if n not in valid]
    if "mask" in f:
        del f["mask"]
    for split, members in (("train", train), ("valid", valid)):
        f.create_dataset(f"mask/{split}", data=np.array(members, dtype="S"))
    data.attrs["env_args"] = schema.env_args(spec)


def merge(episode_dir: str | Path, out_file: str | Path) -> Path:
    """All finished episodes of a directory -> one file robomimic's loader reads with its
    defaults (``next_obs/``, ``mask/train`` + ``mask/valid``, env_args), written atomically."""
    episode_dir, out_file = Path(episode_dir), Path(out_file)
    files = sorted(episode_dir.glob(f"{schema.DEMO_PREFIX}*.h5"))
    if not files:
        raise ValueError(f"{episode_dir}: no finished episode files to merge")
    tmp = out_file.with_name(out_file.name + ".tmp")
    total = 0
    with h5py.File(tmp, "w") as dst:
        for i, path in enumerate(files):
            with h5py.File(path, "r") as src:
                if i == 0:
                    for k, v in src.attrs.items():
                        dst.attrs[k] = v
                    data = dst.create_group(schema.DATA_GROUP)
                    for k, v in src[schema.DATA_GROUP].attrs.items():
                        data.attrs[k] = v
                elif src.attrs["spec"] != dst.attrs["spec"]:
                    raise ValueError(f"{path}: spec differs from {files[0]}'s; cannot merge")
                (name,) = list(src[schema.DATA_GROUP])
                src.copy(src[schema.DATA_GROUP][name], dst[schema.DATA_GROUP], schema.demo_name(i))
                total += int(src[schema.DATA_GROUP][name].attrs["num_samples"])
        dst[schema.DATA_GROUP].attrs["total"] = total
        add_robomimic_views(dst, Spec.from_json(schema.attr_str(dst.attrs["spec"])))
    os.replace(tmp, out_file)
    return out_file


def import_robomimic(
    src: str | Path,
    spec: Spec,
    out_dir: str | Path,
    filter_key: str = "",
    key_map: Mapping[str, str] | None = None,
) -> list[Path]:
    """Every demo of a robomimic file (or those its ``mask/<filter_key>`` lists, as
    robomimic's own ``filter_key`` selects) as one of our episode files; returns their paths.

    Observation keys come from the spec (each must exist under ``obs/`` with the spec's
    shape); ``success`` is the last ``dones`` flag (robomimic demos are usually all
    successes); timestamps are t / control rate. Each episode's notes name its source file
    and demo. ``key_map``: the file's obs key -> the spec's, for keys named differently."""
    src = Path(src)
    source = {v: k for k, v in (key_map or {}).items()}  # spec key -> the file's
    writer = DatasetWriter(out_dir, spec)
    written = []
    rate = spec.robot.control_rate_hz
    with h5py.File(src, "r") as f:
        data = f.get(schema.DATA_GROUP)
        if not isinstance(data, h5py.Group):
            raise DataError(f"{src}: no '/{schema.DATA_GROUP}' group (not a robomimic file)")
        names = schema.demo_names(data)
        if filter_key:
            mask = f.get(f"mask/{filter_key}")
            if mask is None:
                found = sorted(f["mask"]) if "mask" in f else []
                raise DataError(f"{src}: no mask/{filter_key} (filter keys: {found})")
            chosen = {schema.attr_str(n) for n in mask[()]}
            names = [n for n in names if n in chosen]
        keys = (*spec.obs.image_keys, *spec.obs.proprio_keys)
        for name in names:
            demo = data[name]
            where = f"{src}:/{schema.DATA_GROUP}/{name}"
            missing = [source.get(k, k) for k in keys if f"obs/{source.get(k, k)}" not in demo]
            if missing or "actions" not in demo:
                raise DataError(
                    f"{where}: needs obs/{missing[0] if missing else ''} and actions for the "
                    f"spec's keys {list(keys)}"
                )
            obs = {k: demo[f"obs/{source.get(k, k)}"][()] for k in keys}
            actions = demo["actions"][()].astype(np.float32)
            if actions.ndim != 2 or actions.shape[1] != spec.action.dim:
                raise DataError(
                    f"{where}: actions of shape {actions.shape}, the spec has "
                    f"action.dim={spec.action.dim}"
                )
            rewards = demo["rewards"][()] if "rewards" in demo else np.zeros(len(actions))
            dones = demo["dones"][()] if "dones" in demo else np.zeros(len(actions))
            episode = writer.begin_episode()
            try:
                for t in range(len(actions)):
                    episode.append(
                        {k: v[t] for k, v in obs.items()},
                        actions[t],
                        timestamp=t / rate,
                        reward=float(rewards[t]),
                    )
            except (KeyError, ValueError) as e:
                episode.abort()
                raise DataError(f"{where}: {e}") from e
            success = bool(dones[-1]) if len(dones) else False
            notes = f"imported from {src.name}:/{schema.DATA_GROUP}/{name}"
            written.append(episode.finish(success=success, sparse_rewards=False, notes=notes))
    return written
