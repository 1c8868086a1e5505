"""Fixtures of the serial simulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from camera2mqtt.sim.serial import SerialSimulator

from .host import Host


@pytest.fixture
def sim() -> Iterator[SerialSimulator]:
    with SerialSimulator(idle_reset_s=None) as simulator:
        yield simulator


@pytest.fixture
def host(sim: SerialSimulator) -> Iterator[Host]:
    with Host(sim.slave_path) as line:
        yield line
