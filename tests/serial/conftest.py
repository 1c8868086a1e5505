"""Fixtures of the serial driver tests: a simulated camera on a real pty, and our driver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from camera2mqtt.cameras.serial import SerialCamera
from camera2mqtt.cameras.serial.link import LinkTimeouts
from camera2mqtt.sim.serial import SerialSimulator

# Shorter than the defaults so that failure tests finish quickly, still generous for a
# loaded machine.
FAST_FAILURE = LinkTimeouts(
    init=0.5, init_attempts=2, init_pause=0.1, ack=0.5, reply=1.0, next_packet=0.5
)


@pytest.fixture
def sim() -> Iterator[SerialSimulator]:
    with SerialSimulator("c-2020z", idle_reset_s=None) as simulator:
        yield simulator


@pytest.fixture
def camera(sim: SerialSimulator) -> Iterator[SerialCamera]:
    cam = SerialCamera(sim.slave_path)
    cam.connect()
    try:
        yield cam
    finally:
        cam.close()
