"""Where training reads its episodes: our HDF5 episode files, or a LeRobot v3 dataset in place
(`lps_robot.data.lerobot.source.lerobot_episodes`; the core imports no format).

Both give a list of episode references, each with ``load(keys, steps)`` returning the arrays
`load_episode` returns, the spec the episodes follow, the files that identify the dataset
(stats and frame caches are keyed by them), and where the fitted stats are kept. A LeRobot
dataset carries no spec of ours, so it needs one; its frames are video, read a whole episode
at a time (training decodes them once into the frame cache).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lps_robot.data.reader import dataset_files, list_episodes, read_spec
from lps_robot.spec import Spec


@dataclass
class Episodes:
    path: Path
    spec: Spec  # the spec the episodes follow
    refs: list  # EpisodeRef | LeRobotRef, in order
    files: Callable[[], list[Path]]
    stats_sidecar: Path
    frame_by_frame: bool  # single frames can be read from the files (HDF5; not video)


def hdf5_episodes(path: str | Path) -> Episodes:
    """The episodes of our dataset at ``path`` (an .h5 file or a directory of them)."""
    path = Path(path)
    sidecar = path / "stats.json" if path.is_dir() else path.with_name(path.name + ".stats.json")
    return Episodes(
        path, read_spec(path), list_episodes(path), lambda: dataset_files(path), sidecar, True
    )
