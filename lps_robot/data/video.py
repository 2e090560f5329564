"""Episode videos: watch what a camera recorded, or what the policy saw in a rollout.

Frames are uint8 RGB (H, W, 3); the file is H.264 in MP4 (PyAV's bundled FFmpeg), yuv420p so
any player opens it (odd sizes are padded by one pixel).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float) -> int:
    """Encode ``frames`` to ``path``; returns the number of frames written."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            frame = np.ascontiguousarray(frame, np.uint8)
            h, w = frame.shape[:2]
            if stream is None:
                stream = container.add_stream("libx264", rate=max(1, round(fps)))
                stream.width, stream.height = w + w % 2, h + h % 2
                stream.pix_fmt = "yuv420p"
            if w % 2 or h % 2:
                frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
            n += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return n


def episode_video(dataset: str | Path, episode: int, camera: str, out: str | Path) -> int:
    """One recorded episode's camera stream as a video at the recorded control rate."""
    from lps_robot.data.reader import DataError, list_episodes, load_episode

    refs = list_episodes(dataset)
    if not 0 <= episode < len(refs):
        raise DataError(f"{dataset}: episode {episode} out of range (0..{len(refs) - 1})")
    ep = load_episode(refs[episode], keys=(camera,))
    if f"obs/{camera}" not in ep:
        raise DataError(f"{refs[episode]}: no camera '{camera}'")
    rate = float(ep["attrs"].get("control_rate_hz", 10.0))
    return write_video(out, ep[f"obs/{camera}"], rate)


def joint_panel(
    values: np.ndarray,
    t: int,
    low: np.ndarray,
    high: np.ndarray,
    size: tuple[int, int],
    names: tuple[str, ...] = (),
) -> np.ndarray:
    """A strip chart (H, W, 3) of every column of ``values`` (T, J) scaled to [low, high],
    with a cursor at step ``t`` and, given ``names``, a legend in the lines' colours."""
    import cv2

    h, w = size
    panel = np.full((h, w, 3), 255, np.uint8)
    steps = len(values)
    span = np.where(high > low, high - low, 1.0)
    scaled = np.clip((values - low) / span, 0.0, 1.0)
    xs = (np.arange(steps) * (w - 1) / max(steps - 1, 1)).astype(np.int32)
    colors = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
    colors += [(140, 86, 75), (227, 119, 194), (127, 127, 127)]
    for j in range(values.shape[1]):
        ys = ((1.0 - scaled[:, j]) * (h - 1)).astype(np.int32)
        pts = np.stack([xs, ys], axis=1).reshape(-1, 1, 2)
        cv2.polylines(panel, [pts], False, colors[j % len(colors)], 1, cv2.LINE_AA)
    cv2.line(panel, (int(xs[t]), 0), (int(xs[t]), h - 1), (0, 0, 0), 1)
    for j, name in enumerate(names):
        org = (4, 12 + 12 * j)
        cv2.putText(panel, name, org, cv2.FONT_HERSHEY_SIMPLEX, 0.35, colors[j % len(colors)], 1)
    return panel


def episode_view(
    dataset: str | Path, episode: int, camera: str, out: str | Path, height: int = 256
) -> int:
    """One recorded episode as a video: the camera beside a plot of the joint positions
    (each joint scaled to its limits from the dataset's spec) with a cursor at the frame."""
    import cv2

    from lps_robot.data.reader import DataError, list_episodes, load_episode, read_spec

    refs = list_episodes(dataset)
    if not 0 <= episode < len(refs):
        raise DataError(f"{dataset}: episode {episode} out of range (0..{len(refs) - 1})")
    spec = read_spec(dataset)
    ep = load_episode(refs[episode], keys=(camera, "joint_pos"))
    if f"obs/{camera}" not in ep:
        raise DataError(f"{refs[episode]}: no camera '{camera}'")
    images, joints = ep[f"obs/{camera}"], ep["obs/joint_pos"]
    low = np.asarray(spec.robot.position_lower, np.float64)
    high = np.asarray(spec.robot.position_upper, np.float64)
    width = round(images.shape[2] * height / images.shape[1])

    def frames():
        for t, img in enumerate(images):
            cam = cv2.resize(img, (width, height), interpolation=cv2.INTER_NEAREST)
            panel = joint_panel(joints, t, low, high, (height, 2 * height), spec.robot.joint_names)
            yield np.concatenate([cam, panel], 1)

    rate = float(ep["attrs"].get("control_rate_hz", spec.robot.control_rate_hz))
    return write_video(out, frames(), rate)
