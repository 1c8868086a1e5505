"""Timelapses driven over MQTT against the Wi-Fi simulator: start, pause, resume, set, stop,
the retained state topic, and the Home Assistant entities (including the switch's payloads)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.daemon.conftest import Stack, serving
from tests.daemon.mqtt_probe import MqttProbe

TIMEOUT = 45.0
NAME = "lapse"
ISO = "400"


@pytest.fixture
def lapse_stack(stack_parts: Stack) -> Iterator[Stack]:
    """The daemon with a manual timelapse (2 s, fetched) on the Wi-Fi camera."""
    from camera2mqtt.config import load_config
    from camera2mqtt.service import Service

    data = yaml.safe_load(stack_parts.config_path.read_text())
    data["cameras"]["wifi"]["timelapses"] = {
        NAME: {
            "interval": 2,
            "autostart": False,
            "fetch": True,
            "properties": {"isospeedvalue": ISO},
        }
    }
    stack_parts.config_path.write_text(yaml.safe_dump(data))
    with serving(stack_parts, Service(load_config(stack_parts.config_path))) as stack:
        try:
            yield stack
        finally:
            stack.service.stop()  # a test may have replaced it (restart)


def state_where(stack: Stack, predicate, since: int, what: str) -> dict[str, Any]:
    topic = stack.topic("wifi", f"timelapse/{NAME}")
    return stack.probe.wait_for(
        lambda m: m.topic == topic and predicate(m.json()), timeout=TIMEOUT, since=since, what=what
    ).json()


def command(stack: Stack, action: str, **params: Any) -> dict[str, Any]:
    reply = stack.probe.request(
        stack.base, "wifi", {"action": action, "name": NAME, **params}, timeout=TIMEOUT
    )
    assert reply["status"] == "ok", reply
    assert reply["action"] == action
    return reply["result"]


def test_start_pause_resume_set_stop_over_mqtt(lapse_stack: Stack) -> None:
    stack = lapse_stack
    topic = stack.topic("wifi", f"timelapse/{NAME}")
    assert stack.probe.wait_topic(topic, timeout=TIMEOUT).json()["state"] == "stopped"
    with MqttProbe("127.0.0.1", stack.broker.port, (topic,)) as late:
        retained = late.wait_topic(topic, timeout=TIMEOUT)
        assert retained.retain and retained.json()["state"] == "stopped"

    since = stack.probe.mark()
    assert command(stack, "timelapse_start")["state"] == "running"
    running = state_where(stack, lambda s: s["shots"] >= 2, since, "two timelapse shots")
    assert stack.wifi.state.properties["isospeedvalue"] == ISO  # applied at the session start
    assert running["state"] == "running" and running["next_shot"] is not None
    folder = Path(running["folder"])
    assert folder.parent == stack.root / "photos" / "wifi" / "timelapse" / NAME

    since = stack.probe.mark()
    paused = command(stack, "timelapse_pause")
    assert paused["state"] == "paused"
    state_where(stack, lambda s: s["state"] == "paused", since, "paused state")

    since = stack.probe.mark()
    assert command(stack, "timelapse_resume")["state"] == "running"
    resumed = state_where(
        stack, lambda s: s["shots"] > paused["shots"], since, "a shot after resuming"
    )
    assert resumed["missed"] == 0  # the slots while paused are not missed

    assert command(stack, "timelapse_set", interval=3, count=1000)["interval"] == 3

    since = stack.probe.mark()
    stopped = command(stack, "timelapse_stop")
    assert stopped["state"] == "stopped"
    final = state_where(stack, lambda s: s["state"] == "stopped", since, "stopped state")
    frames = sorted(folder.glob("*.jpg"))
    assert len(frames) == final["shots"] >= 3
    assert [f.name for f in frames][:2] == ["00001.jpg", "00002.jpg"]
    finished = stack.probe.wait_for(
        lambda m: (
            m.topic == stack.topic("wifi", "event") and m.json()["event"] == "timelapse_finished"
        ),
        timeout=TIMEOUT,
        since=since,
        what="timelapse_finished event",
    ).json()
    assert finished["shots"] == final["shots"] and finished["reason"] == "stopped"

    # A sync of new photos leaves the fetched frames alone (they are in the state file).
    synced = command_without_name(stack, {"action": "download", "which": "new"})
    assert len(synced["files"]) == len(stack.wifi.state.files) - final["shots"]
    assert not any(entry["local_path"].startswith(str(folder)) for entry in synced["files"])


def command_without_name(stack: Stack, payload: dict[str, Any]) -> dict[str, Any]:
    reply = stack.probe.request(stack.base, "wifi", payload, timeout=TIMEOUT)
    assert reply["status"] == "ok", reply
    return reply["result"]


def test_bad_timelapse_commands_get_error_replies(lapse_stack: Stack) -> None:
    stack = lapse_stack
    for payload, fragment in [
        ({"action": "timelapse_pause", "name": NAME}, "not running"),
        ({"action": "timelapse_start", "name": "nope"}, "no timelapse 'nope'"),
        ({"action": "timelapse_set", "name": NAME, "interval": "soon"}, "must be a number"),
        ({"action": "timelapse_set", "name": NAME}, "interval"),
        ({"action": "timelapse_start"}, "needs 'name'"),
    ]:
        reply = stack.probe.request(stack.base, "wifi", payload, timeout=TIMEOUT)
        assert reply["status"] == "error", reply
        assert fragment in reply["error"], reply
    reply = stack.probe.request(
        stack.base, "serial", {"action": "timelapse_start", "name": NAME}, timeout=TIMEOUT
    )
    assert reply["status"] == "error" and "no timelapses" in reply["error"]


def test_home_assistant_entities_follow_the_timelapse(lapse_stack: Stack) -> None:
    stack = lapse_stack
    discovery = stack.probe.wait_for(
        lambda m: (
            m.topic.startswith(f"{stack.prefix}/device/")
            and m.topic.endswith("_wifi/config")
            and m.payload
        ),
        timeout=TIMEOUT,
        what="wifi discovery",
    ).json()
    components = discovery["components"]
    switch = components[f"timelapse_{NAME}"]
    assert switch["platform"] == "switch"
    assert switch["state_topic"] == stack.topic("wifi", f"timelapse/{NAME}")
    number = components[f"timelapse_{NAME}_interval"]
    assert number["platform"] == "number" and number["unit_of_measurement"] == "s"
    assert {components[f"timelapse_{NAME}_{key}"]["platform"] for key in ("shots", "missed")} == {
        "sensor"
    }
    assert components[f"timelapse_{NAME}_next_shot"]["device_class"] == "timestamp"

    # Home Assistant turns the switch on with payload_on, and sets the number through the
    # command template (rendered here as Home Assistant would, value 7).
    since = stack.probe.mark()
    stack.probe.publish(switch["command_topic"], switch["payload_on"])
    state_where(stack, lambda s: s["state"] == "running", since, "switch on")
    rendered = number["command_template"].replace("{{ value }}", "7")
    since = stack.probe.mark()
    stack.probe.publish(number["command_topic"], rendered)
    state_where(stack, lambda s: s["interval"] == 7, since, "interval 7 s")
    since = stack.probe.mark()
    stack.probe.publish(switch["command_topic"], switch["payload_off"])
    state_where(stack, lambda s: s["state"] == "stopped", since, "switch off")


def test_a_paused_session_and_its_counters_survive_a_restart(lapse_stack: Stack) -> None:
    from camera2mqtt.config import load_config
    from camera2mqtt.service import Service

    stack = lapse_stack
    since = stack.probe.mark()
    command(stack, "timelapse_start")
    state_where(stack, lambda s: s["shots"] >= 2, since, "two timelapse shots")
    paused = command(stack, "timelapse_pause")
    stack.service.stop()

    since = stack.probe.mark()
    service = Service(load_config(stack.config_path))
    stack.service = service  # the fixture stops this one
    service.start()
    stack.wait_online(since=since)
    again = state_where(stack, lambda s: True, since, "timelapse state after the restart")
    assert again["state"] == "paused"
    assert (again["session"], again["shots"], again["folder"]) == (
        paused["session"],
        paused["shots"],
        paused["folder"],
    )
    since = stack.probe.mark()
    command(stack, "timelapse_resume")
    more = state_where(stack, lambda s: s["shots"] > paused["shots"], since, "a shot after resume")
    assert more["session"] == paused["session"]
    frames = sorted(Path(more["folder"]).glob("*.jpg"))
    assert len(frames) >= paused["shots"] + 1
