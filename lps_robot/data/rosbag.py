"""rosbag2 -> training episodes: what `ros2 bag record` captured, resampled like the recorder.

One bag is one episode (the usual way to record a teleop demonstration with ``ros2 bag
record``). Read with `rosbags` (pure Python; sqlite3 or MCAP storage, message definitions
from the bag or ROS 2 Jazzy's). The streams are sampled at the spec's control rate on the
bag's receive times, exactly as the live recorder node does: at each tick the freshest joint
state, frame per camera and operator command; a tick at which a stream is older than
``max_age_s`` (default: two periods) is skipped, and counted. Message types are those the live
recorder takes (`lps_robot.messages`); a topic of another type is refused, naming it, before
anything is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lps_robot.data.reader import DataError
from lps_robot.data.writer import DatasetWriter
from lps_robot.messages import COMMAND_TYPES, IMAGE_TYPES, check_type, command_vector, image_to_rgb
from lps_robot.runtime.joints import JointStateMerger
from lps_robot.spec import Spec

TELEOP_TOPIC = "/teleop/joint_command"  # the recorder's default action topic


def _messages(
    bag: Path, topics: dict[str, tuple[str, ...]]
) -> dict[str, list[tuple[float, object]]]:
    """The messages of ``topics`` (topic -> accepted types) in receive order; ValueError
    naming a topic whose type is not accepted, before anything is written."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    streams: dict[str, list[tuple[float, object]]] = {t: [] for t in topics}
    typestore = get_typestore(Stores.ROS2_JAZZY)
    with AnyReader([bag], default_typestore=typestore) as reader:
        connections = [c for c in reader.connections if c.topic in topics]
        for c in connections:
            check_type(c.topic, c.msgtype, topics[c.topic])
        for conn, t_ns, raw in reader.messages(connections=connections):
            streams[conn.topic].append((t_ns * 1e-9, reader.deserialize(raw, conn.msgtype)))
    return streams


class _Joints:
    """Joint states replayed into the controller's own merger (`JointStateMerger`): an arm
    driver and a gripper driver may publish their joints apart on one topic."""

    def __init__(self, msgs: list[tuple[float, object]], names: tuple[str, ...]) -> None:
        seen: dict[str, float] = {}
        for t, m in msgs:
            for n in m.name:
                seen.setdefault(n, t)
        missing = [n for n in names if n not in seen]
        if missing:
            raise ValueError(f"no joint state for joints {missing}")
        self.msgs, self.next = msgs, 0
        self.merger = JointStateMerger(names)
        self.start = max(seen[n] for n in names)

    def at(self, tick: float, max_age: float) -> tuple[np.ndarray, np.ndarray] | None:
        """(positions, velocities) at ``tick`` (ticks in order); None when a joint is older
        than max_age or its messages are malformed."""
        while self.next < len(self.msgs) and self.msgs[self.next][0] <= tick:
            t, m = self.msgs[self.next]
            stamp = m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
            self.merger.update(list(m.name), list(m.position), list(m.velocity), stamp, t, t)
            self.next += 1
        pos, vel, _, fault = self.merger.snapshot(tick, max_age)
        if fault is not None:
            return None
        return pos, vel if vel is not None else np.zeros_like(pos)


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
    per stale stream. Cameras may be Image or CompressedImage, the command a
    Float64MultiArray, JointState or JointTrajectory, the joint states split over several
    publishers (`lps_robot.messages`); a command group's joints (a gripper on its own driver)
    come from ``<action_topic>/<group name>``."""
    bag = Path(bag)
    cams = {spec.camera(k).topic: k for k in spec.obs.image_keys}
    parts = spec.robot.command_split(action_topic, under_main=True)  # groups: <topic>/<name>
    topics = {
        joint_topic: ("sensor_msgs/msg/JointState",),
        **{t: COMMAND_TYPES for t, _ in parts},
        **{t: IMAGE_TYPES for t in cams},
    }
    try:
        streams = _messages(bag, topics)
    except ValueError as e:
        raise DataError(f"{bag}: {e}") from None
    except Exception as e:  # noqa: BLE001 - rosbags raises its own types for bad bags
        raise DataError(f"{bag}: cannot read the bag ({type(e).__name__}: {e})") from e
    empty = sorted(t for t, msgs in streams.items() if not msgs)
    if empty:
        raise DataError(f"{bag}: no messages on {empty} (topics the spec needs)")
    names = spec.robot.joint_names
    try:
        joints = _Joints(streams.pop(joint_topic), names)
    except ValueError as e:
        raise DataError(f"{bag}: {joint_topic}: {e}") from None
    period = 1.0 / spec.robot.control_rate_hz
    max_age = 2 * period if max_age_s is None else max_age_s
    start = max([joints.start, *(msgs[0][0] for msgs in streams.values())])
    end = max(msgs[-1][0] for msgs in streams.values())
    times = {t: np.array([m[0] for m in msgs]) for t, msgs in streams.items()}
    writer = DatasetWriter(out_dir, spec)
    episode = writer.begin_episode()
    skipped: dict[str, int] = {}
    try:
        for tick in np.arange(start, end + 1e-9, period):
            state = joints.at(tick, max_age)
            latest = {} if state is not None else None
            if state is None:
                skipped[joint_topic] = skipped.get(joint_topic, 0) + 1
            for topic, ts in times.items():
                if latest is None:
                    break
                i = int(np.searchsorted(ts, tick, side="right")) - 1
                if i < 0 or tick - ts[i] > max_age:
                    latest = None
                    skipped[topic] = skipped.get(topic, 0) + 1
                    break
                latest[topic] = streams[topic][i][1]
            if latest is None:
                continue
            obs = {"joint_pos": state[0].astype(np.float32)}
            if "joint_vel" in spec.obs.proprio_keys:
                obs["joint_vel"] = state[1].astype(np.float32)
            for topic, key in cams.items():
                cam = spec.camera(key)
                obs[key] = image_to_rgb(latest[topic], cam.width, cam.height)
            first = latest[parts[0][0]]
            if len(parts) == 1 and hasattr(first, "data"):  # as commanded, any action type
                action = np.asarray(first.data, np.float32)
            else:
                action = np.zeros(len(names), np.float32)
                for topic, idx in parts:
                    group = tuple(names[i] for i in idx)
                    action[list(idx)] = command_vector(latest[topic], group)
            episode.append(obs, action, timestamp=float(tick))
    except (DataError, KeyError, ValueError) as e:
        episode.abort()
        raise DataError(f"{bag}: {e}") from e
    if episode.num_steps == 0:
        episode.abort()
        raise DataError(f"{bag}: no tick had fresh data on every stream (skipped {skipped})")
    notes = f"imported from {bag.name}" + (f"; skipped ticks {skipped}" if skipped else "")
    return episode.finish(success=success, notes=notes, dropped_frames=skipped), skipped
