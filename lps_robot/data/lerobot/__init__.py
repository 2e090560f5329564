"""LeRobot v3 interop without the `lerobot` package: export our episodes, import theirs.

The v3 layout (LeRobotDataset ``codebase_version`` v3.0):

    meta/info.json                   fps, features, paths, totals
    meta/stats.json                  min/max/mean/std/count per feature
    meta/tasks.parquet               task string -> task_index
    meta/episodes/chunk-000/file-000.parquet   one row per episode (lengths, file indices,
                                     frame ranges, video timestamps)
    data/chunk-000/file-000.parquet  one row per frame: action, observation.state, timestamp,
                                     frame_index, episode_index, index, task_index,
                                     next.reward, next.done
    videos/observation.images.<cam>/chunk-000/file-000.mp4   episodes back to back

``observation.state`` is the spec's proprio keys concatenated, ``action`` the recorded action;
each camera becomes ``observation.images.<name>`` (H.264 video, so images round-trip lossily).
Our success label travels as an extra ``success`` column of the episodes table; importing a
dataset without it takes ``--assume-success``.
"""

from lps_robot.data.lerobot.export import export_lerobot
from lps_robot.data.lerobot.load import import_lerobot

__all__ = ["export_lerobot", "import_lerobot"]
