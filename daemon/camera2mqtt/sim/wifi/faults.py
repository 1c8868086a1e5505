"""Scenario controls of the Wi-Fi simulator: injected faults and the log of requests seen."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import overload

__all__ = ["RequestLog", "WifiFaults"]


class WifiFaults:
    """Faults the wire server applies to every reply while set; safe to change from any thread.

    ``cut_after_bytes``: close the connection after that many bytes of a reply body.
    ``cut_bodies``: cut only that many more bodies (counts down; None: every body).
    ``throttle_bytes_per_s``: send reply bodies no faster than that.
    ``fail_503``: answer the next N requests with 503 (counts down).
    ``delay_s``: wait that long before every reply.
    ``extra_listing``: raw lines added to the ``get_imglist`` reply of a folder (hostile or
    garbled names as a broken or malicious card would list them).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cut_after_bytes: int | None = None
        self._throttle_bytes_per_s: int | None = None
        self._fail_503 = 0
        self._delay_s = 0.0
        self._extra_listing: dict[str, tuple[str, ...]] = {}
        self._cut_bodies: int | None = None

    @property
    def cut_bodies(self) -> int | None:
        with self._lock:
            return self._cut_bodies

    @cut_bodies.setter
    def cut_bodies(self, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError("cut_bodies must be None or >= 0")
        with self._lock:
            self._cut_bodies = value

    def take_cut(self, length: int) -> int | None:
        """Where to cut a body of ``length`` bytes now (None: send it whole)."""
        with self._lock:
            cut = self._cut_after_bytes
            if cut is None or cut >= length or self._cut_bodies == 0:
                return None
            if self._cut_bodies is not None:
                self._cut_bodies -= 1
            return cut

    def add_listing_line(self, directory: str, line: str) -> None:
        with self._lock:
            self._extra_listing[directory] = (*self._extra_listing.get(directory, ()), line)

    def listing_lines(self, directory: str) -> tuple[str, ...]:
        with self._lock:
            return self._extra_listing.get(directory, ())

    @property
    def cut_after_bytes(self) -> int | None:
        with self._lock:
            return self._cut_after_bytes

    @cut_after_bytes.setter
    def cut_after_bytes(self, value: int | None) -> None:
        if value is not None and value < 0:
            raise ValueError("cut_after_bytes must be None or >= 0")
        with self._lock:
            self._cut_after_bytes = value

    @property
    def throttle_bytes_per_s(self) -> int | None:
        with self._lock:
            return self._throttle_bytes_per_s

    @throttle_bytes_per_s.setter
    def throttle_bytes_per_s(self, value: int | None) -> None:
        if value is not None and value <= 0:
            raise ValueError("throttle_bytes_per_s must be None or > 0")
        with self._lock:
            self._throttle_bytes_per_s = value

    @property
    def fail_503(self) -> int:
        with self._lock:
            return self._fail_503

    @fail_503.setter
    def fail_503(self, value: int) -> None:
        if value < 0:
            raise ValueError("fail_503 must be >= 0")
        with self._lock:
            self._fail_503 = value

    @property
    def delay_s(self) -> float:
        with self._lock:
            return self._delay_s

    @delay_s.setter
    def delay_s(self, value: float) -> None:
        if value < 0:
            raise ValueError("delay_s must be >= 0")
        with self._lock:
            self._delay_s = float(value)

    def take_503(self) -> bool:
        """True (and one fewer left) when this request is to be answered with 503."""
        with self._lock:
            if self._fail_503 <= 0:
                return False
            self._fail_503 -= 1
            return True

    def reset(self) -> None:
        with self._lock:
            self._cut_after_bytes = None
            self._throttle_bytes_per_s = None
            self._fail_503 = 0
            self._delay_s = 0.0
            self._extra_listing = {}
            self._cut_bodies = None

    def __repr__(self) -> str:
        return (
            f"WifiFaults(cut_after_bytes={self.cut_after_bytes}, "
            f"throttle_bytes_per_s={self.throttle_bytes_per_s}, fail_503={self.fail_503}, "
            f"delay_s={self.delay_s})"
        )


class RequestLog(Sequence[tuple[str, str]]):
    """The requests the simulator received, as (method, path with query), oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[str, str]] = []

    def append(self, method: str, path: str) -> None:
        with self._lock:
            self._items.append((method, path))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._items)

    def paths(self) -> list[str]:
        return [path for _method, path in self.snapshot()]

    @overload
    def __getitem__(self, index: int) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, str]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, str] | list[tuple[str, str]]:
        with self._lock:
            return self._items[index]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.snapshot())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RequestLog):
            return self.snapshot() == other.snapshot()
        if isinstance(other, list):
            return self.snapshot() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RequestLog({self.snapshot()!r})"
