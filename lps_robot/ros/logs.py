"""Rate-limited log lines that work from any thread.

rclpy's own ``throttle_duration_sec`` once raised "Logging filter parameters cannot be
changed between calls" on the controller's control thread (not reproduced in isolation),
turning every holding tick into a failed one. Every node limits its repeated warnings here
instead: at most one line per key per period.
"""

from __future__ import annotations

import threading
import time


class LogLimiter:
    def __init__(self, logger) -> None:
        self.logger = logger
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, level: str, key: str, message: str, period_s: float) -> None:
        """Log ``message`` at ``level`` unless ``key`` was logged less than ``period_s`` ago."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -1e18) < period_s:
                return
            self._last[key] = now
        getattr(self.logger, level)(message)
