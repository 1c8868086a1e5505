"""Fixtures: a Wi-Fi simulator on 127.0.0.1 and a driver connected to it over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.sim.wifi.server import WifiSimulator

TIMEOUT = 10.0  # generous: the machine is shared with other test runs


@pytest.fixture
def model() -> str:
    return "e-m1-iii"


@pytest.fixture
def sim(model: str) -> Iterator[WifiSimulator]:
    with WifiSimulator(model) as simulator:
        yield simulator


@pytest.fixture
def camera(sim: WifiSimulator) -> Iterator[WifiCamera]:
    cam = WifiCamera("127.0.0.1", sim.port, timeout=TIMEOUT, shutter_hold=0.01)
    cam.connect()
    try:
        yield cam
    finally:
        cam.close()
