"""Action-chunk execution: open loop (run k steps, re-query) or temporal ensembling (ACT)."""

from __future__ import annotations

from collections import deque

import numpy as np

MODES = ("open_loop", "temporal_ensemble")


class ChunkExecutor:
    """Turns predicted chunks (h, A) into one action per control tick."""

    def __init__(
        self,
        chunk_length: int,
        execute_steps: int,
        mode: str = "open_loop",
        ensemble_decay: float = 0.1,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"execution: expected one of {MODES}, got {mode!r}")
        if not 1 <= execute_steps <= chunk_length:
            raise ValueError(f"execute_steps: expected 1..{chunk_length}, got {execute_steps}")
        self.h, self.k, self.mode, self.decay = chunk_length, execute_steps, mode, ensemble_decay
        self.reset()

    def reset(self) -> None:
        self._queue: deque[np.ndarray] = deque()
        self._chunks: deque[tuple[int, np.ndarray]] = deque()  # (tick predicted, chunk)
        self._tick = 0

    def needs_query(self) -> bool:
        return self.mode == "temporal_ensemble" or not self._queue

    def remaining(self) -> int:
        """Queued actions left (open loop)."""
        return len(self._queue)

    def push(self, chunk: np.ndarray, offset: int = 0) -> None:
        """A chunk predicted ``offset`` ticks ago (open loop: its actions from ``offset`` on,
        in place of any still queued)."""
        if self.mode == "open_loop":
            self._queue.clear()
            self._queue.extend(chunk[offset : offset + self.k])
        else:
            self._chunks.append((self._tick, chunk))
            while self._chunks and self._chunks[0][0] + self.h <= self._tick:
                self._chunks.popleft()

    def next_action(self) -> np.ndarray | None:
        """The action for this tick (advances time), or None when nothing is queued."""
        if self.mode == "open_loop":
            action = self._queue.popleft() if self._queue else None
        else:
            live = [(t, c) for t, c in self._chunks if t + self.h > self._tick]
            if not live:
                action = None
            else:  # oldest prediction weighs most: w_i = exp(-decay * i)
                w = np.exp(-self.decay * np.arange(len(live)))
                acts = np.stack([c[self._tick - t] for t, c in live])
                action = (w[:, None] * acts).sum(0) / w.sum()
        self._tick += 1
        return action
