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
