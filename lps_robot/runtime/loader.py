"""Reading a policy file safely and loading it off the caller's thread, with a timeout.

A hot-swap must never kill or freeze the controller: the file is opened without blocking and
must be a regular file under a size cap (a FIFO once blocked the executor forever, and
``/dev/zero`` read until MemoryError); building and warming up the policy runs on a worker
thread that the caller waits for at most ``timeout_s``; any exception is a rejection.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from lps_robot.runtime.manifest import PolicyRejected

DEFAULT_MAX_BYTES = 256 * 2**20
T = TypeVar("T")

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _refuse(path: Path, st: os.stat_result, max_bytes: int) -> None:
    """`PolicyRejected` unless ``st`` is a regular file of at most ``max_bytes``."""
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise PolicyRejected(f"{path}: is {kind}, expected a regular .onnx file")
    if st.st_size > max_bytes:
        raise PolicyRejected(
            f"{path}: {st.st_size} bytes exceeds the {max_bytes}-byte cap (max_policy_bytes)"
        )


def check_model_file(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Refuse, without reading it, what cannot be a model file: missing, not a regular file
    (a FIFO, a device, a directory) or over ``max_bytes``; `PolicyRejected` with the reason."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as e:
        raise PolicyRejected(f"{path}: cannot read model ({e.strerror})") from e
    _refuse(path, st, max_bytes)


def read_model_file(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; `PolicyRejected` otherwise."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise PolicyRejected(f"{path}: cannot read model ({e.strerror})") from e
    try:
        _refuse(path, os.fstat(fd), max_bytes)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise PolicyRejected(f"{path}: cannot read model ({e.strerror})") from e
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:  # grew while we read it
        raise PolicyRejected(f"{path}: exceeds the {max_bytes}-byte cap (max_policy_bytes)")
    return data


LOAD_NICE = 10  # loading threads and processes yield the CPU to the control loop


def lower_priority() -> None:
    """Lower this thread's CPU priority (Linux sets niceness per thread): on a machine with
    few cores a load must not take the core the control thread wakes up on."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        with contextlib.suppress(OSError):
            current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), max(current, LOAD_NICE))


class LoadTimeout(PolicyRejected):
    """The worker did not finish in time (it is abandoned, never joined)."""


class WorkerLoader(Generic[T]):
    """Runs ``build(path)`` on a fresh daemon thread, one load at a time.

    `load` waits up to ``timeout_s`` and returns the result or raises `PolicyRejected` (any
    exception of ``build`` becomes one, with its type and message). `start` returns at once and
    calls ``done(result, reason)`` from the worker. A worker that never returns (a pathological
    model) keeps the loader busy: later loads are refused, naming the stuck one.
    """

    def __init__(self, build: Callable[[str], T], timeout_s: float) -> None:
        if not timeout_s > 0:
            raise ValueError(f"load timeout: expected > 0 s, got {timeout_s}")
        self.build, self.timeout_s = build, timeout_s
        self._lock = threading.Lock()
        self._busy: str | None = None  # path being loaded

    @property
    def busy(self) -> str | None:
        return self._busy

    def _run(self, path: str, box: dict, finished: threading.Event) -> None:
        lower_priority()
        try:
            box["result"] = self.build(path)
        except PolicyRejected as e:
            box["reason"] = str(e)
        except BaseException as e:  # noqa: BLE001 - a bad model may raise anything
            box["reason"] = f"{path}: {type(e).__name__} while loading: {e}"
        finally:
            with self._lock:
                self._busy = None
            finished.set()

    def _spawn(self, path: str) -> tuple[dict, threading.Event]:
        with self._lock:
            if self._busy is not None:
                raise PolicyRejected(f"{path}: refused, the load of {self._busy} has not finished")
            self._busy = path
        box: dict = {}
        finished = threading.Event()
        threading.Thread(
            target=self._run, args=(path, box, finished), name="lps_load", daemon=True
        ).start()
        return box, finished

    def load(self, path: str) -> T:
        box, finished = self._spawn(path)
        if not finished.wait(self.timeout_s):
            raise LoadTimeout(
                f"{path}: loading and warm-up did not finish within {self.timeout_s:g} s "
                "(load_timeout_s)"
            )
        if "reason" in box:
            raise PolicyRejected(box["reason"])
        return box["result"]

    def start(self, path: str, done: Callable[[T | None, str], None]) -> None:
        """`load` in the background, then ``done(policy, '')`` or ``done(None, reason)``."""

        def wait() -> None:
            try:
                result = self.load(path)
            except PolicyRejected as e:
                done(None, str(e))
                return
            done(result, "")

        threading.Thread(target=wait, name="lps_load_wait", daemon=True).start()
