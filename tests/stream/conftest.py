"""Fixtures shared by the stream tests: the Wi-Fi simulator's live view and a connected
camera."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.sim.wifi import WifiSimulator
from camera2mqtt.sim.wifi.liveview import RtpStreamer
from tests.conftest import WIFI_MODEL


@pytest.fixture
def streamer() -> RtpStreamer:
    return RtpStreamer(fps=60)


@pytest.fixture
def camera(streamer: RtpStreamer) -> Iterator[WifiCamera]:
    with WifiSimulator(WIFI_MODEL, liveview=streamer) as simulator:
        camera = WifiCamera("127.0.0.1", simulator.port, timeout=5.0)
        camera.connect()
        try:
            yield camera
        finally:
            camera.close()
