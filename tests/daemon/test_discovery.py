"""Home Assistant discovery as the broker holds it: complete, valid JSON, unique ids."""

from __future__ import annotations

import json
from typing import Any

from tests.daemon.conftest import Stack
from tests.daemon.mqtt_probe import Message

DISCOVERY_TIMEOUT = 45.0

# Abbreviations of the reference (section 1.4) that the checks below read.
ABBREVIATIONS = {
    "p": "platform",
    "uniq_id": "unique_id",
    "dev": "device",
    "o": "origin",
    "cmps": "components",
    "stat_t": "state_topic",
    "cmd_t": "command_topic",
    "avty_t": "availability_topic",
    "avty": "availability",
    "avty_mode": "availability_mode",
    "img_t": "image_topic",
    "url_t": "url_topic",
    "ops": "options",
    "json_attr_t": "json_attributes_topic",
    "dev_cla": "device_class",
    "cont_type": "content_type",
}
DEVICE_ABBREVIATIONS = {"ids": "identifiers", "cns": "connections", "mf": "manufacturer"}

# Required keys per platform (reference section 1.8); a tuple means "exactly one of".
REQUIRED: dict[str, list[str | tuple[str, ...]]] = {
    "button": ["command_topic"],
    "event": ["state_topic", "event_types"],
    "camera": ["topic"],
    "image": [("image_topic", "url_topic")],
    "sensor": ["state_topic"],
    "binary_sensor": ["state_topic"],
    "select": ["command_topic", "options"],
    "number": ["command_topic"],
    "text": ["command_topic"],
    "switch": [],
    "update": [],
}
TOPIC_KEYS = ("state_topic", "command_topic", "topic", "image_topic", "availability_topic")


def expand(config: dict[str, Any]) -> dict[str, Any]:
    return {ABBREVIATIONS.get(key, key): value for key, value in config.items()}


def entities(prefix: str, message: Message) -> list[tuple[str, dict[str, Any]]]:
    """(platform, config) of every entity announced by one discovery message."""
    parts = message.topic.split("/")
    config = expand(message.json())
    assert isinstance(config, dict)
    if parts[1] == "device":
        assert "device" in config and "origin" in config, message.topic
        assert config["origin"].get("name"), "origin needs a name"
        shared = {k: v for k, v in config.items() if k not in ("components", "device", "origin")}
        found = []
        for component in config["components"].values():
            component = {**shared, **expand(component), "device": config["device"]}
            assert "platform" in component, message.topic
            found.append((component["platform"], component))
        return found
    return [(parts[1], config)]


def discovery_messages(stack: Stack) -> list[Message]:
    latest: dict[str, Message] = {}
    for message in stack.probe.messages():
        if message.topic.startswith(f"{stack.prefix}/") and message.topic.endswith("/config"):
            latest[message.topic] = message
    return [m for m in latest.values() if m.payload]


def wait_for_both_cameras(stack: Stack) -> list[tuple[str, dict[str, Any]]]:
    def complete(_: Message) -> bool:
        announced = json.dumps([m.json() for m in discovery_messages(stack)])
        return all(f"{stack.base}/{camera}/set" in announced for camera in ("wifi", "serial"))

    stack.probe.wait_for(complete, timeout=DISCOVERY_TIMEOUT, what="discovery of both cameras")
    found = []
    for message in discovery_messages(stack):
        found += entities(stack.prefix, message)
    return found


def test_discovery_is_complete_valid_and_unique(stack: Stack) -> None:
    found = wait_for_both_cameras(stack)

    unique_ids = [config.get("unique_id") for _, config in found]
    assert all(unique_ids), "every entity needs a unique_id"
    assert len(unique_ids) == len(set(unique_ids)), f"duplicate unique_id in {unique_ids}"
    for platform, config in found:
        assert platform in REQUIRED, f"unexpected platform {platform}"
        for required in REQUIRED[platform]:
            if isinstance(required, tuple):
                present = [key for key in required if key in config]
                assert len(present) == 1, (platform, config, required)
            else:
                assert required in config, f"{platform} {config['unique_id']} lacks {required}"
        device = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in config["device"].items()}
        assert device.get("identifiers") or device.get("connections"), config["unique_id"]
        assert device.get("name"), config["unique_id"]
        assert not ("availability" in config and "availability_topic" in config)
        for key in TOPIC_KEYS:
            if key in config:
                assert not config[key].startswith(f"{stack.prefix}/"), (key, config[key])
        if platform == "select":
            assert isinstance(config["options"], list) and config["options"]


def test_each_camera_has_a_shoot_button_and_a_last_photo_image(stack: Stack) -> None:
    found = wait_for_both_cameras(stack)
    for camera in ("wifi", "serial"):
        buttons = [
            c
            for p, c in found
            if p == "button" and c.get("command_topic") == f"{stack.base}/{camera}/set"
        ]
        assert any("shoot" in json.dumps(c).lower() for c in buttons), (camera, buttons)
        images = [
            c
            for p, c in found
            if p == "image" and c.get("image_topic") == f"{stack.base}/{camera}/last_photo"
        ]
        assert images, f"no last_photo image entity for {camera}"


def test_entities_are_unavailable_when_the_bridge_is_offline(stack: Stack) -> None:
    for _, config in wait_for_both_cameras(stack):
        entries = config.get("availability") or []
        topics = {entry.get("topic", entry.get("t")) for entry in entries}
        assert f"{stack.base}/bridge/state" in topics, config["unique_id"]
        if len(topics) > 1:
            assert config.get("availability_mode") == "all", config["unique_id"]
