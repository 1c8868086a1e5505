"""``with`` support for the parts that run in the background until stopped."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Self

__all__ = ["StartStop"]


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
