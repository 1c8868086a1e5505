"""The bridge itself as a Home Assistant device, as zigbee2mqtt has one.

``<base>/bridge/info`` (retained JSON) says which version runs, its log level, the discovery
mode and each camera with its model and state. Home Assistant shows the version, a restart
button and a log level select; the button and the select publish to
``<base>/bridge/request/<name>``, which the service answers on ``<base>/bridge/response/<name>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from camera2mqtt import __version__
from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.mqtt.discovery import object_id, origin
from camera2mqtt.mqtt.topics import Topics

__all__ = [
    "BRIDGE_OWNER",
    "LOG_LEVELS",
    "BridgeRequest",
    "BridgeRequestError",
    "CameraSummary",
    "bridge_info",
    "bridge_object_id",
    "info_topic",
    "parse_bridge_request",
    "render_bridge_device",
    "request_filter",
    "response_topic",
]

BRIDGE_OWNER = "bridge"  # no camera can be called so (topics.check_topic_level)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
RESTART = "restart"
LOG_LEVEL = "log_level"
_REQUESTS = (RESTART, LOG_LEVEL)


@dataclass(frozen=True, slots=True)
class CameraSummary:
    """One camera as ``bridge/info`` lists it."""

    kind: str
    model: str | None
    state: str


@dataclass(frozen=True, slots=True)
class BridgeRequest:
    """A parsed ``<base>/bridge/request/<name>`` message."""

    name: str
    value: str | None = None


class BridgeRequestError(Camera2MqttError):
    """A bridge request that cannot be carried out; the message says why."""


def info_topic(topics: Topics) -> str:
    return f"{topics.base}/bridge/info"


def request_filter(topics: Topics) -> str:
    return f"{topics.base}/bridge/request/+"


def response_topic(topics: Topics, name: str) -> str:
    return f"{topics.base}/bridge/response/{name}"


def bridge_object_id(topics: Topics) -> str:
    return object_id(topics, BRIDGE_OWNER)


def bridge_info(
    *, log_level: str, discovery_mode: str, cameras: Mapping[str, CameraSummary]
) -> bytes:
    info = {
        "version": __version__,
        "log_level": log_level,
        "discovery_mode": discovery_mode,
        "cameras": {
            name: {"type": camera.kind, "model": camera.model, "state": camera.state}
            for name, camera in cameras.items()
        },
    }
    return json.dumps(info, separators=(",", ":"), sort_keys=True).encode()


def parse_bridge_request(topics: Topics, topic: str, payload: bytes) -> BridgeRequest | None:
    """The request on ``topic``, None when the topic is not a bridge request; raises
    :class:`BridgeRequestError` for a request that is not understood."""
    prefix = f"{topics.base}/bridge/request/"
    if not topic.startswith(prefix):
        return None
    name = topic[len(prefix) :]
    if name not in _REQUESTS:
        raise BridgeRequestError(f"Unknown bridge request {name!r}; known: {', '.join(_REQUESTS)}.")
    text = payload.decode("utf-8", errors="replace").strip()
    if name == LOG_LEVEL:
        value = _request_value(text).upper()
        if value not in LOG_LEVELS:
            raise BridgeRequestError(f"Log level {value!r} is not one of {', '.join(LOG_LEVELS)}.")
        return BridgeRequest(name, value)
    return BridgeRequest(name)


def _request_value(text: str) -> str:
    """A plain value, or the ``value`` of a JSON object (as zigbee2mqtt accepts both)."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict):
        return str(data.get("value", ""))
    return str(data)


def render_bridge_device(topics: Topics) -> dict[str, Any]:
    """The device discovery config of the bridge (same shape as a camera's)."""
    ident = bridge_object_id(topics)
    info = info_topic(topics)
    availability = [{"topic": topics.bridge_state}]
    base = {"availability": availability}
    components = {
        "version": {
            "platform": "sensor",
            "name": "Version",
            "state_topic": info,
            "value_template": "{{ value_json.get('version', '') }}",
            "entity_category": "diagnostic",
            "icon": "mdi:information-outline",
        },
        "restart": {
            "platform": "button",
            "name": "Restart",
            "command_topic": f"{topics.base}/bridge/request/{RESTART}",
            "device_class": "restart",
            "entity_category": "config",
        },
        "log_level": {
            "platform": "select",
            "name": "Log level",
            "command_topic": f"{topics.base}/bridge/request/{LOG_LEVEL}",
            "state_topic": info,
            "value_template": "{{ value_json.get('log_level', '') }}",
            "options": list(LOG_LEVELS),
            "entity_category": "config",
            "icon": "mdi:format-list-bulleted",
        },
    }
    for key, component in components.items():
        component.update(
            unique_id=f"{ident}_{key}",
            default_entity_id=f"{component['platform']}.{ident}_{key}".lower(),
            **base,
        )
    return {
        "device": {
            "identifiers": [ident],
            "name": "camera2mqtt bridge",
            "manufacturer": "camera2mqtt",
            "model": "camera2mqtt bridge",
            "sw_version": __version__,
        },
        "origin": origin(),
        "components": components,
        "qos": 1,
    }
