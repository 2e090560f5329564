"""Rate-limited log lines that work from any thread and can never raise.

rclpy remembers each logging call site (file, line, function) with the severity it was first
called with and raises ``ValueError`` when the same site is called with another severity or
other filters. A limiter that forwarded every level through one ``getattr(logger, level)``
line therefore raised as soon as a key logged at a second level, inside an exception handler
of the control thread, and killed it. Here every severity has its own call site, and a
logging failure falls back to stderr: a log line must never take a node down.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

LEVELS = ("debug", "info", "warning", "error", "fatal")


def emit(logger, level: str, message: str) -> None:
    """Log ``message`` at ``level`` through one call site per severity; never raises."""
    try:
        if level == "debug":
            logger.debug(message)
        elif level == "info":
            logger.info(message)
        elif level == "warning":
            logger.warning(message)
        elif level == "error":
            logger.error(message)
        else:
            logger.fatal(message)
    except Exception as e:  # noqa: BLE001 - logging is the last thing that may fail loudly
        with contextlib.suppress(Exception):  # stderr gone too: nothing left to tell
            print(f"[{level}] {message} (logger failed: {e!r})", file=sys.stderr, flush=True)


class LogLimiter:
    def __init__(self, logger) -> None:
        self.logger = logger
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, level: str, key: str, message: str, period_s: float) -> None:
        """Log ``message`` at ``level`` unless ``key`` was logged less than ``period_s`` ago."""
        if level not in LEVELS:
            level = "error"
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -1e18) < period_s:
                return
            self._last[key] = now
        emit(self.logger, level, message)
