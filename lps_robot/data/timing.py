"""Header stamps a recorder can trust, per stream, and timing checks of a recorded episode.

A recorded step is only as good as its time. `StreamClock` looks at each message's header
stamp against its receipt time and decides, per stream:

- a zero (or non-finite) stamp: the driver does not stamp; receipt time is used, flagged;
- a stamp not after the last one taken: an out-of-order or repeated message, dropped (never
  recorded as fresh); ``RESYNC`` of them in a row are a clock that jumped back: the new
  timeline is taken, flagged;
- a message that arrives later than the stream's usual delay by more than ``max_age_s``: old
  data, dropped;
- a stream whose stamps sit further than ``skew_tolerance_s`` from the receipt clock: another
  clock (skew); receipt time is used, flagged.

`timing_faults` checks an episode's timestamps for what no real recording has: steps that do
not move forward, or that come faster than a quarter of the control period ("1e6 Hz").
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

MIN_STEP = 0.25  # of the control period: steps closer than this are no real recording's
RESYNC = 10  # this many backward stamps in a row: the sender's clock jumped back
FAULTS = {  # fault -> what it means, for episode notes
    "zero_stamp": "zero header stamps (receipt time used)",
    "out_of_order": "out-of-order or repeated messages dropped",
    "clock_jump": "stamps jumped backwards (new timeline taken)",
    "late": "late messages dropped (older than the stream's usual delay + max age)",
    "clock_skew": "stamps far from this clock (clock skew: receipt time used)",
}


class StreamClock:
    def __init__(self, max_age_s: float, skew_tolerance_s: float = 0.5) -> None:
        self.max_age_s, self.skew_tolerance_s = max_age_s, skew_tolerance_s
        self.last_stamp: float | None = None
        self.delay: float | None = None  # usual receipt - stamp (the lowest seen, decaying up)
        self._backwards = 0
        self.faults: Counter[str] = Counter()

    def take(self, stamp_s: float, recv_wall: float) -> float | None:
        """The time to record for a message stamped ``stamp_s`` and received at wall time
        ``recv_wall``, or None when the message must not be recorded."""
        if not (math.isfinite(stamp_s) and stamp_s > 0):
            self.faults["zero_stamp"] += 1
            return recv_wall
        if self.last_stamp is not None and stamp_s <= self.last_stamp:
            self._backwards += 1
            if self._backwards < RESYNC:
                self.faults["out_of_order"] += 1
                return None
            self.faults["clock_jump"] += 1
            self.delay = None
        self._backwards = 0
        delay = recv_wall - stamp_s
        if self.delay is not None and delay - self.delay > self.max_age_s:
            self.faults["late"] += 1
            return None
        if self.delay is None or delay < self.delay:
            self.delay = delay
        else:
            self.delay += 0.01 * (delay - self.delay)  # follows a slowly growing delay
        self.last_stamp = stamp_s
        if abs(self.delay) > self.skew_tolerance_s:
            self.faults["clock_skew"] += 1
            return recv_wall
        return stamp_s

    def notes(self, stream: str) -> list[str]:
        return [f"{stream}: {n} {FAULTS[k]}" for k, n in sorted(self.faults.items())]


def too_soon(dt: float | np.ndarray, rate_hz: float) -> bool | np.ndarray:
    """Whether a step ``dt`` seconds after the last one comes sooner than `MIN_STEP` of the
    period at ``rate_hz`` (the check `timing_faults` makes of a recorded episode)."""
    return dt < MIN_STEP / rate_hz


def timing_faults(timestamps: np.ndarray, rate_hz: float) -> list[str]:
    """What is wrong with an episode's timestamps at ``rate_hz``; [] when nothing."""
    ts = np.asarray(timestamps, np.float64)
    if len(ts) < 2 or not np.isfinite(ts).all():
        return []
    dt = np.diff(ts)
    faults = []
    back = dt <= 0
    if back.any():
        faults.append(
            f"'timestamps' are not strictly increasing ({int(back.sum())} step(s), first at "
            f"step {int(np.argmax(back)) + 1})"
        )
    fast = (dt > 0) & too_soon(dt, rate_hz)
    if fast.any():
        faults.append(
            f"'timestamps': {int(fast.sum())} step(s) closer than {MIN_STEP * 1e3 / rate_hz:g} "
            f"ms, {MIN_STEP:g} of the {1e3 / rate_hz:g} ms period (shortest "
            f"{dt[fast].min() * 1e3:.3g} ms, first at step {int(np.argmax(fast)) + 1})"
        )
    return faults
