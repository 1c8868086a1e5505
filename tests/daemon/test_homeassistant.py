"""Home Assistant through a real mosquitto with both simulators: each camera is announced
once with what it really offers, re-sent unchanged after a reconnect and Home Assistant's
birth, only with sensors that have values, and the same entities in entity mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from camera2mqtt.config import load_config
from camera2mqtt.homeassistant.announcer import DEFAULT_DEBOUNCE
from camera2mqtt.service import Service
from tests.clocks import ManualClock
from tests.daemon.conftest import Stack
from tests.daemon.mqtt_probe import Message
from tests.daemon.test_discovery import REQUIRED, TOPIC_KEYS

TIMEOUT = 45.0
WIFI_MODEL = "E-M1MarkIII"


def start_service(stack: Stack, clock: ManualClock, *, mode: str = "device") -> Service:
    text = stack.config_path.read_text()
    if mode != "device":
        text = text.replace("  discovery_prefix:", f"  discovery_mode: {mode}\n  discovery_prefix:")
        stack.config_path.write_text(text)
    service = Service(load_config(stack.config_path), clock=clock)
    stack.service = service
    service.start()
    return service


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def running(stack_parts: Stack, clock: ManualClock) -> Iterator[Stack]:
    service = start_service(stack_parts, clock)
    try:
        stack_parts.wait_online()
        yield stack_parts
    finally:
        service.stop()


def discovery(stack: Stack, *, since: int = 0) -> list[Message]:
    return [
        m
        for m in stack.probe.messages()[since:]
        if m.topic.startswith(f"{stack.prefix}/") and m.topic.endswith("/config")
    ]


def device_topic(stack: Stack, camera: str) -> str:
    return f"{stack.prefix}/device/{stack.base}_{camera}/config"


def wait_for_device(stack: Stack, camera: str, *, since: int = 0) -> dict[str, Any]:
    message = stack.probe.wait_for(
        lambda m: m.topic == device_topic(stack, camera) and bool(m.payload),
        timeout=TIMEOUT,
        since=since,
        what=f"discovery of {camera}",
    )
    return message.json()


def assert_debounced(stack: Stack, clock: ManualClock) -> None:
    """No topic ever carried two different configs less than the debounce apart."""
    last: dict[str, Message] = {}
    for message in discovery(stack):
        before = last.get(message.topic)
        if before is not None and before.payload != message.payload:
            gap = clock.at(message.received) - clock.at(before.received)
            assert gap >= DEFAULT_DEBOUNCE, (message.topic, gap)
        last[message.topic] = message


def test_start_reconnect_and_birth_announce_each_camera_once(
    running: Stack, clock: ManualClock
) -> None:
    stack = running
    wifi = wait_for_device(stack, "wifi")
    serial = wait_for_device(stack, "serial")
    bridge = wait_for_device(stack, "bridge")
    # The first config already has the real model and everything it can do.
    assert wifi["device"]["model"] == WIFI_MODEL
    assert "live_view" in wifi["components"]
    assert serial["device"]["model"] != "serial camera"
    assert bridge["device"]["name"] == "camera2mqtt bridge"

    # Home Assistant's birth: the same configs again, nothing new.
    mark = len(stack.probe.messages())
    stack.probe.publish(f"{stack.prefix}/status", b"online")
    for camera in ("wifi", "serial", "bridge"):
        wait_for_device(stack, camera, since=mark)

    # A broker restart: the daemon reconnects and announces the same again.
    mark = len(stack.probe.messages())
    stack.broker.restart()
    stack.wait_online(since=mark)
    for camera in ("wifi", "serial", "bridge"):
        wait_for_device(stack, camera, since=mark)

    for camera in ("wifi", "serial", "bridge"):
        payloads = {m.payload for m in discovery(stack) if m.topic == device_topic(stack, camera)}
        assert len(payloads) == 1, f"{camera} was announced with {len(payloads)} contents"
    assert_debounced(stack, clock)


def components_of(config: dict[str, Any]) -> dict[str, str]:
    return {key: component["platform"] for key, component in config["components"].items()}


def test_entities_follow_what_each_kind_of_camera_reports(running: Stack) -> None:
    stack = running
    wifi = components_of(wait_for_device(stack, "wifi"))
    serial = components_of(wait_for_device(stack, "serial"))
    for key, platform in {
        "free_space": "sensor",
        "photos_on_card": "sensor",
        "card_state": "sensor",
        "frames_left": "sensor",  # carried by the live-view frames (the simulator sends it)
        "last_photo_time": "sensor",
        "snapshot": "button",
        "sync": "button",
        "live_view": "camera",
        "photo_taken": "event",
        "downloaded": "event",
    }.items():
        assert wifi.get(key) == platform, (key, wifi)
    assert "battery" not in wifi  # the OI.Share protocol never reports it
    for key in ("battery", "frames_left", "last_photo_time", "shoot", "photo_taken"):
        assert key in serial, (key, serial)
    assert not {"free_space", "card_state"} & set(serial)

    state = stack.probe.wait_for(
        lambda m: (
            m.topic == stack.topic("wifi", "state")
            and m.json().get("free_bytes") is not None
            and m.json().get("photos_on_card") is not None
        ),
        timeout=TIMEOUT,
        what="wifi state with card readings",
    ).json()
    assert state["card_state"] == "ok"
    assert state["frames_left"] == 999
    assert state["last_photo_time"]


def test_live_view_has_a_retained_picture_from_the_connect(running: Stack) -> None:
    stack = running
    snapshot = stack.probe.wait_for(
        lambda m: m.topic == stack.topic("wifi", "snapshot"), timeout=TIMEOUT, what="snapshot"
    )
    assert snapshot.payload[:2] == b"\xff\xd8"
    assert _retained_on_broker(stack, snapshot.topic)


def _retained_on_broker(stack: Stack, topic: str) -> bool:
    from tests.daemon.mqtt_probe import MqttProbe

    with MqttProbe("127.0.0.1", stack.broker.port, (topic,)) as late:
        message = late.wait_for(lambda m: m.topic == topic, timeout=TIMEOUT, what="retained")
        return message.retain


def test_a_photo_taken_on_the_wifi_camera_is_noticed(running: Stack) -> None:
    stack = running
    stack.probe.wait_for(
        lambda m: m.topic == stack.topic("wifi", "state") and m.json().get("last_photo"),
        timeout=TIMEOUT,
        what="wifi last photo",
    )
    mark = len(stack.probe.messages())
    taken = stack.wifi.state.shoot()  # the shutter button on the camera itself
    event = stack.probe.wait_for(
        lambda m: m.topic == stack.topic("wifi", "event") and m.json()["event"] == "photo_taken",
        timeout=TIMEOUT,
        since=mark,
        what="photo_taken from the camera",
    ).json()
    assert event["source"] == "camera"
    assert event["files"][0]["path"] == taken.path
    stack.probe.wait_for(
        lambda m: m.topic == stack.topic("wifi", "state") and m.json()["last_photo"] == taken.path,
        timeout=TIMEOUT,
        since=mark,
        what="state with the new photo",
    )
    stack.probe.wait_for(
        lambda m: m.topic == stack.topic("wifi", "last_photo"),
        timeout=TIMEOUT,
        since=mark,
        what="thumbnail of the new photo",
    )


def test_entity_mode_publishes_one_valid_config_per_entity(
    stack_parts: Stack, clock: ManualClock
) -> None:
    service = start_service(stack_parts, clock, mode="entity")
    stack = stack_parts
    try:
        stack.wait_online()
        stack.probe.wait_for(
            lambda m: m.topic == f"{stack.prefix}/camera/{stack.base}_wifi_live_view/config",
            timeout=TIMEOUT,
            what="the wifi live view entity",
        )
        stack.probe.wait_for(
            lambda m: m.topic == f"{stack.prefix}/sensor/{stack.base}_serial_battery/config",
            timeout=TIMEOUT,
            what="the serial battery entity",
        )
        configs = {m.topic: m.json() for m in discovery(stack) if m.payload}
    finally:
        service.stop()
    assert not any("/device/" in topic for topic in configs)
    unique_ids = set()
    for topic, config in configs.items():
        _, platform, node, leaf = topic.split("/")
        assert leaf == "config"
        assert platform in REQUIRED, topic
        assert "platform" not in config and "p" not in config and "components" not in config
        assert config["unique_id"] == node
        unique_ids.add(config["unique_id"])
        assert config["device"]["identifiers"] and config["device"]["name"]
        assert config["origin"]["name"] == "camera2mqtt"
        for required in REQUIRED[platform]:
            keys = required if isinstance(required, tuple) else (required,)
            assert sum(key in config for key in keys) == 1, (topic, required)
        for key in TOPIC_KEYS:
            if key in config:
                assert not config[key].startswith(f"{stack.prefix}/"), (topic, key)
    assert len(unique_ids) == len(configs)


def test_switching_to_entity_mode_clears_the_device_configs(
    stack_parts: Stack, clock: ManualClock
) -> None:
    stack = stack_parts
    service = start_service(stack, clock)
    try:
        stack.wait_online()
        wait_for_device(stack, "wifi")
    finally:
        service.stop()
    mark = len(stack.probe.messages())
    service = start_service(stack, clock, mode="entity")
    try:
        stack.probe.wait_for(
            lambda m: m.topic == device_topic(stack, "wifi") and m.payload == b"",
            timeout=TIMEOUT,
            since=mark,
            what="the wifi device config cleared",
        )
        stack.probe.wait_for(
            lambda m: m.topic == f"{stack.prefix}/button/{stack.base}_wifi_shoot/config",
            timeout=TIMEOUT,
            since=mark,
            what="the shoot button as an entity config",
        )
    finally:
        service.stop()


def test_the_restart_button_restarts_the_same_process(stack_parts: Stack) -> None:
    from tests.daemon.daemon_process import DaemonProcess

    stack = stack_parts
    daemon = DaemonProcess(stack.config_path, stack.root / "daemon.log").start()
    try:
        stack.wait_online()
        mark = len(stack.probe.messages())
        stack.probe.publish(f"{stack.base}/bridge/request/restart", b"PRESS")
        bridge_state = f"{stack.base}/bridge/state"
        stack.probe.wait_for(
            lambda m: m.topic == bridge_state and m.text() == "offline",
            timeout=TIMEOUT,
            since=mark,
            what="offline while restarting",
        )
        stack.probe.wait_for(
            lambda m: m.topic == bridge_state and m.text() == "online",
            timeout=TIMEOUT,
            since=mark,
            what="online again after the restart",
        )
        assert daemon.running(), daemon.log()[-2000:]
    finally:
        code = daemon.stop()
    assert code == 0, daemon.log()[-2000:]
    assert "Restarting camera2mqtt" in daemon.log()
    assert "Traceback" not in daemon.log()
