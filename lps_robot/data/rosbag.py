"""rosbag2 -> training episodes: what `ros2 bag record` captured, resampled like the recorder.

One bag is one episode (the usual way to record a teleop demonstration with ``ros2 bag
record``). Read with `rosbags` (pure Python; sqlite3 or MCAP storage, message definitions
from the bag or ROS 2 Jazzy's). The streams are sampled at the spec's control rate on the
bag's receive times, exactly as the live recorder node does: at each tick the freshest joint
state, frame per camera and operator command; a tick at which a stream is older than
``max_age_s`` (default: two periods) is skipped, and counted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lps_robot.data.reader import DataError
from lps_robot.data.writer import DatasetWriter
from lps_robot.spec import Spec

TELEOP_TOPIC = "/teleop/joint_command"  # the recorder's default action topic


def _messages(bag: Path, topics: set[str]) -> dict[str, list[tuple[float, object]]]:
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    streams: dict[str, list[tuple[float, object]]] = {t: [] for t in topics}
    typestore = get_typestore(Stores.ROS2_JAZZY)
    with AnyReader([bag], default_typestore=typestore) as reader:
        connections = [c for c in reader.connections if c.topic in topics]
        for conn, t_ns, raw in reader.messages(connections=connections):
            streams[conn.topic].append((t_ns * 1e-9, reader.deserialize(raw, conn.msgtype)))
    return streams


def import_rosbag(
    bag: str | Path,
    spec: Spec,
    out_dir: str | Path,
    *,
    joint_topic: str = "/joint_states",
    action_topic: str = TELEOP_TOPIC,
    success: bool = True,
    max_age_s: float | None = None,
) -> tuple[Path, dict[str, int]]:
    """Write the bag as one episode of ``out_dir``; returns its path and the skipped ticks
    per stale stream."""
    from lps_robot.messages import image_to_rgb, reorder

    bag = Path(bag)
    cams = {spec.camera(k).topic: k for k in spec.obs.image_keys}
    topics = {joint_topic, action_topic, *cams}
    try:
        streams = _messages(bag, topics)
    except Exception as e:  # noqa: BLE001 - rosbags raises its own types for bad bags
        raise DataError(f"{bag}: cannot read the bag ({type(e).__name__}: {e})") from e
    empty = sorted(t for t, msgs in streams.items() if not msgs)
    if empty:
        raise DataError(f"{bag}: no messages on {empty} (topics the spec needs)")
    period = 1.0 / spec.robot.control_rate_hz
    max_age = 2 * period if max_age_s is None else max_age_s
    start = max(msgs[0][0] for msgs in streams.values())
    end = max(msgs[-1][0] for msgs in streams.values())
    times = {t: np.array([m[0] for m in msgs]) for t, msgs in streams.items()}
    names = spec.robot.joint_names
    writer = DatasetWriter(out_dir, spec)
    episode = writer.begin_episode()
    skipped: dict[str, int] = {}
    try:
        for tick in np.arange(start, end + 1e-9, period):
            latest = {}
            for topic, ts in times.items():
                i = int(np.searchsorted(ts, tick, side="right")) - 1
                if tick - ts[i] > max_age:
                    latest = None
                    skipped[topic] = skipped.get(topic, 0) + 1
                    break
                latest[topic] = streams[topic][i][1]
            if latest is None:
                continue
            js = latest[joint_topic]
            pos = reorder(list(js.name), js.position, names)
            if pos is None:
                raise DataError(f"{bag}: {joint_topic} lacks one of the joints {list(names)}")
            obs = {"joint_pos": pos.astype(np.float32)}
            if "joint_vel" in spec.obs.proprio_keys:
                vel = reorder(list(js.name), js.velocity, names)
                obs["joint_vel"] = (vel if vel is not None else np.zeros(len(names))).astype(
                    np.float32
                )
            for topic, key in cams.items():
                cam = spec.camera(key)
                obs[key] = image_to_rgb(latest[topic], cam.width, cam.height)
            action = np.asarray(latest[action_topic].data, np.float32)
            episode.append(obs, action, timestamp=float(tick))
    except (DataError, KeyError, ValueError) as e:
        episode.abort()
        raise DataError(f"{bag}: {e}") from e
    if episode.num_steps == 0:
        episode.abort()
        raise DataError(f"{bag}: no tick had fresh data on every stream (skipped {skipped})")
    notes = f"imported from {bag.name}" + (f"; skipped ticks {skipped}" if skipped else "")
    return episode.finish(success=success, notes=notes, dropped_frames=skipped), skipped
