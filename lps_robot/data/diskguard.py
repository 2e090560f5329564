"""Room to finish an episode, whatever else fills the disk.

HDF5 does not survive a full disk: after a failed write, closing the file or releasing its
handles crashed the recorder (segfault). So the recorder never lets a write meet a full disk.
`DiskGuard` keeps a ballast file beside the episodes while one records, big enough for
everything a finish writes (the steps since the last flush, twice over, plus metadata), and
says when the free space is nearly gone; the recorder then releases the ballast and finishes
the episode into the room it leaves.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from lps_robot.spec import Spec

BALLAST = ".lps_ballast"
MB = 2**20


class DiskGuard:
    def __init__(self, root: str | Path, step_bytes: int, flush_every: int, min_free_mb: float):
        self.root = Path(root)
        self.path = self.root / BALLAST
        self.step_bytes = int(step_bytes)
        self.ballast_bytes = 2 * flush_every * self.step_bytes + MB
        self.min_free = int(min_free_mb * MB)

    def free(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def _need(self) -> str:
        return f"{(self.ballast_bytes + self.min_free) / MB:.1f} MB (min_free_mb + room to finish)"

    def arm(self) -> str:
        """Lay the ballast before an episode; '' or why the disk cannot take one."""
        free = self.free()
        if free < self.ballast_bytes + self.min_free + 4 * self.step_bytes:
            return f"disk full: {free / MB:.1f} MB free in {self.root}, need {self._need()}"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.ballast_bytes)
            finally:
                os.close(fd)
        except OSError as e:
            self.release()
            return f"disk full: cannot reserve room to finish an episode in {self.root} ({e})"
        return ""

    def low(self) -> str:
        """'' while another step fits, else why the episode must end now."""
        free = self.free()
        if free >= self.min_free + 4 * self.step_bytes:
            return ""
        floor = self.min_free / MB
        return f"disk full: {free / MB:.1f} MB free in {self.root} (min_free_mb {floor:g})"

    def release(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def step_bytes(spec: Spec) -> int:
    """Bytes one recorded step takes (images, proprio, action, reward, time)."""
    images = sum(spec.camera(k).width * spec.camera(k).height * 3 for k in spec.obs.image_keys)
    return images + 4 * (sum(spec.obs.proprio_dims) + spec.action.dim + 1) + 8
