"""The camera interface every backend implements: frames, intrinsics, connect / read /
disconnect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Frame:
    color: np.ndarray  # (H, W, 3) uint8 RGB
    timestamp_s: float  # device time when available (hardware clock), else host time
    frame_number: int
    domain: str  # 'hardware_clock' | 'system_time' | 'global_time' | 'host'
    depth: np.ndarray | None = None  # (H, W) uint16 aligned to color, in depth_units


@dataclass
class Intrinsics:
    width: int
    height: int
    fx: float
    fy: float
    ppx: float
    ppy: float
    model: str
    coeffs: tuple[float, ...]

    def camera_matrix(self) -> list[float]:
        return [self.fx, 0.0, self.ppx, 0.0, self.fy, self.ppy, 0.0, 0.0, 1.0]


class Camera:
    """Base class: subclasses implement connect / read / disconnect and set `intrinsics`."""

    intrinsics: Intrinsics | None = None

    def connect(self) -> None:
        raise NotImplementedError

    def read(self, timeout_s: float = 1.0) -> Frame:
        raise NotImplementedError

    def disconnect(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Camera:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.disconnect()
