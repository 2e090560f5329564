"""The keyboard in the terminal (no X server): keys held down move the end effector.

A terminal reports a held key as a first press, a pause (the auto-repeat delay, about 0.5 s)
and then repeats; there are no key-up events. So a key moves the arm for `FIRST_HOLD_S`
after its first press and `REPEAT_HOLD_S` after each repeat: holding a key moves steadily,
letting go stops within `REPEAT_HOLD_S` (that is the deadman). ``c`` closes the gripper and
``o`` opens it (the deadman counts as held for a moment, so the gripper moves).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import threading
import time
import tty
from collections.abc import Callable

import numpy as np

from lps_robot.teleop.command import TeleopCommand

FIRST_HOLD_S = 0.6  # longer than a terminal's auto-repeat delay
REPEAT_HOLD_S = 0.15  # longer than its repeat interval
MOTION_KEYS = {  # key: (twist component 0-5, sign)
    "w": (0, 1.0), "s": (0, -1.0),  # forward / back (x)
    "a": (1, 1.0), "d": (1, -1.0),  # left / right (y)
    "r": (2, 1.0), "f": (2, -1.0),  # up / down (z)
    "q": (5, 1.0), "e": (5, -1.0),  # yaw
}  # fmt: skip
HELP = "w/s x, a/d y, r/f z, q/e yaw, c close, o open (hold a key to move)"


class KeyTwist:
    """Key events -> the current command (pure: times are passed in)."""

    def __init__(self, max_linear: float = 0.1, max_angular: float = 0.5) -> None:
        self.max_linear, self.max_angular = max_linear, max_angular
        self._key: str | None = None
        self._until = 0.0
        self.gripper: float | None = None
        self.lock = threading.Lock()

    def press(self, key: str, now: float) -> None:
        with self.lock:
            if key in MOTION_KEYS:
                first = key != self._key or now > self._until
                self._key = key
                self._until = now + (FIRST_HOLD_S if first else REPEAT_HOLD_S)
            elif key in ("c", "o"):
                self.gripper = 1.0 if key == "c" else 0.0
                self._key, self._until = None, now + FIRST_HOLD_S

    def command(self, now: float) -> TeleopCommand:
        with self.lock:
            key, until, gripper = self._key, self._until, self.gripper
        twist = np.zeros(6)
        moving = now <= until
        if moving and key is not None:
            i, sign = MOTION_KEYS[key]
            twist[i] = sign * (self.max_linear if i < 3 else self.max_angular)
        return TeleopCommand(twist[:3], twist[3:], gripper, deadman=moving)


class TerminalKeys:
    """Reads single keys from a terminal on a thread: ``on_key(key, monotonic time)`` for
    each (lower case; Esc alone as "esc")."""

    def __init__(self, on_key: Callable[[str, float], None], fd: int | None = None) -> None:
        self.on_key = on_key
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._stop = threading.Event()
        self._saved = None
        self._thread: threading.Thread | None = None

    def connect(self) -> None:
        if not os.isatty(self.fd):
            raise RuntimeError("keyboard teleop needs a terminal on stdin")
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self._thread = threading.Thread(target=self._run, name="lps_keys", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            data = os.read(self.fd, 32)
            if not data:
                return
            now = time.monotonic()
            if data == b"\x1b":  # Esc on its own (arrow keys send Esc sequences)
                self.on_key("esc", now)
                continue
            for ch in data.decode(errors="ignore").lower():
                self.on_key(ch, now)

    def disconnect(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        if self._saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
