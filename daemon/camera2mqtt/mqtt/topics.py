"""The MQTT topic layout, computed in one place from the base topic and discovery prefix.

```
<base>/bridge/state             online/offline, retained (last will offline)
<base>/<camera>/availability    online/offline, retained
<base>/<camera>/state           JSON, retained
<base>/<camera>/set             JSON command (never retained)
<base>/<camera>/response        JSON reply carrying the command's transaction
<base>/<camera>/event           JSON events
<base>/<camera>/snapshot        live-view JPEG bytes
<base>/<camera>/last_photo      thumbnail JPEG of the newest photo, retained
<base>/<camera>/timelapse/<n>   JSON state of timelapse <n>, retained
<prefix>/status                 Home Assistant's birth/will (online/offline)
```
"""

from __future__ import annotations

from dataclasses import dataclass

from camera2mqtt.errors import Camera2MqttError

__all__ = [
    "DEFAULT_BASE_TOPIC",
    "DEFAULT_DISCOVERY_PREFIX",
    "OFFLINE",
    "ONLINE",
    "CameraTopics",
    "TopicError",
    "Topics",
    "check_topic_level",
]

DEFAULT_BASE_TOPIC = "camera2mqtt"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"
ONLINE = "online"
OFFLINE = "offline"

_BRIDGE = "bridge"
_SET = "set"
_FORBIDDEN_IN_LEVEL = frozenset("/+#\x00")


class TopicError(Camera2MqttError, ValueError):
    """A name or prefix that cannot be used in MQTT topics."""


def check_topic_level(name: str, what: str = "camera name") -> str:
    """Return ``name`` if it can be one MQTT topic level, else raise TopicError saying why."""
    if not name or any(char in _FORBIDDEN_IN_LEVEL for char in name):
        raise TopicError(f"The {what} {name!r} cannot be used in MQTT topics; avoid '/', '+', '#'.")
    if name == _BRIDGE:
        raise TopicError(
            f"The {what} 'bridge' is reserved for the bridge's own topics; rename the camera."
        )
    return name


@dataclass(frozen=True, slots=True)
class CameraTopics:
    """Every topic of one camera."""

    camera: str
    availability: str
    state: str
    set: str
    response: str
    event: str
    snapshot: str
    last_photo: str

    def timelapse(self, name: str) -> str:
        """Retained JSON state of one timelapse: ``<base>/<camera>/timelapse/<name>``."""
        return f"{self.state.removesuffix('/state')}/timelapse/{name}"


@dataclass(frozen=True, slots=True)
class Topics:
    """The bridge's topics under ``base`` and Home Assistant's under ``discovery_prefix``."""

    base: str = DEFAULT_BASE_TOPIC
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX

    def __post_init__(self) -> None:
        for value, what in ((self.base, "base topic"), (self.discovery_prefix, "discovery prefix")):
            if not value or "+" in value or "#" in value or value.startswith("/"):
                raise TopicError(f"The {what} {value!r} is not a valid MQTT topic prefix.")
        if self.base == self.discovery_prefix:
            raise TopicError(
                "mqtt.base_topic and mqtt.discovery_prefix must differ; change one of them."
            )

    @property
    def bridge_state(self) -> str:
        return f"{self.base}/{_BRIDGE}/state"

    @property
    def command_filter(self) -> str:
        """The subscription that receives every camera's commands (known or not)."""
        return f"{self.base}/+/{_SET}"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def camera(self, name: str) -> CameraTopics:
        check_topic_level(name)
        root = f"{self.base}/{name}"
        return CameraTopics(
            camera=name,
            availability=f"{root}/availability",
            state=f"{root}/state",
            set=f"{root}/{_SET}",
            response=f"{root}/response",
            event=f"{root}/event",
            snapshot=f"{root}/snapshot",
            last_photo=f"{root}/last_photo",
        )

    def camera_of_command(self, topic: str) -> str | None:
        """The camera name of a ``<base>/<camera>/set`` topic, or None for any other topic."""
        prefix = f"{self.base}/"
        suffix = f"/{_SET}"
        if not topic.startswith(prefix) or not topic.endswith(suffix):
            return None
        name = topic[len(prefix) : -len(suffix)]
        if not name or "/" in name or name == _BRIDGE:
            return None
        return name
