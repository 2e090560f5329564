"""A LeRobot v3 dataset read into our episode files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lps_robot.data.lerobot.source import LeRobotSource
from lps_robot.data.reader import DataError
from lps_robot.data.writer import DatasetWriter
from lps_robot.spec import Spec


def import_lerobot(
    src: str | Path,
    spec: Spec,
    out_dir: str | Path,
    assume_success: bool = False,
    key_map: Mapping[str, str] | None = None,
    resample: bool = False,
) -> list[Path]:
    """Every episode of a LeRobot v3 dataset as one of our episode files, streamed: one data
    file's table and one frame per camera at a time in memory.

    ``observation.state`` is split into the spec's proprio keys (its width must be their
    total), ``action`` must have the spec's action size, and every spec camera must be an
    ``observation.images.<name>`` feature (``video``, or ``image``: PNG/JPEG cells in the
    data files) of the spec's resolution. The success label comes from the episodes table's
    ``success`` column; LeRobot datasets without one need ``assume_success`` (every episode
    then counts as a success). ``key_map``: a camera's name in the dataset -> the spec's.
    A dataset fps other than the spec's rate is refused unless ``resample``: each tick then
    takes the latest frame at or before it (rewards of the frames it covers summed)."""
    source = LeRobotSource(src, spec, assume_success, key_map, resample)
    writer = DatasetWriter(out_dir, spec)
    written = []
    for ref in source.refs():
        i = ref.index
        arrays = source.steps(i)
        n = len(arrays["actions"])
        frames = {cam.name: source.frames(i, cam.name) for cam in spec.cameras}
        episode = writer.begin_episode()
        try:
            for t in range(n):
                obs = {k: arrays[f"obs/{k}"][t] for k in spec.obs.proprio_keys}
                for cam, it in frames.items():
                    obs[cam] = source.checked(i, cam, t, n, next(it, None))
                reward = float(arrays["rewards"][t])
                episode.append(
                    obs,
                    arrays["actions"][t],
                    timestamp=float(arrays["timestamps"][t]),
                    reward=reward,
                )
        except DataError:
            episode.abort()
            raise
        written.append(
            episode.finish(
                success=source.success(i),
                sparse_rewards=False,
                notes=f"imported from LeRobot {ref}",
            )
        )
    return written
