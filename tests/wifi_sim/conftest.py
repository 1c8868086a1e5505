"""Fixtures for the Wi-Fi simulator tests: a running simulator and raw-socket helpers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from camera2mqtt.sim.wifi import WifiSimulator

HTTP_TIMEOUT = 30.0


@dataclass(frozen=True)
class RawReply:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def raw_request(sim: WifiSimulator, request: bytes, *, timeout: float = HTTP_TIMEOUT) -> RawReply:
    """Send ``request`` as is and read the reply until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=timeout) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    _version, status, reason = status_line.split(" ", 2)
    headers = [tuple(line.split(": ", 1)) for line in header_lines]
    return RawReply(int(status), reason, headers, body)  # type: ignore[arg-type]


def raw_get(sim: WifiSimulator, path: str) -> RawReply:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 192.168.0.10\r\nUser-Agent: OI.Share v2\r\n\r\n"
    ).encode()
    return raw_request(sim, request)


class FakeStreamer:
    """Records what the simulator asks of a live-view streamer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple] = []

    def start(self, dest: tuple[str, int], size: str) -> None:
        with self.lock:
            self.calls.append(("start", dest, size))

    def stop(self) -> None:
        with self.lock:
            self.calls.append(("stop",))


@pytest.fixture
def sim() -> Iterator[WifiSimulator]:
    with WifiSimulator("e-m1-iii") as simulator:
        yield simulator


@pytest.fixture(params=["e-m1-iii", "tg-5", "e-m10-iv", "pen-f"])
def any_sim(request: pytest.FixtureRequest) -> Iterator[WifiSimulator]:
    with WifiSimulator(request.param) as simulator:
        yield simulator
