"""Import memory on a dataset written by LeRobot's own writer (issue 22's figure).

Two steps, each in its own venv:

    .venv-interop/bin/python scripts/lerobot_writer_memory.py write DIR [--minutes 10]
    .venv/bin/python scripts/lerobot_writer_memory.py check DIR

``write`` records one long episode with ``LeRobotDataset.create`` / ``add_frame`` /
``save_episode`` / ``finalize`` (LeRobot's recording path: PNG frames on disk, then its own
video encoding, AV1 by default) at 640x480. ``check`` proposes a spec with ``lps spec init
--from-dataset``, imports with ``lps data import --format lerobot`` in a child process, and
prints one JSON line: the child's peak RSS, its wall time, whether every action and state
equals the parquet rows, and how far every imported frame is from the frame the writer was
given (grey levels: the codec is lossy) and from an independent PyAV decode of the same file
(0 means the importer picked the same frame and decoded it the same way).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

H, W, FPS = 480, 640, 20
JOINTS = ["shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"]
TASK = "pick the cube and place it on the pad"


def source_frame(i: int):
    """Frame ``i`` as the writer was given it: gradients moving at different speeds and a
    dark square crossing the image (deterministic, so ``check`` can rebuild it)."""
    import numpy as np

    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([(x + 2 * i) % 256, (y + i) % 256, ((x + y) // 4 + 3 * i) % 256], axis=-1)
    cx, cy = (40 + 3 * i) % (W - 60), (30 + 2 * i) % (H - 60)
    img[cy : cy + 60, cx : cx + 60] = 20
    return img.astype(np.uint8)


def joint_rows(n: int):
    """Positions, velocities and commanded positions for ``n`` ticks (float32)."""
    import numpy as np

    t = np.arange(n + 1)[:, None] / FPS
    period = 4.0 + np.arange(len(JOINTS))[None, :]
    q = 0.8 * np.sin(2 * np.pi * t / period)
    qd = 0.8 * 2 * np.pi / period * np.cos(2 * np.pi * t / period)
    return q[:n].astype(np.float32), qd[:n].astype(np.float32), q[1:].astype(np.float32)


def write(root: Path, minutes: float) -> None:
    import numpy as np
    from lerobot_interop import _torchvision_shim  # this script's neighbour

    _torchvision_shim()
    from ledataset.datasets.lerobot_dataset import LeRobotDataset

    n = int(minutes * 60 * FPS)
    q, qd, act = joint_rows(n)
    features = {
        "observation.images.front": {
            "dtype": "video",
            "shape": (H, W, 3),
            "names": ["height", "width", "channels"],
        },
        "observation.state": {
            "dtype": "float32",
            "shape": (2 * len(JOINTS),),
            "names": JOINTS + [f"{j}.vel" for j in JOINTS],
        },
        "action": {"dtype": "float32", "shape": (len(JOINTS),), "names": JOINTS},
    }
    t0 = time.monotonic()
    ds = LeRobotDataset.create("local/writer_memory", FPS, features, root=root)
    for i in range(n):
        ds.add_frame(
            {
                "observation.images.front": source_frame(i),
                "observation.state": np.concatenate([q[i], qd[i]]),
                "action": act[i],
                "task": TASK,
            }
        )
    t1 = time.monotonic()
    ds.save_episode()
    ds.finalize()
    print(
        json.dumps(
            {
                "frames": n,
                "add_frame_s": round(t1 - t0, 1),
                "save_episode_s": round(time.monotonic() - t1, 1),
                "video_bytes": sum(p.stat().st_size for p in root.rglob("*.mp4")),
            }
        )
    )


def check(root: Path) -> None:
    import av
    import h5py
    import numpy as np
    import pyarrow.parquet as pq

    work = Path(tempfile.mkdtemp(prefix="writer_memory_"))
    lps = [sys.executable, "-m", "lps_robot.cli"]
    spec = work / "spec.yaml"
    propose = [*lps, "spec", "init", "--from-dataset", str(root), "-o", str(spec)]
    subprocess.run(propose, check=True)
    out = work / "episodes"
    t0 = time.monotonic()
    cmd = [*lps, "data", "import", "--format", "lerobot", str(root), "--assume-success"]
    child = subprocess.Popen([*cmd, "--spec", str(spec), "-o", str(out)])
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the spec step's
    wall = time.monotonic() - t0
    if status:
        sys.exit(f"import failed (wait status {status})")
    peak_mb = usage.ru_maxrss / 1024

    table = pq.read_table(next(root.glob("data/*/*.parquet"))).to_pydict()
    state, action = np.array(table["observation.state"]), np.array(table["action"])
    (episode,) = sorted(out.glob("*.h5"))
    with h5py.File(episode, "r") as f:
        demo = f["data/demo_0"]
        obs = demo["obs"]
        n = len(demo["actions"])
        actions_equal = bool(np.array_equal(demo["actions"][()], action[:n]))
        proprio = np.concatenate([obs["joint_pos"][()], obs["joint_vel"][()]], axis=1)
        state_equal = bool(np.array_equal(proprio, state[:n]))
        frames = obs["front"]
        video = next(root.glob("videos/observation.images.front/*/*.mp4"))
        to_source, to_decode = [], []
        with av.open(str(video)) as container:
            for i, decoded in enumerate(container.decode(video=0)):
                if i >= n:
                    break
                got = frames[i].astype(np.int16)
                ref = decoded.to_ndarray(format="rgb24").astype(np.int16)
                to_decode.append(int(np.abs(got - ref).max()))
                to_source.append(float(np.abs(got - source_frame(i)).mean()))
    print(
        json.dumps(
            {
                "frames": n,
                "source_frames": len(action),
                "import_s": round(wall, 1),
                "peak_rss_mb": round(peak_mb, 1),
                "actions_equal": actions_equal,
                "state_equal": state_equal,
                "frames_max_abs_vs_pyav_decode": max(to_decode),
                "frames_mean_abs_vs_source": round(float(np.mean(to_source)), 2),
                "frames_worst_mean_abs_vs_source": round(float(np.max(to_source)), 2),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("write", "check"))
    ap.add_argument("root", type=Path, help="the LeRobot dataset directory")
    ap.add_argument("--minutes", type=float, default=10.0, help="write: episode length")
    args = ap.parse_args()
    write(args.root, args.minutes) if args.step == "write" else check(args.root)


if __name__ == "__main__":
    main()
