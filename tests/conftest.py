"""Helpers shared by every test area (each area keeps its own fixtures in its folder)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

WIFI_MODEL = "e-m1-iii"
SERIAL_MODEL = "c-2020z"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that was free a moment ago (TCP by default, UDP with SOCK_DGRAM)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def tcp_port() -> int:
    return free_port(socket.SOCK_STREAM)


@pytest.fixture
def udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)


@pytest.fixture
def broker():
    """A real mosquitto on a free loopback port (skips when mosquitto is not installed)."""
    from camera2mqtt.broker import MosquittoBroker, find_mosquitto

    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    with start_on_a_free_port(MosquittoBroker) as running:
        yield running


PORT_ATTEMPTS = 5


def start_on_a_free_port(make: Callable[[], Any]) -> Any:
    """``make()`` (which picks a free port) started, with a new port when another process took
    the one it picked before the server could bind it: under pytest-xdist, on a shared machine,
    a port free a moment ago is sometimes an outgoing connection's by the time mosquitto runs."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        server = make()
        try:
            server.start()
        except Exception as error:
            if attempt == PORT_ATTEMPTS or "Address already in use" not in str(error):
                raise
            continue
        return server
    raise AssertionError("unreachable")


@pytest.fixture
def wifi_sim(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The simulated Wi-Fi camera, streaming live view when asked; parametrize indirectly
    with a model name to change it."""
    from camera2mqtt.sim.wifi import WifiSimulator
    from camera2mqtt.sim.wifi.liveview import RtpStreamer

    model = getattr(request, "param", WIFI_MODEL)
    with WifiSimulator(model, liveview=RtpStreamer()) as simulator:
        yield simulator


@pytest.fixture
def serial_sim() -> Iterator[Any]:
    """The simulated serial camera on a pty."""
    from camera2mqtt.sim.serial import SerialSimulator

    with SerialSimulator(SERIAL_MODEL) as simulator:
        yield simulator


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, so that under pytest-xdist they start at once on their own workers
    instead of being the tail of the run (the order is otherwise kept)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
