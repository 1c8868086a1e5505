"""The end-to-end stack: real mosquitto, both simulators, the daemon, and an MQTT test probe.

The daemon is driven only through MQTT; the simulators are looked at to see what the camera
received. Each test gets its own broker and its own base topic and discovery prefix.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from camera2mqtt.cameras import open_camera
from camera2mqtt.cameras.serial import SerialCamera
from camera2mqtt.cameras.serial.link import LinkTimeouts
from tests.daemon.mqtt_probe import MqttProbe
from tests.daemon_config import mqtt_and_folders

READY_TIMEOUT = 45.0
POLL_INTERVAL = 0.25
# The serial link's deadlines in the in-process daemon: a silent simulator is noticed in about
# two seconds instead of the driver's 15 (generous still: the simulator answers in milliseconds).
STACK_SERIAL_TIMEOUTS = LinkTimeouts(
    init=1.0, init_attempts=2, init_pause=0.1, ack=0.5, reply=0.5, next_packet=0.5
)


def stack_cameras(camera_config: Any) -> Any:
    """The daemon's camera factory with short serial deadlines (Wi-Fi ones come from the
    config's ``timeout``)."""
    if camera_config.type == "serial":
        return SerialCamera.from_config(camera_config, timeouts=STACK_SERIAL_TIMEOUTS)
    return open_camera(camera_config)


def daemon_config_text(
    *,
    mqtt_port: int,
    base: str,
    prefix: str,
    root: Path,
    wifi_port: int | None = None,
    serial_path: str | None = None,
    poll_interval: float = POLL_INTERVAL,
) -> str:
    """A daemon config for the simulators, everything on 127.0.0.1 and under root."""
    lines = [
        *mqtt_and_folders(port=mqtt_port, base=base, root=root, prefix=prefix),
        "log_level: INFO",
        "cameras:",
    ]
    if wifi_port is not None:
        lines += [
            "  wifi:",
            "    type: wifi",
            "    host: 127.0.0.1",
            f"    port: {wifi_port}",
            "    timeout: 3",
            f"    poll_interval: {poll_interval}",
        ]
    if serial_path is not None:
        lines += [
            "  serial:",
            "    type: serial",
            f"    port: {serial_path}",
            f"    poll_interval: {poll_interval}",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Stack:
    broker: Any
    wifi: Any
    serial: Any
    root: Path
    base: str
    prefix: str
    config_path: Path
    probe: MqttProbe
    service: Any = None

    def topic(self, camera: str, leaf: str) -> str:
        return f"{self.base}/{camera}/{leaf}"

    def wait_online(self, *, since: int = 0, timeout: float = READY_TIMEOUT) -> None:
        """Bridge online and both cameras available, as seen from ``since`` on."""
        self.probe.wait_for(
            lambda m: m.topic == f"{self.base}/bridge/state" and m.text() == "online",
            timeout=timeout,
            since=since,
            what="bridge online",
        )
        for camera in ("wifi", "serial"):
            self.probe.wait_for(
                lambda m, camera=camera: (
                    m.topic == self.topic(camera, "availability") and m.text() == "online"
                ),
                timeout=timeout,
                since=since,
                what=f"{camera} availability online",
            )


@pytest.fixture
def stack_parts(broker, wifi_sim, serial_sim, tmp_path) -> Iterator[Stack]:
    """Broker, simulators, config file and a subscribed probe; the daemon not yet started."""
    tag = uuid.uuid4().hex[:8]
    base, prefix = f"e2e{tag}", f"ha{tag}"
    config_path = tmp_path / "camera2mqtt.yaml"
    config_path.write_text(
        daemon_config_text(
            mqtt_port=broker.port,
            base=base,
            prefix=prefix,
            root=tmp_path,
            wifi_port=wifi_sim.port,
            serial_path=serial_sim.slave_path,
        ),
        encoding="utf-8",
    )
    with MqttProbe("127.0.0.1", broker.port, (f"{base}/#", f"{prefix}/#")) as probe:
        yield Stack(broker, wifi_sim, serial_sim, tmp_path, base, prefix, config_path, probe)


@pytest.fixture
def stack(stack_parts: Stack) -> Iterator[Stack]:
    """The full stack with the daemon running in-process and everything online."""
    from camera2mqtt.config import load_config
    from camera2mqtt.service import Service

    service = Service(load_config(stack_parts.config_path), camera_factory=stack_cameras)
    with serving(stack_parts, service) as stack:
        yield stack


@contextlib.contextmanager
def serving(stack_parts: Stack, service: Any) -> Iterator[Stack]:
    """``service`` started as the stack's daemon with everything online; stopped afterwards."""
    stack_parts.service = service
    service.start()
    try:
        stack_parts.wait_online()
        yield stack_parts
    finally:
        service.stop()
