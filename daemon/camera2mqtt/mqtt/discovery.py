"""Home Assistant MQTT discovery: one device per camera, its entities declared as data.

We use device-based discovery (one retained ``<prefix>/device/<id>/config`` message per camera
with ``dev``, ``o`` and ``cmps``), which Home Assistant recommends for devices with several
entities. :data:`ENTITIES` is the table of entities; :func:`render_device` is the one function
that turns it into the discovery payload for a camera. An empty retained payload on the same
topic removes the device (:func:`discovery_topic`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from camera2mqtt import __version__
from camera2mqtt.cameras.base import CARD_STATES, CameraInfo, Capability, Property
from camera2mqtt.mqtt.topics import OFFLINE, ONLINE, CameraTopics, Topics

__all__ = [
    "DISCOVERY_MODES",
    "ENTITIES",
    "ORIGIN_NAME",
    "READINGS",
    "SELECT_PROPERTIES",
    "SUPPORT_URL",
    "CameraDescription",
    "EntitySpec",
    "discovery_configs",
    "discovery_payload",
    "discovery_topic",
    "entity_topic",
    "origin",
    "render_device",
    "render_entities",
]

ORIGIN_NAME = "camera2mqtt"
SUPPORT_URL = "https://github.com/camera2mqtt/camera2mqtt"

# Camera properties offered as a select entity when the camera lists allowed values for them,
# with the entity's name. Wi-Fi cameras call the resolution "imagesize"; serial ones "resolution".
SELECT_PROPERTIES: Mapping[str, str] = {
    "takemode": "Take mode",
    "imagesize": "Resolution",
    "resolution": "Resolution",
}

_UNSAFE_ID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")

DISCOVERY_MODES = ("device", "entity")
"""``device``: one config per camera (Home Assistant 2024.11+); ``entity``: one per entity."""

READINGS = (
    "battery",
    "frames_left",
    "free_bytes",
    "photos_on_card",
    "card_state",
    "last_photo_time",
)
"""State keys that get a sensor once the camera has given them a value."""


@dataclass(frozen=True, slots=True)
class CameraDescription:
    """What discovery needs to know of one camera.

    ``info`` and ``properties`` stay empty until the camera has been reached once; the
    entities that depend on capabilities then appear with the next discovery message.
    """

    name: str
    kind: str
    info: CameraInfo | None = None
    properties: tuple[Property, ...] = ()
    allow_power_off: bool = False
    can_stream: bool = False
    """The camera has stream targets configured (stream_start can relay its live view)."""
    readings: frozenset[str] = frozenset()
    """Which of :data:`READINGS` the camera has reported a value for."""
    timelapses: tuple[str, ...] = ()  # names of the configured timelapses

    def can(self, capability: Capability) -> bool:
        return self.info is not None and capability in self.info.capabilities

    def reports(self, reading: str) -> bool:
        return reading in self.readings

    def learned(self) -> dict[str, Any] | None:
        """What was learned from the camera, as JSON data (None before it was reached), so
        that a restarted daemon offers the same entities while the camera is away."""
        if self.info is None:
            return None
        return {
            "model": self.info.model,
            "manufacturer": self.info.manufacturer,
            "firmware": self.info.firmware,
            "serial_number": self.info.serial_number,
            "capabilities": sorted(self.info.capabilities),
            "properties": [
                {"name": prop.name, "allowed": list(prop.allowed), "writable": prop.writable}
                for prop in self.properties
            ],
            "readings": sorted(self.readings),
        }

    def with_learned(self, data: object) -> CameraDescription:
        """This description completed from :meth:`learned` data; unchanged if it is unusable."""
        try:
            assert isinstance(data, dict)
            info = CameraInfo(
                model=str(data["model"]),
                manufacturer=str(data["manufacturer"]),
                firmware=str(data["firmware"]),
                serial_number=str(data["serial_number"]),
                capabilities=frozenset(Capability(c) for c in data["capabilities"]),
            )
            properties = tuple(
                Property(
                    str(item["name"]),
                    "",
                    tuple(str(value) for value in item["allowed"]),
                    bool(item["writable"]),
                )
                for item in data["properties"]
            )
            readings = frozenset(str(r) for r in data.get("readings", ()) if r in READINGS)
        except (AssertionError, KeyError, TypeError, ValueError):
            return self
        return replace(self, info=info, properties=properties, readings=readings)


@dataclass(frozen=True, slots=True)
class _Context:
    camera: CameraDescription
    topics: CameraTopics
    bridge_state: str
    object_id: str


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One entity: component id, platform, name, its own config keys, and when it exists.

    ``config`` receives the camera's topics; ``follows_camera`` False keeps the entity
    available while the camera is away (the connectivity sensor must show "off", not
    "unavailable").
    """

    key: str
    platform: str
    name: str | None
    config: Callable[[_Context], dict[str, Any]]
    when: Callable[[CameraDescription], bool] = lambda camera: True
    follows_camera: bool = True


def _command(action: str, **params: str) -> str:
    return json.dumps({"action": action, **params}, separators=(",", ":"))


def _state_value(key: str) -> str:
    return f"{{{{ value_json.{key} }}}}"


def _button(action: str) -> Callable[[_Context], dict[str, Any]]:
    return lambda ctx: {"command_topic": ctx.topics.set, "payload_press": _command(action)}


def _present_value(key: str) -> str:
    """A template that renders the state's ``key``, or nothing while it is null or missing
    (never ``None``, which older Home Assistant logs as an invalid state)."""
    return f"{{% set v = value_json.get('{key}') %}}{{{{ '' if v is none else v }}}}"


def _sensor(key: str, **extra: Any) -> Callable[[_Context], dict[str, Any]]:
    return lambda ctx: {
        "state_topic": ctx.topics.state,
        "value_template": _present_value(key),
        **extra,
    }


def _event(event: str, *fields: str) -> Callable[[_Context], dict[str, Any]]:
    """An event entity fed by the camera's event topic; other events render nothing, which
    Home Assistant ignores."""
    attributes = "".join(f", '{name}': value_json.get('{name}')" for name in fields)
    template = (
        f"{{% if value_json.get('event') == '{event}' %}}"
        f"{{{{ {{'event_type': '{event}'{attributes}}} | tojson }}}}{{% endif %}}"
    )
    return lambda ctx: {
        "state_topic": ctx.topics.event,
        "event_types": [event],
        "value_template": template,
    }


def _reading(key: str) -> Callable[[CameraDescription], bool]:
    return lambda camera: camera.reports(key)


ENTITIES: tuple[EntitySpec, ...] = (
    EntitySpec(
        "shoot",
        "button",
        "Shoot",
        _button("shoot"),
        lambda c: c.info is None or c.can(Capability.SHOOT),
    ),
    EntitySpec(
        "snapshot",
        "button",
        "Snapshot",
        _button("snapshot"),
        lambda c: c.can(Capability.SNAPSHOT),
    ),
    EntitySpec(
        "sync",
        "button",
        "Sync now",
        lambda ctx: {
            "command_topic": ctx.topics.set,
            "payload_press": _command("download", which="new"),
        },
        lambda c: c.can(Capability.DOWNLOAD),
    ),
    EntitySpec(
        "last_photo",
        "image",
        "Last photo",
        lambda ctx: {"image_topic": ctx.topics.last_photo, "content_type": "image/jpeg"},
        lambda c: c.info is None or c.can(Capability.THUMBNAIL),
        follows_camera=False,
    ),
    EntitySpec(
        "live_view",
        "camera",
        "Live view",
        lambda ctx: {"topic": ctx.topics.snapshot},
        lambda c: c.can(Capability.SNAPSHOT),
    ),
    EntitySpec(
        "battery",
        "sensor",
        "Battery",
        _sensor(
            "battery",
            device_class="battery",
            unit_of_measurement="%",
            state_class="measurement",
            entity_category="diagnostic",
        ),
        _reading("battery"),
    ),
    EntitySpec(
        "frames_left",
        "sensor",
        "Frames left",
        _sensor("frames_left", state_class="measurement", icon="mdi:camera-burst"),
        _reading("frames_left"),
    ),
    EntitySpec(
        "free_space",
        "sensor",
        "Free space",
        lambda ctx: {
            "state_topic": ctx.topics.state,
            "value_template": (
                "{% set v = value_json.get('free_bytes') %}"
                "{{ '' if v is none else (v / 1000000000) | round(2) }}"
            ),
            "device_class": "data_size",
            "unit_of_measurement": "GB",
            "state_class": "measurement",
            "suggested_display_precision": 2,
        },
        _reading("free_bytes"),
    ),
    EntitySpec(
        "photos_on_card",
        "sensor",
        "Photos on card",
        _sensor("photos_on_card", state_class="measurement", icon="mdi:image-multiple"),
        _reading("photos_on_card"),
    ),
    EntitySpec(
        "card_state",
        "sensor",
        "Card state",
        _sensor(
            "card_state",
            device_class="enum",
            options=list(CARD_STATES),
            icon="mdi:sd",
            entity_category="diagnostic",
        ),
        _reading("card_state"),
    ),
    EntitySpec(
        "last_photo_time",
        "sensor",
        "Last photo time",
        _sensor("last_photo_time", device_class="timestamp"),
        _reading("last_photo_time"),
        follows_camera=False,
    ),
    EntitySpec(
        "photo_taken",
        "event",
        "Photo taken",
        _event("photo_taken", "files", "source"),
        lambda c: c.info is None or c.can(Capability.SHOOT) or c.can(Capability.LIST),
    ),
    EntitySpec(
        "downloaded",
        "event",
        "Downloaded",
        _event("downloaded", "file"),
        lambda c: c.can(Capability.DOWNLOAD),
    ),
    EntitySpec(
        "connectivity",
        "binary_sensor",
        "Connected",
        lambda ctx: {
            "state_topic": ctx.topics.availability,
            "payload_on": ONLINE,
            "payload_off": OFFLINE,
            "device_class": "connectivity",
            "entity_category": "diagnostic",
        },
        follows_camera=False,
    ),
    EntitySpec(
        "set_clock",
        "button",
        "Set clock",
        _button("set_clock"),
        lambda c: c.can(Capability.SET_CLOCK),
    ),
    EntitySpec(
        "power_off",
        "button",
        "Power off",
        _button("power_off"),
        lambda c: c.allow_power_off and c.can(Capability.POWER_OFF),
    ),
    EntitySpec(
        "stream",
        "switch",
        "Stream",
        lambda ctx: {
            "command_topic": ctx.topics.set,
            "payload_on": _command("stream_start"),
            "payload_off": _command("stream_stop"),
            "state_topic": ctx.topics.state,
            "value_template": "{{ 'ON' if value_json.streaming else 'OFF' }}",
            "state_on": "ON",
            "state_off": "OFF",
            "icon": "mdi:video-wireless",
        },
        lambda c: c.can_stream and c.can(Capability.SNAPSHOT),
    ),
    EntitySpec(
        "sync_now",
        "button",
        "Sync now",
        lambda ctx: {
            "command_topic": ctx.topics.set,
            "payload_press": _command("download", which="new"),
            "icon": "mdi:folder-sync",
        },
        lambda c: c.info is None or c.can(Capability.DOWNLOAD),
    ),
    EntitySpec(
        "sync_state",
        "sensor",
        "Photo sync",
        _sensor("sync_state", device_class="enum", options=["idle", "running"], icon="mdi:sync"),
        lambda c: c.info is None or c.can(Capability.DOWNLOAD),
    ),
    EntitySpec(
        "photos_waiting",
        "sensor",
        "Photos waiting",
        _sensor("photos_waiting", state_class="measurement", icon="mdi:image-multiple"),
        lambda c: c.info is None or c.can(Capability.DOWNLOAD),
    ),
    EntitySpec(
        "last_sync",
        "sensor",
        "Last sync",
        _sensor("last_sync", device_class="timestamp"),
        lambda c: c.info is None or c.can(Capability.DOWNLOAD),
    ),
)


def _set_property_template(name: str) -> str:
    """A Home Assistant template rendering a set_property command; ``tojson`` quotes the
    chosen option safely (shutter speeds such as 60" contain a quote)."""
    head = json.dumps({"action": "set_property", "name": name}, separators=(",", ":"))
    return head[:-1] + ',"value":{{ value | tojson }}}'


def _select_entities(camera: CameraDescription) -> Iterable[EntitySpec]:
    for prop in camera.properties:
        label = SELECT_PROPERTIES.get(prop.name)
        if label is None or not prop.writable or not prop.allowed:
            continue
        yield EntitySpec(
            f"select_{prop.name}",
            "select",
            label,
            lambda ctx, prop=prop: {
                "command_topic": ctx.topics.set,
                "command_template": _set_property_template(prop.name),
                "options": list(prop.allowed),
                "state_topic": ctx.topics.state,
                "value_template": f"{{{{ value_json.properties.{prop.name} }}}}",
                "entity_category": "config",
            },
        )


def _timelapse_entities(camera: CameraDescription) -> Iterable[EntitySpec]:
    """Per timelapse: a switch (taking shots), its interval, shots, missed shots, next shot."""
    for name in camera.timelapses:
        label = f"Timelapse {name}"

        def state(ctx: _Context, name: str = name) -> dict[str, Any]:
            return {"state_topic": ctx.topics.timelapse(name)}

        def sensor(
            key: str,
            name: str = name,
            template: Callable[[str], str] = _present_value,
            **extra: Any,
        ) -> Callable[[_Context], dict]:
            return lambda ctx: {**state(ctx, name), "value_template": template(key), **extra}

        yield EntitySpec(
            f"timelapse_{name}",
            "switch",
            label,
            lambda ctx, name=name: {
                **state(ctx, name),
                "command_topic": ctx.topics.set,
                "payload_on": _command("timelapse_start", name=name),
                "payload_off": _command("timelapse_stop", name=name),
                "value_template": "{{ 'ON' if value_json.state == 'running' else 'OFF' }}",
                "state_on": "ON",
                "state_off": "OFF",
                "icon": "mdi:timelapse",
            },
            follows_camera=False,
        )
        yield EntitySpec(
            f"timelapse_{name}_interval",
            "number",
            f"{label} interval",
            lambda ctx, name=name: {
                **state(ctx, name),
                "value_template": _state_value("interval"),
                "command_topic": ctx.topics.set,
                "command_template": _command("timelapse_set", name=name)[:-1]
                + ',"interval":{{ value }}}',
                "min": 1,
                "max": 86400,
                "step": 1,
                "mode": "box",
                "unit_of_measurement": "s",
                "entity_category": "config",
            },
            follows_camera=False,
        )
        yield EntitySpec(
            f"timelapse_{name}_shots",
            "sensor",
            f"{label} shots",
            sensor("shots", state_class="measurement", icon="mdi:camera-burst"),
            follows_camera=False,
        )
        yield EntitySpec(
            f"timelapse_{name}_missed",
            "sensor",
            f"{label} missed shots",
            sensor("missed", state_class="measurement", entity_category="diagnostic"),
            follows_camera=False,
        )
        yield EntitySpec(
            f"timelapse_{name}_next_shot",
            "sensor",
            f"{label} next shot",
            # "None" (unknown) when there is no next shot: an empty value would leave the
            # last time showing after a stop.
            sensor("next_shot", template=_state_value, device_class="timestamp"),
            follows_camera=False,
        )


def object_id(topics: Topics, camera_name: str) -> str:
    """The id used in the discovery topic and unique ids: stable per base topic and camera."""
    return _UNSAFE_ID_CHARS.sub("_", f"{topics.base}_{camera_name}")


def discovery_topic(topics: Topics, camera_name: str) -> str:
    return f"{topics.discovery_prefix}/device/{object_id(topics, camera_name)}/config"


def render_device(camera: CameraDescription, topics: Topics) -> dict[str, Any]:
    """The device discovery payload (as a dict) for one camera."""
    ctx = _Context(
        camera=camera,
        topics=topics.camera(camera.name),
        bridge_state=topics.bridge_state,
        object_id=object_id(topics, camera.name),
    )
    bridge_only = [{"topic": ctx.bridge_state}]
    with_camera = [*bridge_only, {"topic": ctx.topics.availability}]
    components: dict[str, dict[str, Any]] = {}
    for spec in (*ENTITIES, *_select_entities(camera), *_timelapse_entities(camera)):
        if not spec.when(camera):
            continue
        components[spec.key] = {
            "platform": spec.platform,
            "name": spec.name,
            "unique_id": f"{ctx.object_id}_{spec.key}",
            "default_entity_id": f"{spec.platform}.{ctx.object_id}_{spec.key}".lower(),
            "availability": with_camera if spec.follows_camera else bridge_only,
            "availability_mode": "all",
            **spec.config(ctx),
        }
    info = camera.info
    device: dict[str, Any] = {
        "identifiers": [ctx.object_id],
        "name": camera.name,
        "manufacturer": (info.manufacturer if info and info.manufacturer else "Olympus"),
        "model": info.model if info else f"{camera.kind} camera",
    }
    if info and info.firmware:
        device["sw_version"] = info.firmware
    if info and info.serial_number:
        device["serial_number"] = info.serial_number
    return {
        "device": device,
        "origin": origin(),
        "components": components,
        "qos": 1,
    }


def origin() -> dict[str, str]:
    return {"name": ORIGIN_NAME, "sw_version": __version__, "support_url": SUPPORT_URL}


def discovery_payload(camera: CameraDescription, topics: Topics) -> bytes:
    return _json(render_device(camera, topics))


def entity_topic(topics: Topics, platform: str, unique_id: str) -> str:
    return f"{topics.discovery_prefix}/{platform}/{unique_id}/config"


def render_entities(device_config: Mapping[str, Any], topics: Topics) -> dict[str, dict[str, Any]]:
    """The same entities as one config per entity (``<prefix>/<platform>/<id>/config``), for
    Home Assistant before 2024.11 and other controllers that read only those."""
    shared = {k: v for k, v in device_config.items() if k != "components"}
    configs = {}
    for component in device_config["components"].values():
        config = {k: v for k, v in component.items() if k != "platform"}
        configs[entity_topic(topics, component["platform"], component["unique_id"])] = {
            **config,
            **shared,
        }
    return configs


def discovery_configs(
    device_config: Mapping[str, Any], topics: Topics, object_id: str, mode: str
) -> dict[str, bytes]:
    """Every discovery message (topic -> payload) of one device in ``mode``."""
    if mode == "entity":
        return {
            topic: _json(config) for topic, config in render_entities(device_config, topics).items()
        }
    return {f"{topics.discovery_prefix}/device/{object_id}/config": _json(device_config)}


def _json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode("utf-8")
