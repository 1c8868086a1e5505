"""Overall deadlines and cancellation for HTTP requests to a camera.

A socket timeout only bounds each wait for data: a camera that trickles its reply a byte at a
time never trips it. :class:`RequestGuard` holds the deadline of the request in progress and
an optional cancel event; every socket the client opens (through the requests session's
connection pool for commands, :func:`guarded_socket` for file bodies) checks
both before and while it waits for data (at least every :data:`CANCEL_POLL` seconds when a
cancel event is set), and fails the read with ``TimeoutError`` once either is due. The client
then asks the guard which of the two it was.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

__all__ = ["CANCEL_POLL", "GuardedAdapter", "RequestGuard", "guarded_socket"]

CANCEL_POLL = 0.1
"""Seconds between looks at the cancel event while a read waits for data."""
DISARMED_IDLE_TIMEOUT = 60.0
"""The wait for data of a read outside any request (none is expected)."""


class RequestGuard:
    """The deadline, idle timeout and cancel event of the one request in progress.

    A client sends one request at a time, so one guard per client is enough.
    """

    def __init__(self) -> None:
        self.deadline = math.inf
        self.idle_timeout = DISARMED_IDLE_TIMEOUT
        self.cancel: threading.Event | None = None
        self.expired = False
        self.cancelled = False

    def arm(
        self, *, within: float, idle_timeout: float, cancel: threading.Event | None = None
    ) -> None:
        """Start a request that must be over ``within`` seconds from now."""
        self.deadline = time.monotonic() + within
        self.idle_timeout = idle_timeout
        self.cancel = cancel
        self.expired = False
        self.cancelled = False

    def disarm(self) -> None:
        self.deadline = math.inf
        self.idle_timeout = DISARMED_IDLE_TIMEOUT
        self.cancel = None

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def wait_slice(self, idle_end: float) -> float:
        """How long the next wait for data may last; TimeoutError when nothing is left."""
        cancel = self.cancel
        if cancel is not None and cancel.is_set():
            self.cancelled = True
            raise TimeoutError("timed out (cancelled)")
        now = time.monotonic()
        if now >= self.deadline:
            self.expired = True
            raise TimeoutError("timed out (deadline)")
        if now >= idle_end:
            raise TimeoutError("timed out")
        wait = min(self.deadline, idle_end) - now
        return min(wait, CANCEL_POLL) if cancel is not None else wait


class _GuardedSocket(socket.socket):
    """A socket whose reads give up at the guard's deadline or cancel event."""

    guard: RequestGuard

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        guard = self.guard
        idle_end = time.monotonic() + guard.idle_timeout
        while True:
            self.settimeout(guard.wait_slice(idle_end))
            try:
                return socket.socket.recv_into(self, buffer, nbytes, flags)
            except TimeoutError:
                continue

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        buffer = bytearray(bufsize)
        count = self.recv_into(buffer, bufsize, flags)
        return bytes(buffer[:count])


def guarded_socket(family: int, guard: RequestGuard) -> socket.socket:
    """A new TCP socket whose reads obey ``guard``."""
    sock = _GuardedSocket(family, socket.SOCK_STREAM)
    sock.guard = guard
    return sock


def _guarded(plain: socket.socket, guard: RequestGuard) -> _GuardedSocket:
    """The connected socket ``plain`` as one whose reads obey ``guard`` (same descriptor)."""
    timeout = plain.gettimeout()
    guarded = _GuardedSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
    guarded.guard = guard
    guarded.settimeout(timeout)
    return guarded


class _GuardedConnection(HTTPConnection):
    guard: RequestGuard  # set on the per-client subclass

    def _new_conn(self) -> socket.socket:
        return _guarded(super()._new_conn(), self.guard)


class GuardedAdapter(HTTPAdapter):
    """An HTTP adapter (no retries of its own) whose sockets obey ``guard``."""

    def __init__(self, guard: RequestGuard) -> None:
        self._guard = guard
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        connection = type("GuardedConnection", (_GuardedConnection,), {"guard": self._guard})
        pool = type("GuardedPool", (HTTPConnectionPool,), {"ConnectionCls": connection})
        self.poolmanager.pool_classes_by_scheme = {"http": pool}
