"""The controller's diagnostics and its watchdog thread.

The watchdog thread publishes ``/diagnostics`` right after a tick once a second (in the slack
of the period, so their GIL-bound message building never delays one), restarts a control
thread that died, reports a stalled one within a period, and looks for other nodes with
this node's name. The same statistics go to the ``stats_path`` JSON file, written
atomically; a full disk stops the writes with the reason on ``/diagnostics`` (WARN) and
retries, and never ends the node.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

from lps_robot.ros import commander, policy_health
from lps_robot.ros.logs import LogLimiter, emit
from lps_robot.ros.policy_params import NODE_NAME, diag_value
from lps_robot.runtime.ticker import Ticker

STATS_RETRY_S = 5.0  # after a failed stats write, try again this much later
DIAG_EVERY_S = 1.0


class StatsFile:
    """The statistics as a JSON file, replaced atomically at each write."""

    def __init__(self, owner: Node) -> None:
        self.owner = owner
        self.error = ""
        self._retry = 0.0

    def write(self, path: str, s: dict) -> None:
        """Write ``s``; on failure remember why (`error`) and skip writes for STATS_RETRY_S."""
        now = time.monotonic()
        if self.error and now < self._retry:
            return
        tmp = Path(path + ".tmp")
        logger = self.owner.get_logger()
        try:
            tmp.write_text(json.dumps(s))
            tmp.replace(path)
        except OSError as e:
            self._retry = now + STATS_RETRY_S
            if not self.error:
                emit(logger, "error", f"stats_path {path}: {e.strerror}; retrying")
            self.error = f"{path}: {e.strerror} (retrying every {STATS_RETRY_S:g} s)"
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return
        if self.error:
            emit(logger, "info", f"stats_path {path}: writing again")
        self.error = ""


class Diagnostics:
    """Publishes a statistics snapshot on ``/diagnostics`` (and to the stats file)."""

    def __init__(self, owner: Node, stats: Callable[[], dict], log: LogLimiter) -> None:
        self.owner, self.stats, self._log = owner, stats, log
        self.pub = owner.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.file = StatsFile(owner)
        self.stats_path = ""
        self.period: float | None = None
        self.hardware_id = ""

    def publish(self) -> None:
        """Publish (and write) the statistics; a failure here is logged, never fatal: an
        exception in a callback would end the executor and with it every service."""
        try:
            self._publish()
        except Exception as e:  # noqa: BLE001
            self._log("error", "diagnostics", f"diagnostics failed: {e!r}", 5.0)

    def _publish(self) -> None:
        s = self.stats()
        status = DiagnosticStatus(name=f"{NODE_NAME}: controller", hardware_id=self.hardware_id)
        status.level, status.message = policy_health.level(s, self.period)
        status.values = [KeyValue(key=k, value=diag_value(v)) for k, v in s.items()]
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.owner.get_clock().now().to_msg()
        self.pub.publish(arr)
        if self.stats_path:
            self.file.write(self.stats_path, s)


class Watchdog:
    """The thread that publishes diagnostics after ticks and watches the control thread."""

    def __init__(
        self,
        owner: Node,
        diagnostics: Diagnostics,
        ticker: Callable[[], Ticker | None],
        log: LogLimiter,
    ) -> None:
        self.owner, self.diagnostics, self._log = owner, diagnostics, log
        self.ticker = ticker  # the control thread's ticker while configured, else None
        self.twins = 0  # other nodes with the owner's name
        self._stop = threading.Event()
        self._due = threading.Event()  # set by the control thread once a second
        self._last = 0.0
        self._stalled_reported = 0.0
        self._sched_warned = False
        self._thread = threading.Thread(target=self._run, name="lps_watchdog", daemon=True)
        self._thread.start()

    def after_tick(self, start: float) -> None:
        """The control thread, at each tick: diagnostics are due once a second."""
        if start - self._last >= DIAG_EVERY_S:
            self._due.set()  # published now, by the watchdog thread, after this tick

    def stop(self) -> None:
        self._stop.set()
        self._due.set()

    def _run(self) -> None:
        next_names = 0.0
        while True:
            due = self._due.wait(min(self.diagnostics.period or 0.05, 0.05))
            if self._stop.is_set():
                return
            try:
                now = time.monotonic()
                if due or (self.ticker() is None and now - self._last >= DIAG_EVERY_S):
                    self._due.clear()
                    self._last = now
                    self.diagnostics.publish()
                if now >= next_names:
                    next_names = now + commander.NAME_CHECK_S
                    self.twins = commander.namesakes(self.owner)
                self._supervise(now)
            except Exception as e:  # noqa: BLE001 - the watchdog must outlive what it watches
                self._log("error", "watchdog", f"watchdog: {e!r}", 5.0)

    def _supervise(self, now: float) -> None:
        ticker = self.ticker()
        if ticker is None:
            return
        if ticker.scheduling.startswith("normal (") and not self._sched_warned:
            self._sched_warned = True
            emit(
                self.owner.get_logger(),
                "warning",
                f"control thread under normal scheduling: SCHED_FIFO {ticker.priority} "
                f"refused ({ticker.scheduling[8:-1]}); grant rtprio or set thread_priority 0",
            )
        if ticker.supervise():
            emit(
                self.owner.get_logger(),
                "error",
                f"control loop died ({ticker.last_death}); restarted ({ticker.restarts})",
            )
        if ticker.stalled(now) > 0 and now - self._stalled_reported >= 1.0:
            self._stalled_reported = self._last = now
            self.diagnostics.publish()
