"""Inference off the tick: the next chunk is computed on a worker thread, started a few ticks
before the queued actions run out, from the freshest observation of the tick that starts it.

A chunk predicted from the observation of tick q plans ticks q, q+1, ...; taken at tick t it
is executed from its action t - q on, so every action still runs at the tick it was planned
for; the price is that the observation behind the first action executed is t - q ticks old
(one period when inference fits in one), where inference on the tick costs that tick its
inference time. ``lead`` (ticks between starting an inference and needing it) follows the
slowest of the recent inferences; a tick that needs a chunk still being computed waits for it
and is counted as stalled.
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
    the offset of the current tick in it, and the joint positions it was predicted from."""

    chunk: np.ndarray | None
    error: BaseException | None
    inference_ms: float
    offset: int
    pos: np.ndarray
    waited_ms: float
    stalled: bool  # it was still being computed when the tick needed it


class AheadInference:
    def __init__(self, period_s: float, chunk_length: int) -> None:
        self.period_ms, self.h = period_s * 1e3, chunk_length
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="lps-inference")
        self._job: tuple[Future, int, np.ndarray, object] | None = None
        self._recent: deque[float] = deque(maxlen=RECENT)
        self.stalls = 0  # ticks that waited for a chunk still being computed
        self.launched = 0

    def lead(self) -> int:
        """Ticks between starting an inference and needing its chunk (1 .. h - 1)."""
        slowest = max(self._recent, default=0.0) * MARGIN
        return max(1, min(self.h - 1, math.ceil(slowest / self.period_ms)))

    def pending(self, owner: object) -> bool:
        """A chunk is being computed (or waits) for ``owner`` (the policy in charge)."""
        return self._job is not None and self._job[3] is owner

    def launch(
        self,
        policy: Callable[[Mapping[str, np.ndarray]], np.ndarray],
        obs: Mapping[str, np.ndarray],
        pos: np.ndarray,
        tick: int,
    ) -> None:
        """Start computing a chunk from ``obs`` (copied) of tick ``tick``."""
        snapshot = {k: np.array(v, copy=True) for k, v in obs.items()}
        future = self._pool.submit(_timed, policy, snapshot)
        self._job = (future, tick, np.array(pos, copy=True), policy)
        self.launched += 1

    def take(self, tick: int) -> Ahead:
        """The pending chunk for tick ``tick``, waiting for it if it is still being computed."""
        assert self._job is not None
        (future, launched, pos, _), self._job = self._job, None
        t0 = time.perf_counter()
        stalled = not future.done()
        self.stalls += stalled
        chunk, error, ms = future.result()
        self._recent.append(ms)
        waited = (time.perf_counter() - t0) * 1e3
        return Ahead(chunk, error, ms, tick - launched, pos, waited, stalled)

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
