"""Inference off the tick: the next chunk is computed on a worker thread, started a few ticks
before the queued actions run out, from the freshest observation of the tick that starts it.

A chunk predicted from the observation of tick q plans ticks q, q+1, ...; taken at tick t it
is executed from its action t - q on, so every action still runs at the tick it was planned
for; the price is that the observation behind the first action executed is t - q ticks old
(one period when inference fits in one), where inference on the tick costs that tick its
inference time. ``lead`` (ticks between starting an inference and needing it) follows the
slowest of the recent inferences (first: the policy's warm-up p99), and each late chunk
raises it by a tick for good (a slow tail the recent window missed). The loop takes a chunk
on the first tick it is ready, in place of what is left of the running one: a chunk taken
only when the queue ran out would leave the next inference the chunk's length minus the
lead (with 5-action chunks, windows of 2 and 3 ticks in turn), where taking it when ready
leaves it the chunk's length minus the inference time. No tick ever waits: the loop holds
the arm while the first chunk is computed (at the start, after a hold or a swap) and while a
chunk is late; late ticks are counted (``stalls``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

INFERENCE_MODES = ("tick", "ahead")
RECENT = 20  # inferences the lead follows
MARGIN = 1.25  # lead covers the slowest recent inference times this


@dataclass
class Ahead:
    """A chunk taken from the worker: what the policy returned (or raised), its inference time,
    the offset of the current tick in it, the joint positions it was predicted from, and
    whether it came late (ticks held for it)."""

    chunk: np.ndarray | None
    error: BaseException | None
    ms: float
    offset: int
    pos: np.ndarray
    late: bool


class AheadInference:
    def __init__(self, period_s: float, chunk_length: int) -> None:
        self.period_ms, self.h = period_s * 1e3, chunk_length
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="lps-inference")
        self._job: tuple[Future, int, np.ndarray, object] | None = None
        self._recent: deque[float] = deque(maxlen=RECENT)
        self.startup = False  # the pending chunk was started with nothing left to execute
        self._late = False  # the pending chunk is late
        self.stalls = 0  # ticks held for a late chunk
        self._floor = 1  # raised by late chunks
        self.late_chunks = 0
        self.launched = 0

    def lead(self) -> int:
        """Ticks between starting an inference and needing its chunk (1 .. h - 1): the
        slowest recent inference with a margin, and at least one more than the lead under
        which a chunk last came late."""
        slowest = max(self._recent, default=0.0) * MARGIN
        return max(1, self._floor, min(self.h - 1, math.ceil(slowest / self.period_ms)))

    def expect(self, ms: float | None) -> None:
        """Seed the lead with a latency measured elsewhere (a policy's warm-up p99)."""
        if ms is not None and ms > 0:
            self._recent.append(float(ms))

    def pending(self, owner: object) -> bool:
        """A chunk is being computed (or waits) for ``owner`` (the policy in charge)."""
        return self._job is not None and self._job[3] is owner

    def launch(
        self,
        policy: Callable[[Mapping[str, np.ndarray]], np.ndarray],
        obs: Mapping[str, np.ndarray],
        pos: np.ndarray,
        tick: int,
        startup: bool,
    ) -> None:
        """Start computing a chunk from ``obs`` (copied) of tick ``tick``; ``startup``: no
        actions are left to run meanwhile (the loop holds until it is ready)."""
        snapshot = {k: np.array(v, copy=True) for k, v in obs.items()}
        future = self._pool.submit(_timed, policy, snapshot)
        self._job = (future, tick, np.array(pos, copy=True), policy)
        self.startup, self._late = startup, False
        self.launched += 1

    def ready(self) -> bool:
        return self._job is not None and self._job[0].done()

    def wait(self) -> None:
        """Block until the pending chunk is ready (stepped simulation only)."""
        if self._job is not None:
            self._job[0].result()

    def mark_late(self) -> bool:
        """A tick needed the pending chunk before it was ready; True for its first such tick."""
        self.stalls += 1
        first, self._late = not self._late, True
        if first:
            self.late_chunks += 1
            self._floor = min(self.h - 1, self.lead() + 1)
        return first

    def take(self, tick: int) -> Ahead:
        """The pending chunk (ready) for tick ``tick``."""
        assert self._job is not None
        (future, launched, pos, _), self._job = self._job, None
        chunk, error, ms = future.result()
        self._recent.append(ms)
        return Ahead(chunk, error, ms, tick - launched, pos, self._late)

    def cancel(self) -> None:
        """Forget the pending chunk (a hold, a swap, a reset); a running inference finishes
        on the worker and its result is dropped."""
        self._job = None

    def close(self) -> None:
        self._job = None
        self._pool.shutdown(wait=False, cancel_futures=True)


def _timed(policy: Callable, obs: Mapping[str, np.ndarray]):
    t0 = time.perf_counter()
    try:
        chunk, error = policy(obs), None
    except BaseException as e:  # noqa: BLE001 - handed to the tick, which fails the policy
        chunk, error = None, e
    return chunk, error, (time.perf_counter() - t0) * 1e3
