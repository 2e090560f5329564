"""Streaming histogram for loop statistics: O(1) to add a sample, cheap percentiles.

The controller's diagnostics once sorted 20k-sample buffers every second; the GIL-holding
numpy calls (~2 ms each) delayed the control thread once a second, which alone put the period
jitter p99 above 1 ms. A fixed-bin histogram answers percentiles with one cumulative sum over
its bins (copying and reading the node's four took ~0.5 ms in all, measured).
"""

from __future__ import annotations

import numpy as np


class Histogram:
    """Non-negative samples in fixed bins of ``resolution``; values beyond ``max_value`` land in
    an overflow bin (reported as the largest sample seen). Percentiles are upper bin edges,
    so they over-report by less than one bin."""

    def __init__(self, max_value: float = 200.0, resolution: float = 0.01) -> None:
        if max_value <= 0 or resolution <= 0:
            raise ValueError(
                f"histogram: expected max_value and resolution > 0, got {max_value}, {resolution}"
            )
        self.resolution = resolution
        self.counts = np.zeros(int(np.ceil(max_value / resolution)) + 1, np.int64)
        self.n = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, value: float) -> None:
        if not value >= 0:  # also rejects NaN
            raise ValueError(f"histogram: expected a sample >= 0, got {value}")
        self.counts[min(int(value / self.resolution), len(self.counts) - 1)] += 1
        self.n += 1
        self.total += value
        self.max = max(self.max, value)

    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0-100), or None without samples."""
        if not self.n:
            return None
        rank = max(1, int(np.ceil(q / 100.0 * self.n)))
        k = int(np.searchsorted(np.cumsum(self.counts), rank))
        if k == len(self.counts) - 1:  # the overflow bin
            return self.max
        return min((k + 1) * self.resolution, self.max)

    def copy(self) -> Histogram:
        other = Histogram.__new__(Histogram)
        other.resolution, other.counts = self.resolution, self.counts.copy()
        other.n, other.total, other.max = self.n, self.total, self.max
        return other
