"""Running until stopped: ``with`` support for background parts, and stop signals."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import FrameType
from typing import Self

__all__ = ["STOP_SIGNALS", "StartStop", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

log = logging.getLogger(__name__)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An Event that SIGTERM or SIGINT sets while the block runs (main thread only); the
    previous handlers are back once it ends."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("Received %s; stopping", signal.Signals(signum).name)
        stop.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class StartStop(ABC):
    """A part with ``start()`` and ``stop()``: ``with part:`` starts it and always stops it."""

    @abstractmethod
    def start(self) -> object:
        """Begin running (in the background); return once ready."""

    @abstractmethod
    def stop(self) -> None:
        """Stop and release everything; safe to call more than once."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
