"""Training on a dataset bigger than a memory cap: steps/s and peak memory, in RAM vs streamed.

The data is the sim task's (the demo's camera and recipe): ``base_episodes`` scripted episodes,
one file each as the recorder writes them, and a big dataset of ``copies`` shards, each the
base merged into one file (`lps data merge`) and copied (distinct files; this VM's page
cache holds them all, so the reads cost decompression and HDF5 calls, not disk seeks).
Three `lps train` runs, one at a time, each in its own process: the base dataset in RAM,
the same base dataset streamed (one file per episode: a file opened per sample, as random
chunks miss any cache of open files), and the big dataset under ``cap_mb`` (it streams).
Memory is the training process tree (the trainer and its reader workers), sampled from /proc
every 0.2 s: the sum of RSS (pages shared by the forked workers counted in each) and of PSS
(shared pages split between them). Streamed runs build their frame cache first (the
preprocessed frames, `lps_robot.data.frame_cache`); ``frame_cache="none"`` reads the episode
files directly instead.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from lps_robot.dcio import to_plain

MB = 1 << 20


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _memory(pids: list[int]) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) in MB over ``pids``."""
    rss = pss = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("Rss", "Pss"):
                    kb = float(value.split()[0]) / 1024
                    rss, pss = (rss + kb, pss) if key == "Rss" else (rss, pss + kb)
        except OSError:
            pass
    return rss, pss


def _train(cfg: Any, out: Path) -> dict[str, float]:
    """One `lps train` process; its steps/s after the first log row, and its peak memory."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.yaml").write_text(yaml.safe_dump(to_plain(cfg)))
    cmd = [sys.executable, "-m", "lps_robot.cli", "train", "--config", str(out / "train.yaml")]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = [0.0, 0.0]

    def watch() -> None:
        while proc.poll() is None:
            rss, pss = _memory(_tree(proc.pid))
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    if proc.wait() != 0:
        raise RuntimeError(f"lps train failed ({proc.returncode}); see {out}")
    watcher.join()
    wall = time.monotonic() - t0
    rows = list(csv.DictReader((Path(cfg.out_dir) / "metrics.csv").open()))
    first, last = rows[0], rows[-1]
    rate = (int(last["step"]) - int(first["step"])) / (
        float(last["wall_s"]) - float(first["wall_s"])
    )
    return {
        "steps_per_s": round(rate, 2),
        "peak_rss_mb": round(peak[0]),
        "peak_pss_mb": round(peak[1]),
        "before_training_s": round(wall - float(last["wall_s"]), 1),  # loading, frame cache
    }


def run(
    out_dir: str | Path,
    cap_mb: float = 1024,
    base_episodes: int = 590,
    copies: int = 16,
    steps: int = 1500,
    workers: int = 0,
    seed: int = 0,
    frame_cache: str = "",
) -> dict[str, Any]:
    from lps_robot.data.dataset import ChunkDataset
    from lps_robot.data.robomimic import merge
    from lps_robot.demo.config import demo_train_config
    from lps_robot.sim.generate import generate

    out = Path(out_dir)
    base, big = out / "base", out / "big"
    if not base.exists():
        generate(base, base_episodes, seed=seed + 1, mistake_rate=0.5, progress=False)
    if not big.exists():
        (big / "tmp").mkdir(parents=True)
        shard = merge(base, big / "tmp" / "shard.h5")
        for c in range(copies):
            shutil.copyfile(shard, big / "tmp" / f"shard_{c:03d}.h5")
        shard.unlink()
        for f in (big / "tmp").iterdir():
            f.rename(big / f.name)
        (big / "tmp").rmdir()
    sizes = {}
    for name, path in (("base", base), ("big", big)):
        data = ChunkDataset(path, images="disk")
        sizes[name] = {
            "episodes": len(data.refs),
            "steps": int(data.lengths.sum()),
            "in_ram_mb": round((data.ram_bytes() + data.image_ram_bytes()) / MB),
            "files": len(list(path.glob("*.h5"))),
            "on_disk_mb": round(sum(f.stat().st_size for f in path.glob("*.h5")) / MB),
        }
    common = {"log_every": max(1, steps // 10), "ckpt_every": steps}
    common |= {"progress": False, "tensorboard": False, "data_workers": workers}
    common |= {"frame_cache": frame_cache}
    runs = {
        "in_ram": (base, {}),
        "streamed": (base, {"data_stream": True}),
        "big_under_cap": (big, {"data_memory_mb": cap_mb}),
    }
    result: dict[str, Any] = {"cap_mb": cap_mb, "datasets": sizes, "workers": workers}
    result["frame_cache"] = frame_cache or "out_dir/frame_cache"
    for name, (path, extra) in runs.items():
        cfg = demo_train_config(path, out / "runs" / name, "lps", steps, **common, **extra)
        result[name] = _train(cfg, out / "runs" / name)
    result["streamed_vs_in_ram"] = round(
        result["streamed"]["steps_per_s"] / result["in_ram"]["steps_per_s"], 3
    )
    result["big_vs_in_ram"] = round(
        result["big_under_cap"]["steps_per_s"] / result["in_ram"]["steps_per_s"], 3
    )
    result["big_over_cap"] = round(sizes["big"]["in_ram_mb"] / cap_mb, 2)
    return result
