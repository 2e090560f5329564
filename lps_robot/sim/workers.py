"""Worker processes for simulation that is CPU-bound (rendering, stepping) beside real-time
work: spawned (a fresh interpreter, its own EGL context; never a fork of a process with
threads) and optionally at a lower CPU priority, so the ROS 2 nodes running at the same time
keep their period while the workers take the cores the nodes leave idle."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

LOWEST_PRIORITY = 19  # nice value of workers that run beside a real-time loop


def _start_worker(niceness: int, init: Any, args: tuple) -> None:
    if niceness:
        os.nice(niceness)
    if init is not None:
        init(*args)


class _Pool(ProcessPoolExecutor):
    """Left by an exception, it stops its workers at once: the default waits for the tasks
    they run (a failed ROS loop in the demo would wait minutes for the stepped episodes beside
    it before it said why)."""

    def __exit__(self, kind, value, tb) -> bool:
        if kind is None:
            return super().__exit__(kind, value, tb)
        procs = list((self._processes or {}).values())  # no public way before Python 3.14
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(10)
        self.shutdown(wait=False, cancel_futures=True)
        return False


def worker_pool(
    workers: int, niceness: int = 0, init: Any = None, args: tuple = ()
) -> ProcessPoolExecutor:
    """``workers`` spawned processes at ``niceness`` (0: this process's priority), each
    running ``init(*args)`` once before its first task; left by an exception, the workers
    are stopped without waiting for their tasks."""
    if workers < 1:
        raise ValueError(f"workers: expected >= 1, got {workers}")
    if not 0 <= niceness <= LOWEST_PRIORITY:
        raise ValueError(f"niceness: expected 0..{LOWEST_PRIORITY}, got {niceness}")
    return _Pool(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(niceness, init, args),
    )
