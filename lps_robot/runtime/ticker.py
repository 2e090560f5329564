"""A control loop that cannot die quietly: deadline ticks on a supervised thread.

`Ticker` calls ``tick(start)`` every ``period`` on its own thread, on deadlines (a late tick
is counted by the caller, never made up). An exception in a tick goes to ``on_error`` (which
must turn it into a hold); should the thread itself die (an error in ``on_error``, a
``BaseException``), `supervise` restarts it and counts the restart. `stalled` tells a
watchdog, from another thread, how long the loop has gone without starting a tick, so a hung
or dead loop shows within one period instead of never; `wait_beat` lets a caller (activation)
wait for a tick to start rather than judge a loop that has not been scheduled yet.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

BEAT_WAIT_S = 1.0  # how long `wait_beat` waits by default (at least three periods)


def set_realtime(priority: int) -> str:
    """Put the calling thread under SCHED_FIFO at ``priority`` (1-99), as ros2_control's
    controller manager does for its update thread; '' on success, else why not (no rtprio
    rights: the thread keeps normal scheduling)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as e:  # AttributeError: no SCHED_FIFO on this OS
        return getattr(e, "strerror", None) or str(e)
    return ""


class Ticker:
    def __init__(
        self,
        tick: Callable[[float], None],
        period: float,
        on_error: Callable[[BaseException], None],
        name: str = "lps_control",
        priority: int = 0,
    ) -> None:
        if not period > 0:
            raise ValueError(f"period: expected > 0 s, got {period}")
        self.tick, self.period, self.on_error, self.name = tick, period, on_error, name
        self.priority = priority  # SCHED_FIFO priority of the loop thread; 0: normal
        self.scheduling = "normal"  # what the loop thread got: "SCHED_FIFO 50", or why not
        self._stop = threading.Event()
        self._lock = threading.RLock()  # start, supervise and stop: one at a time
        self._thread: threading.Thread | None = None
        self.last_beat = time.monotonic()  # start of the last tick (or of the loop)
        self.restarts = 0
        self.last_death = ""  # why the thread last died

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            self._stop.clear()
            self.last_beat = time.monotonic()
            thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            thread.start()
            self._thread = thread  # published started: never seen "dead" before it ran

    def stop(self, timeout: float = 2.0) -> None:
        with self._lock:
            self._stop.set()
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=timeout)

    def _run(self) -> None:
        if self.priority > 0:
            why = set_realtime(self.priority)
            self.scheduling = f"normal ({why})" if why else f"SCHED_FIFO {self.priority}"
        try:
            self._loop()
        except BaseException as e:  # noqa: BLE001 - recorded; the supervisor restarts us
            self.last_death = f"{type(e).__name__}: {e}"

    def _loop(self) -> None:
        deadline = time.monotonic()
        while not self._stop.is_set():
            deadline += self.period
            delay = deadline - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            elif delay < -self.period:
                deadline = time.monotonic()  # fell behind: restart the schedule from now
            if self._stop.is_set():
                break
            start = time.monotonic()
            self.last_beat = start
            try:
                self.tick(start)
            except Exception as e:  # noqa: BLE001 - a failing tick must become a hold
                self.on_error(e)

    def stalled(self, now: float | None = None) -> float:
        """Seconds the loop is overdue: 0 while ticks start on time (a tick may start up to
        one period late), else how long since the last one should have started."""
        if self._stop.is_set():
            return 0.0
        now = time.monotonic() if now is None else now
        return max(0.0, now - self.last_beat - 2 * self.period)

    def supervise(self) -> bool:
        """Restart a dead loop thread (not one that was stopped); True if it restarted."""
        with self._lock:
            if self._stop.is_set() or self._thread is None or self._thread.is_alive():
                return False
            self.restarts += 1
            self.start()
            return True

    def wait_beat(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` s (default `BEAT_WAIT_S`, at least three periods) for a tick
        to start after this call; False if none did (the loop is dead, hung or stopped). A loop
        just started on a busy machine may not have run yet: this tells that apart from one
        that is not running."""
        if timeout is None:
            timeout = max(BEAT_WAIT_S, 3 * self.period)
        since = time.monotonic()
        end = since + timeout
        while not self._stop.is_set():
            if self.last_beat >= since and self.alive:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(min(self.period, 0.005))
        return False
