"""The Home Assistant side of the service with in-process fake cameras and a real broker:
debounced changes, removed components, the last photo across restarts, the bridge device."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from camera2mqtt.config import parse_config
from camera2mqtt.homeassistant import DEFAULT_DEBOUNCE
from camera2mqtt.service import Service
from tests.clocks import ManualClock
from tests.mqtt.fake_camera import FakeWorld
from tests.mqtt.recorder import Recorder
from tests.mqtt.test_service import config_text

QUIET = 0.5  # seconds a test waits to see that a message does NOT come


@dataclass
class Running:
    service: Service
    world: FakeWorld
    recorder: Recorder
    base: str
    clock: ManualClock

    @property
    def device_topic(self) -> str:
        return f"{self.base}-ha/device/{self.base}_cam/config"

    def command(self, body: dict) -> dict:
        mark = self.recorder.mark()
        transaction = uuid.uuid4().hex
        payload = json.dumps({**body, "transaction": transaction}).encode()
        self.recorder.publish(f"{self.base}/cam/set", payload)
        return json.loads(self.recorder.wait_for(f"{self.base}/cam/response", after=mark).payload)

    def configs(self) -> list[bytes]:
        return [m.payload for m in self.recorder.messages if m.topic == self.device_topic]


def start(broker, tmp_path: Path, *, base: str | None = None, world: FakeWorld | None = None):
    base = base or f"t{uuid.uuid4().hex[:8]}"
    config = parse_config(config_text(broker.port, base, tmp_path))
    world = world or FakeWorld()
    clock = ManualClock(start=500.0)
    recorder = Recorder(broker.port)
    service = Service(config, camera_factory=world.factory, clock=clock)
    service.start()
    return Running(service, world, recorder, base, clock)


@pytest.fixture
def running(broker, tmp_path: Path) -> Iterator[Running]:
    stack = start(broker, tmp_path)
    try:
        stack.recorder.wait_for(f"{stack.base}/cam/availability", lambda m: m.payload == b"online")
        yield stack
    finally:
        stack.service.stop()
        stack.recorder.close()


def test_a_change_waits_for_the_debounce(running: Running) -> None:
    first = running.recorder.wait_for(running.device_topic)
    assert "last_photo_time" not in json.loads(first.payload)["components"]  # no photo yet
    assert running.command({"action": "shoot"})["status"] == "ok"
    # The camera now has a last photo time: a new config is due, but not before 5 s.
    running.recorder.wait_for(
        f"{running.base}/cam/state", lambda m: json.loads(m.payload)["last_photo_time"]
    )
    running.clock.advance(DEFAULT_DEBOUNCE - 0.1)
    running.service.wake()
    with pytest.raises(TimeoutError):
        running.recorder.wait_for(
            running.device_topic, lambda m: m.payload != first.payload, timeout=QUIET
        )
    running.clock.advance(0.1)
    running.service.wake()
    second = running.recorder.wait_for(running.device_topic, lambda m: m.payload != first.payload)
    assert "last_photo_time" in json.loads(second.payload)["components"]
    assert len(set(running.configs())) == 2


def test_the_last_photo_survives_a_restart(broker, tmp_path: Path) -> None:
    first = start(broker, tmp_path)
    try:
        first.recorder.wait_for(f"{first.base}/cam/availability", lambda m: m.payload == b"online")
        taken = first.command({"action": "shoot"})["result"]["files"][0]
    finally:
        first.service.stop()
        first.recorder.close()
    second = start(broker, tmp_path, base=first.base, world=FakeWorld(present=False))
    try:
        mark = second.recorder.mark()
        second.service.wake()
        state = second.recorder.wait_for(
            f"{first.base}/cam/state",
            lambda m: json.loads(m.payload)["last_photo"] is not None,
            after=mark,
        )
        body = json.loads(state.payload)
        assert body["last_photo"] == taken["path"]
        assert body["last_photo_time"].startswith("2024-05-01T12:00:00")
    finally:
        second.service.stop()
        second.recorder.close()


def test_a_removed_component_is_sent_as_a_placeholder_then_left_out(broker, tmp_path: Path) -> None:
    first = start(broker, tmp_path)
    try:
        first.recorder.wait_for(first.device_topic, lambda m: b'"power_off"' in m.payload)
    finally:
        first.service.stop()
        first.recorder.close()
    # The same camera without allow.power_off: its Power off button must go.
    text = config_text(broker.port, first.base, tmp_path).replace("power_off: true", "erase: false")
    clock = ManualClock(start=500.0)
    recorder = Recorder(broker.port)
    service = Service(parse_config(text), camera_factory=FakeWorld().factory, clock=clock)
    mark = recorder.mark()
    service.start()
    try:
        recorder.wait_for(
            first.device_topic, lambda m: b'"power_off":{"p":"button"}' in m.payload, after=mark
        )
        after_removing = recorder.mark()
        with pytest.raises(TimeoutError):  # not within the debounce
            recorder.wait_for(first.device_topic, after=after_removing, timeout=QUIET)
        clock.advance(DEFAULT_DEBOUNCE)
        service.wake()
        final = recorder.wait_for(first.device_topic, after=after_removing)
        assert "power_off" not in json.loads(final.payload)["components"]
    finally:
        service.stop()
        recorder.close()


def test_bridge_info_log_level_and_restart(running: Running) -> None:
    base = running.base
    info = running.recorder.wait_for(
        f"{base}/bridge/info",
        lambda m: json.loads(m.payload)["cameras"]["cam"]["state"] == "online",
    )
    body = json.loads(info.payload)
    assert body["version"] and body["discovery_mode"] == "device"
    assert body["cameras"]["cam"]["model"] == "FAKE-1"
    bridge = running.recorder.wait_for(f"{base}-ha/device/{base}_bridge/config")
    components = json.loads(bridge.payload)["components"]
    assert components["log_level"]["platform"] == "select"
    assert components["restart"]["device_class"] == "restart"
    assert components["version"]["state_topic"] == f"{base}/bridge/info"

    root = logging.getLogger()
    level = root.level
    try:
        mark = running.recorder.mark()
        running.recorder.publish(f"{base}/bridge/request/log_level", b"DEBUG")
        running.recorder.wait_for(
            f"{base}/bridge/info",
            lambda m: json.loads(m.payload)["log_level"] == "DEBUG",
            after=mark,
        )
        assert root.level == logging.DEBUG
        reply = running.recorder.wait_for(f"{base}/bridge/response/log_level", after=mark)
        assert json.loads(reply.payload)["status"] == "ok"
        running.recorder.publish(f"{base}/bridge/request/log_level", b"LOUD")
        reply = running.recorder.wait_for(
            f"{base}/bridge/response/log_level",
            lambda m: json.loads(m.payload)["status"] == "error",
            after=mark,
        )
        assert "LOUD" in json.loads(reply.payload)["error"]
    finally:
        root.setLevel(level)

    # A retained restart request must never restart anything (it would on every start).
    running.recorder.publish(f"{base}/bridge/request/restart", b"", retain=True)
    running.recorder.publish(f"{base}/bridge/request/restart", b"", retain=True)
    running.recorder.publish(f"{base}/bridge/request/restart", b"")
    running.recorder.wait_for(f"{base}/bridge/response/restart")
    assert running.service.restart_requested
    running.recorder.publish(f"{base}/bridge/request/restart", b"", retain=True)  # clean up
