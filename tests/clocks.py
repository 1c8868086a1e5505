"""A monotonic clock for the daemon that only the test moves."""

from __future__ import annotations

import threading
import time


class ManualClock:
    """The daemon's clock, moved only by the test; remembers when it was moved (in real
    monotonic time) so each message can be given the clock time it arrived at."""

    def __init__(self, start: float = 1000.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        self._moves: list[tuple[float, float]] = [(-1.0, self._now)]

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self._moves.append((time.monotonic(), self._now))

    def at(self, real: float) -> float:
        with self._lock:
            return [clock for moved, clock in self._moves if moved <= real][-1]
