"""`make interop`: read an lps-exported LeRobot v3 dataset with LeRobot's own loader.

Runs in a venv of its own with `lerobot-dataset` (LeRobot's `LeRobotDataset`, packaged
standalone). Its torchvision import cannot load here: the only torchvision wheels for torch
2.13 are CUDA builds, and against the CPU torch they fail with "operator torchvision::nms does
not exist". So torchvision is replaced by a shim with the two things the loader touches
(`transforms.ToTensor`, `set_video_backend`), and video frames are decoded with PyAV at the
timestamps the loader asks for; everything else (metadata, episode table, parquet frames,
timestamp checks, item assembly) is LeRobot's code.

    python scripts/lerobot_interop.py LEROBOT_DIR
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path


def _torchvision_shim() -> None:
    import numpy as np
    import torch

    tv = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")

    class ToTensor:
        def __call__(self, img):
            arr = np.asarray(img, np.float32) / 255.0
            return torch.from_numpy(arr).permute(2, 0, 1).contiguous()

    transforms.ToTensor = ToTensor
    tv.transforms = transforms
    tv.io = types.ModuleType("torchvision.io")
    tv.set_video_backend = lambda backend: None
    import importlib.machinery

    for name, mod in (
        ("torchvision", tv),
        ("torchvision.transforms", transforms),
        ("torchvision.io", tv.io),
    ):
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
        sys.modules[name] = mod


def _decode(video_path, timestamps, tolerance_s, backend=None):
    """Frames nearest to ``timestamps`` as float (N, 3, H, W) in [0, 1]; each must lie
    within ``tolerance_s`` (LeRobot's contract)."""
    import av
    import numpy as np
    import torch

    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        frames = [
            (float(f.pts * stream.time_base), f.to_ndarray(format="rgb24"))
            for f in container.decode(video=0)
        ]
    times = np.array([t for t, _ in frames])
    out = []
    for ts in timestamps:
        i = int(np.argmin(np.abs(times - ts)))
        if abs(times[i] - ts) > tolerance_s:
            raise AssertionError(f"{video_path}: no frame within {tolerance_s}s of {ts}")
        out.append(torch.from_numpy(frames[i][1]).permute(2, 0, 1).float() / 255.0)
    return torch.stack(out)


def main(root: str) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    _torchvision_shim()
    import ledataset.datasets.lerobot_dataset as lds

    lds.decode_video_frames = _decode
    ds = lds.LeRobotDataset("local/lps_export", root=root)
    info = json.loads((Path(root) / "meta/info.json").read_text())
    assert len(ds) == info["total_frames"], (len(ds), info["total_frames"])
    assert ds.meta.total_episodes == info["total_episodes"]
    frames = pq.read_table(Path(root) / "data/chunk-000/file-000.parquet").to_pydict()
    video_keys = ds.meta.video_keys
    for idx in (0, len(ds) // 2, len(ds) - 1):
        item = ds[idx]
        np.testing.assert_allclose(item["action"].numpy(), frames["action"][idx], rtol=1e-6)
        np.testing.assert_allclose(
            item["observation.state"].numpy(), frames["observation.state"][idx], rtol=1e-6
        )
        assert int(item["episode_index"]) == frames["episode_index"][idx]
        assert item["task"] == ds.meta.tasks.index[0]
        for key in video_keys:
            h, w = info["features"][key]["shape"][:2]
            assert tuple(item[key].shape) == (3, h, w), item[key].shape
    print(
        f"LeRobotDataset read {len(ds)} frames, {ds.meta.total_episodes} episodes, "
        f"cameras {video_keys}, task {ds.meta.tasks.index[0]!r}: OK"
    )


if __name__ == "__main__":
    main(sys.argv[1])
