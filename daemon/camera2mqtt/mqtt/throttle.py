"""At most one log line per interval for something that can repeat many times a second."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """Says when the next report is due and how many events were held back since the last.

    ``clock`` is injectable so that tests need not sit through the interval. Not thread-safe:
    the caller serialises access (the bridge uses it under its own lock or on one thread).
    """

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if interval < 0:
            raise ValueError("interval must be 0 or more seconds")
        self._interval = interval
        self._clock = clock
        self._next: float | None = None
        self._held = 0

    def ready(self) -> bool:
        """Count one event; True when it should be reported now (the first, then one per
        interval). :attr:`held_back` tells how many were not reported before it."""
        now = self._clock()
        if self._next is None or now >= self._next:
            self._next = now + self._interval
            return True
        self._held += 1
        return False

    def take_held_back(self) -> int:
        """How many events were not reported since the last report; resets the count."""
        held, self._held = self._held, 0
        return held

    def reset(self) -> None:
        """Report the next event at once (the condition it was about has ended)."""
        self._next = None
        self._held = 0
