"""The timelapse commands as parsed from MQTT payloads, and the discovery entities rendered."""

from __future__ import annotations

import json

import pytest

from camera2mqtt.mqtt.commands import Action, CommandError, parse_command
from camera2mqtt.mqtt.discovery import CameraDescription, render_device
from camera2mqtt.mqtt.topics import Topics


def parse(body: dict) -> object:
    return parse_command(json.dumps(body).encode())


def test_timelapse_set_takes_numbers_also_as_text() -> None:
    command = parse({"action": "timelapse_set", "name": "day", "interval": "30.0", "count": 12})
    assert command.action is Action.TIMELAPSE_SET
    assert (command.name, command.interval, command.count) == ("day", 30.0, 12)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"action": "timelapse_set", "name": "d", "count": 2.5}, "'count' must be a whole number"),
        ({"action": "timelapse_set", "name": "d", "interval": True}, "'interval' must be a number"),
        ({"action": "timelapse_set", "name": "d", "interval": "nan"}, "must be a number"),
        ({"action": "timelapse_stop", "name": "d", "count": 3}, "does not take count"),
        ({"action": "timelapse_pause"}, "needs 'name'"),
    ],
)
def test_bad_timelapse_commands_say_what_to_fix(body: dict, fragment: str) -> None:
    with pytest.raises(CommandError, match=fragment) as caught:
        parse({**body, "transaction": 7})
    assert caught.value.transaction == 7


def test_each_timelapse_gets_a_switch_a_number_and_three_sensors() -> None:
    topics = Topics("c2m", "ha")
    camera = CameraDescription(name="garden", kind="wifi", timelapses=("day", "night"))
    components = render_device(camera, topics)["components"]
    day = {key: value for key, value in components.items() if key.startswith("timelapse_day")}
    assert {key: value["platform"] for key, value in day.items()} == {
        "timelapse_day": "switch",
        "timelapse_day_interval": "number",
        "timelapse_day_shots": "sensor",
        "timelapse_day_missed": "sensor",
        "timelapse_day_next_shot": "sensor",
    }
    assert "timelapse_night_next_shot" in components
    switch = day["timelapse_day"]
    assert switch["state_topic"] == "c2m/garden/timelapse/day"
    assert switch["command_topic"] == "c2m/garden/set"
    assert json.loads(switch["payload_on"]) == {"action": "timelapse_start", "name": "day"}
    assert json.loads(switch["payload_off"]) == {"action": "timelapse_stop", "name": "day"}
    rendered = day["timelapse_day_interval"]["command_template"].replace("{{ value }}", "45")
    assert json.loads(rendered) == {"action": "timelapse_set", "name": "day", "interval": 45}
    assert day["timelapse_day_next_shot"]["device_class"] == "timestamp"
    # Timelapse entities stay available while the camera is away (they show the daemon's plan).
    assert all(len(entity["availability"]) == 1 for entity in day.values())
