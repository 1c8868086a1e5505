"""Cheap checks of whether an absent camera has come back, run every few seconds.

A full poll connects the driver, which takes several requests and long timeouts; these
probes cost one TCP connect (Wi-Fi) or one ``stat`` of the device node (serial), so the
worker can look often while the camera is away and connect as soon as one succeeds.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

__all__ = ["PROBE_TIMEOUT", "PresenceProbe", "presence_probe"]

PROBE_TIMEOUT = 1.0  # seconds a TCP connect may take
SOCKET_URL = "socket://"

PresenceProbe = Callable[[], bool]


def presence_probe(config: Any, *, timeout: float = PROBE_TIMEOUT) -> PresenceProbe:
    """The probe for a camera's config: TCP connect to ``host:port`` for Wi-Fi; for serial,
    the device node exists (or, for a ``socket://host:port`` URL, a TCP connect)."""
    if config.type == "wifi":
        return lambda: _tcp_connects(config.host, config.port, timeout)
    port = str(config.port)
    if port.startswith(SOCKET_URL):
        host, _, number = port[len(SOCKET_URL) :].rpartition(":")
        if number.isdigit():
            return lambda: _tcp_connects(host, int(number), timeout)
        return lambda: True
    if "://" in port:  # other pyserial URLs: nothing cheaper than a poll
        return lambda: True
    return lambda: os.path.exists(port)


def _tcp_connects(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
