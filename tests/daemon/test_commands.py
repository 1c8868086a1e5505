"""Commands over MQTT reach the simulated cameras and come back as replies, events and images."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.daemon.conftest import Stack
from tests.daemon.mqtt_probe import MqttProbe

REPLY_TIMEOUT = 45.0
PROPERTY = "isospeedvalue"
SNAPSHOT_MAX_BYTES = 200_000  # the config's default snapshot.max_bytes
SNAPSHOT_SIZE = 640  # the config's default snapshot.size (longest side)


def card_files(simulator) -> set[str]:
    """Camera paths of the files on the Wi-Fi simulator's card."""
    return set(simulator.state.files)


def test_shoot_makes_a_file_an_event_a_reply_and_a_thumbnail(stack: Stack) -> None:
    # On connect the daemon publishes the newest photo already on the card; wait for it.
    stack.probe.wait_for(
        lambda m: m.topic == stack.topic("wifi", "state") and m.json().get("last_photo"),
        timeout=REPLY_TIMEOUT,
        what="the newest photo on the card",
    )
    before = card_files(stack.wifi)
    since = stack.probe.mark()

    reply = stack.probe.request(
        stack.base, "wifi", {"action": "shoot", "transaction": "shot-1"}, timeout=REPLY_TIMEOUT
    )

    assert reply["transaction"] == "shot-1"
    assert reply["action"] == "shoot"
    assert reply["status"] == "ok", reply
    new_files = card_files(stack.wifi) - before
    assert len(new_files) == 1
    (new_path,) = new_files
    reported = [entry["path"] for entry in reply["result"]["files"]]
    assert any(new_path.endswith(path.rsplit("/", 1)[-1]) for path in reported), (reply, new_path)

    event = stack.probe.wait_for(
        lambda m: m.topic == stack.topic("wifi", "event") and m.json()["event"] == "photo_taken",
        timeout=REPLY_TIMEOUT,
        since=since,
        what="photo_taken event",
    ).json()
    assert event["files"] and {"path", "size", "timestamp"} <= set(event["files"][0])

    thumbnail = stack.probe.wait_for(
        lambda m: m.topic == stack.topic("wifi", "last_photo") and m.payload[:2] == b"\xff\xd8",
        timeout=REPLY_TIMEOUT,
        since=since,
        what="last_photo JPEG",
    )
    with Image.open(io.BytesIO(thumbnail.payload)) as image:
        image.verify()
        assert image.format == "JPEG"

    # A client that subscribes now gets the photo, the state and availability as retained.
    retained = ("last_photo", "state", "availability")
    with MqttProbe("127.0.0.1", stack.broker.port, (f"{stack.base}/wifi/#",)) as late:
        for name in retained:
            message = late.wait_topic(stack.topic("wifi", name), timeout=REPLY_TIMEOUT)
            assert message.retain, name
        assert late.messages(stack.topic("wifi", "last_photo"))[-1].payload == thumbnail.payload


@pytest.mark.parametrize("wifi_sim", ["e-m10-iv"], indirect=True)
def test_an_e_m10_iv_without_shutter_mode_shoots_too(stack: Stack) -> None:
    before = card_files(stack.wifi)
    reply = stack.probe.request(stack.base, "wifi", {"action": "shoot"}, timeout=REPLY_TIMEOUT)
    assert reply["status"] == "ok", reply
    assert len(card_files(stack.wifi) - before) == 1
    assert any("starttake" in path for path in stack.wifi.requests.paths())


@pytest.mark.parametrize("camera", ["wifi", "serial"])
def test_a_snapshot_is_a_small_jpeg_on_the_snapshot_topic(stack: Stack, camera: str) -> None:
    since = stack.probe.mark()
    reply = stack.probe.request(stack.base, camera, {"action": "snapshot"}, timeout=REPLY_TIMEOUT)
    assert reply["status"] == "ok", reply
    snapshot = stack.probe.wait_topic(stack.topic(camera, "snapshot"), timeout=30, since=since)
    assert 0 < len(snapshot.payload) <= SNAPSHOT_MAX_BYTES
    with Image.open(io.BytesIO(snapshot.payload)) as image:
        assert image.format == "JPEG"
        assert max(image.size) <= SNAPSHOT_SIZE


def test_set_property_changes_the_simulated_camera(stack: Stack) -> None:
    current = stack.probe.request(
        stack.base, "wifi", {"action": "get_property", "name": PROPERTY}, timeout=REPLY_TIMEOUT
    )
    assert current["status"] == "ok", current
    result = current["result"]
    allowed = [value for value in result["allowed"] if value != result["value"]]
    assert allowed, result
    target = allowed[len(allowed) // 2]

    reply = stack.probe.request(
        stack.base,
        "wifi",
        {"action": "set_property", "name": PROPERTY, "value": target},
        timeout=REPLY_TIMEOUT,
    )

    assert reply["status"] == "ok", reply
    assert stack.wifi.state.properties[PROPERTY] == target
    again = stack.probe.request(
        stack.base, "wifi", {"action": "get_property", "name": PROPERTY}, timeout=REPLY_TIMEOUT
    )
    assert again["result"]["value"] == target


def test_set_property_outside_the_allowed_values_is_refused(stack: Stack) -> None:
    before = stack.wifi.state.properties[PROPERTY]
    reply = stack.probe.request(
        stack.base,
        "wifi",
        {"action": "set_property", "name": PROPERTY, "value": "not-a-value"},
        timeout=REPLY_TIMEOUT,
    )
    assert reply["status"] == "error"
    assert reply["error"]
    assert stack.wifi.state.properties[PROPERTY] == before


def test_destructive_commands_are_refused_by_default(stack: Stack) -> None:
    before = card_files(stack.wifi)
    commands = [
        {"action": "power_off"},
        {"action": "raw", "command": "exec_pwoff", "args": {}},
        {"action": "erase", "path": sorted(before)[0] if before else "/DCIM/100OLYMP/X.JPG"},
    ]
    for camera in ("wifi", "serial"):
        for command in commands:
            reply = stack.probe.request(stack.base, camera, command, timeout=REPLY_TIMEOUT)
            assert reply["status"] == "error", (camera, command, reply)
            assert reply["error"]
    assert stack.wifi.state.powered
    assert card_files(stack.wifi) == before
    # Still reachable and answering after the refusals.
    reply = stack.probe.request(
        stack.base, "wifi", {"action": "get_property", "name": PROPERTY}, timeout=REPLY_TIMEOUT
    )
    assert reply["status"] == "ok", reply


def test_a_command_for_an_unknown_camera_gets_an_error_reply(stack: Stack) -> None:
    reply = stack.probe.request(stack.base, "nosuchcamera", {"action": "shoot"}, timeout=30)
    assert reply["status"] == "error"
    assert "nosuchcamera" in reply["error"]


def test_the_serial_camera_shoots_too(stack: Stack) -> None:
    frames_before = len(stack.serial.state.frames)
    reply = stack.probe.request(stack.base, "serial", {"action": "shoot"}, timeout=90)
    assert reply["status"] == "ok", reply
    assert len(stack.serial.state.frames) == frames_before + 1
    assert reply["result"]["files"]
