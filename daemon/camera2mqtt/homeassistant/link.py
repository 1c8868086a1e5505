"""Everything the daemon tells Home Assistant about itself, on the service's control thread.

:class:`HomeAssistantLink` turns camera descriptions into discovery configs (device or entity
mode) and hands them to the :class:`Announcer`; it holds back a camera's configs until its
worker has tried to reach it once (or ``settle_timeout`` has passed), keeps the bridge's own
device and ``bridge/info`` up to date, and carries out bridge requests (restart, log level).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from camera2mqtt.homeassistant.announcer import DEFAULT_DEBOUNCE, Announcer
from camera2mqtt.homeassistant.bridge import (
    BRIDGE_OWNER,
    LOG_LEVEL,
    RESTART,
    BridgeRequestError,
    CameraSummary,
    bridge_info,
    bridge_object_id,
    info_topic,
    parse_bridge_request,
    render_bridge_device,
    response_topic,
)
from camera2mqtt.homeassistant.store import HomeAssistantStore
from camera2mqtt.mqtt.discovery import (
    CameraDescription,
    discovery_configs,
    object_id,
    render_device,
)
from camera2mqtt.mqtt.topics import Topics

__all__ = ["DEFAULT_SETTLE_TIMEOUT", "CameraView", "HomeAssistantLink"]

log = logging.getLogger(__name__)

DEFAULT_SETTLE_TIMEOUT = 30.0  # seconds; a camera not settled by then is announced as known
DISCOVERY_QOS = 1
INFO_QOS = 1


@dataclass(frozen=True, slots=True)
class CameraView:
    """What the link needs to know of one camera's worker right now."""

    description: CameraDescription
    settled: bool
    state: str


class _Publisher(Protocol):
    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool: ...

    @property
    def connected(self) -> bool: ...


class HomeAssistantLink:
    """Discovery, ``bridge/info`` and bridge requests for one daemon."""

    def __init__(
        self,
        publisher: _Publisher,
        topics: Topics,
        store: HomeAssistantStore,
        *,
        cameras: Callable[[], Mapping[str, CameraView]],
        discovery: bool,
        mode: str,
        on_restart: Callable[[], None],
        debounce: float = DEFAULT_DEBOUNCE,
        settle_timeout: float = DEFAULT_SETTLE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publisher = publisher
        self._topics = topics
        self._cameras = cameras
        self._discovery = discovery
        self._mode = mode
        self._on_restart = on_restart
        self._clock = clock
        self._settle_deadline = clock() + settle_timeout
        self._last_info: bytes | None = None
        self.announcer = Announcer(
            self._publish_config,
            store,
            owners=(*cameras(), BRIDGE_OWNER),
            debounce=debounce,
            clock=clock,
        )

    def _publish_config(self, topic: str, payload: bytes) -> bool:
        if not self._publisher.connected:
            return False
        return self._publisher.publish(topic, payload, retain=True, qos=DISCOVERY_QOS)

    def now(self) -> float:
        return self._clock()

    # -- events from the service ----------------------------------------------------------

    def connected(self) -> None:
        """The bridge (re)connected: the bridge's info, then every config as it was."""
        self._last_info = None
        self.publish_info()
        self.update()
        self.announcer.resend()

    def home_assistant_online(self) -> None:
        self.announcer.resend()

    def update(self) -> None:
        """Look at every camera again: announce the settled ones, refresh ``bridge/info``."""
        cameras = self._cameras()
        if not self._discovery:
            for owner in (*cameras, BRIDGE_OWNER):
                self.announcer.want(owner, {})
        else:
            if not self.announcer.wants(BRIDGE_OWNER):
                bridge = render_bridge_device(self._topics)
                self.announcer.want(
                    BRIDGE_OWNER,
                    discovery_configs(
                        bridge, self._topics, bridge_object_id(self._topics), self._mode
                    ),
                )
            settle_over = self._clock() >= self._settle_deadline
            for name, view in cameras.items():
                if view.settled or settle_over or self.announcer.wants(name):
                    self.announcer.want(name, self._camera_configs(view.description))
        self.publish_info()

    def tick(self) -> None:
        if self._clock() >= self._settle_deadline and not all(
            self.announcer.wants(name) for name in self._cameras()
        ):
            self.update()
        self.announcer.tick()

    def next_due(self) -> float:
        due = self.announcer.next_due()
        if not all(self.announcer.wants(name) for name in self._cameras()):
            due = min(due, self._settle_deadline)
        return due if due > self._clock() or math.isinf(due) else self._clock()

    def _camera_configs(self, description: CameraDescription) -> dict[str, bytes]:
        device = render_device(description, self._topics)
        device["device"]["via_device"] = bridge_object_id(self._topics)
        return discovery_configs(
            device, self._topics, object_id(self._topics, description.name), self._mode
        )

    # -- bridge/info and requests ---------------------------------------------------------

    def publish_info(self) -> None:
        cameras = {
            name: CameraSummary(
                view.description.kind,
                view.description.info.model if view.description.info else None,
                view.state,
            )
            for name, view in self._cameras().items()
        }
        info = bridge_info(
            log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()),
            discovery_mode=self._mode,
            cameras=cameras,
        )
        if info == self._last_info or not self._publisher.connected:
            return
        if self._publisher.publish(info_topic(self._topics), info, retain=True, qos=INFO_QOS):
            self._last_info = info

    def handle_request(self, topic: str, payload: bytes) -> None:
        """Carry out a ``bridge/request/<name>`` message (never a retained one)."""
        try:
            request = parse_bridge_request(self._topics, topic, payload)
        except BridgeRequestError as error:
            log.info("Refused a bridge request on %s: %s", topic, error)
            name = topic.rsplit("/", 1)[-1]
            self._respond(name, {"status": "error", "error": str(error)})
            return
        if request is None:
            return
        if request.name == LOG_LEVEL:
            assert request.value is not None
            logging.getLogger().setLevel(request.value)
            log.warning("Log level set to %s from MQTT", request.value)
            self._respond(LOG_LEVEL, {"status": "ok", "data": {"value": request.value}})
            self.publish_info()
        elif request.name == RESTART:
            log.warning("Restart requested over MQTT")
            self._respond(RESTART, {"status": "ok", "data": {}})
            self._on_restart()

    def _respond(self, name: str, body: Mapping[str, object]) -> None:
        self._publisher.publish(
            response_topic(self._topics, name), json.dumps(body, separators=(",", ":"))
        )
