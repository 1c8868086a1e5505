"""The daemon: configuration -> cameras -> one worker each -> the MQTT bridge.

:class:`Service` only wires the parts together and runs their life cycle. The paho network
thread parses commands and puts them on the right camera's queue; everything that publishes
on behalf of the bridge itself (discovery, replies to commands that never reached a camera)
runs on one small control thread, so the network thread never blocks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camera2mqtt import sdnotify
from camera2mqtt.cameras import open_camera
from camera2mqtt.config import Config
from camera2mqtt.lifecycle import stop_on_signals
from camera2mqtt.mqtt.bridge import MqttBridge
from camera2mqtt.mqtt.commands import (
    Action,
    CommandError,
    check_allowed,
    error_reply,
    ok_reply,
    parse_command,
)
from camera2mqtt.mqtt.discovery import CameraDescription, discovery_payload, discovery_topic
from camera2mqtt.mqtt.topics import OFFLINE, ONLINE, Topics
from camera2mqtt.stream.mjpeg import MjpegServer, parse_listen
from camera2mqtt.worker import CameraFactory, CameraWorker

__all__ = ["DISCOVERY_STATE_FILE", "LEARNED_STATE_FILE", "Service"]

log = logging.getLogger(__name__)

DISCOVERY_STATE_FILE = "discovery.json"
LEARNED_STATE_FILE = "cameras.json"  # what each camera offers, for restarts while it is away
HA_BIRTH_MAX_DELAY = 3.0  # seconds; spread the load when many bridges answer HA's birth
DISCOVERY_QOS = 1
DEFAULT_STOP_TIMEOUT = 5.0
STATUS_INTERVAL = 30.0
CONTROL_IDLE_WAIT = 3600.0


@dataclass(frozen=True, slots=True)
class _Connected:
    """The bridge (re)connected to the broker: publish discovery and the states again."""


@dataclass(frozen=True, slots=True)
class _HomeAssistantOnline:
    """Home Assistant announced itself (its birth message): do the same, after a jitter."""


@dataclass(frozen=True, slots=True)
class _Rediscover:
    description: CameraDescription


@dataclass(frozen=True, slots=True)
class _Publish:
    topic: str
    payload: bytes


_STOP = object()


class Service:
    """The camera2mqtt daemon for one configuration."""

    def __init__(self, config: Config, *, camera_factory: CameraFactory = open_camera) -> None:
        self.config = config
        self.topics = Topics(config.mqtt.base_topic, config.mqtt.discovery_prefix)
        self._control: queue.Queue[object] = queue.Queue()
        self._stopped = threading.Event()
        self._started = False
        subscriptions = [self.topics.command_filter]
        if config.mqtt.discovery:
            subscriptions.append(self.topics.ha_status)
        self.bridge = MqttBridge(
            config.mqtt,
            self.topics,
            subscriptions=tuple(subscriptions),
            on_connect=lambda: self._control.put(_Connected()),
            on_message=self._route_message,
        )
        self._learned_path = Path(config.state_dir) / LEARNED_STATE_FILE
        learned = _load_json(self._learned_path, "cameras")
        self._learned: dict[str, Any] = learned if isinstance(learned, dict) else {}
        self.workers = {
            camera.name: CameraWorker(
                camera,
                self.topics.camera(camera.name),
                self.bridge,
                camera_factory=camera_factory,
                max_payload_bytes=config.mqtt.max_payload_bytes,
                learned=self._learned.get(camera.name),
                on_description=lambda description: self._control.put(_Rediscover(description)),
            )
            for camera in config.cameras
        }
        self._control_thread = threading.Thread(
            target=self._control_loop, name="camera2mqtt-control", daemon=True
        )
        self.http: MjpegServer | None = None
        if config.http.listen:
            feeds = {name: worker.live_feed.hub for name, worker in self.workers.items()}
            self.http = MjpegServer(*parse_listen(config.http.listen, what="http.listen"), feeds)

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the workers and connect to the broker in the background; returns at once."""
        if self._started:
            raise RuntimeError("The service was already started.")
        self._started = True
        log.info(
            "Starting camera2mqtt with %d camera(s): %s",
            len(self.workers),
            ", ".join(self.workers) or "none",
        )
        self._control_thread.start()
        for worker in self.workers.values():
            worker.start()
        if self.http is not None:
            self.http.start()
        self.bridge.start()

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Abandon running jobs, publish offline, disconnect; bounded by ``timeout``."""
        if not self._started or self._stopped.is_set():
            return
        self._stopped.set()
        deadline = time.monotonic() + timeout
        if self.http is not None:
            self.http.stop()
        for worker in self.workers.values():
            worker.request_stop()
        for worker in self.workers.values():
            if not worker.join(max(0.0, deadline - time.monotonic() - timeout / 3)):
                log.warning("Camera %s did not finish its job in time; leaving it", worker.name)
        self._control.put(_STOP)
        self._control_thread.join(max(0.1, deadline - time.monotonic() - timeout / 3))
        for worker in self.workers.values():
            self.bridge.publish(worker.topics.availability, OFFLINE, retain=True, qos=1)
        self.bridge.stop(timeout=max(0.5, deadline - time.monotonic()))
        log.info("camera2mqtt stopped")

    def run(self) -> int:
        """Run until SIGTERM or SIGINT, talking to systemd; returns the exit code."""
        with stop_on_signals() as stop_requested:
            try:
                self.start()
                sdnotify.notify(ready=True, status=self._status_line())
                watchdog = sdnotify.watchdog_interval()
                tick = min(watchdog, STATUS_INTERVAL) if watchdog else STATUS_INTERVAL
                while not stop_requested.wait(tick):
                    # No keep-alive once a thread has died: systemd then restarts the daemon.
                    alive = watchdog is not None and self._healthy()
                    sdnotify.notify(watchdog=alive, status=self._status_line())
                sdnotify.notify(stopping=True, status="Stopping")
            finally:
                self.stop()
        return 0

    def _healthy(self) -> bool:
        dead = [name for name, worker in self.workers.items() if not worker.alive]
        if not self._control_thread.is_alive():
            dead.append("control")
        if dead:
            log.error("Threads have died (%s); the watchdog will restart the daemon", dead)
        return not dead

    def _status_line(self) -> str:
        broker = "connected" if self.bridge.connected else "connecting"
        cameras = ", ".join(
            f"{name} {worker.available_text}" for name, worker in self.workers.items()
        )
        return f"MQTT {broker}; cameras: {cameras or 'none'}"

    # -- the paho network thread: parse and enqueue only -----------------------------------

    def _route_message(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic == self.topics.ha_status:
            if payload.strip().lower() == ONLINE.encode():
                self._control.put(_HomeAssistantOnline())
            return
        name = self.topics.camera_of_command(topic)
        if name is None:
            return
        if retained:
            log.warning(
                "Ignoring a retained command on %s; commands must not be retained "
                "(clear it with an empty retained message).",
                topic,
            )
            return
        try:
            command = parse_command(payload)
            worker = self.workers.get(name)
            if worker is None:
                raise CommandError(
                    f"There is no camera named {name!r}; configured: "
                    f"{', '.join(self.workers) or 'none'}.",
                    transaction=command.transaction,
                    action=command.action,
                )
            check_allowed(command, worker.config.allow)
            if command.action is Action.CANCEL:
                # Not queued: it must reach the job that is running now.
                result = {"cancelled": worker.cancel_current()}
                self._control.put(_Publish(worker.topics.response, ok_reply(command, result)))
                return
            if not worker.submit(command):
                raise CommandError(
                    f"Camera {name} has too many jobs waiting; try again when it has finished.",
                    transaction=command.transaction,
                    action=command.action,
                )
        except CommandError as error:
            log.info("Refused a command on %s: %s", topic, error)
            reply = error_reply(str(error), transaction=error.transaction, action=error.action)
            self._control.put(_Publish(self.topics.camera(name).response, reply))

    # -- the control thread ----------------------------------------------------------------

    def _control_loop(self) -> None:
        announce_at = math.inf  # when to answer Home Assistant's birth message
        while True:
            wait = max(0.0, min(announce_at - time.monotonic(), CONTROL_IDLE_WAIT))
            try:
                item = self._control.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            try:
                if isinstance(item, _HomeAssistantOnline):
                    # Home Assistant asks every bridge at once; a random delay spreads the answers.
                    delay = random.uniform(0, HA_BIRTH_MAX_DELAY)
                    announce_at = min(announce_at, time.monotonic() + delay)
                elif item is not None:
                    self._handle_control(item)
                if time.monotonic() >= announce_at:
                    announce_at = math.inf
                    self._announce()
            except Exception:
                log.exception("Error in the control thread")

    def _handle_control(self, item: object) -> None:
        if isinstance(item, _Publish):
            self.bridge.publish(item.topic, item.payload)
        elif isinstance(item, _Connected):
            self._announce()
        elif isinstance(item, _Rediscover):
            self._remember(item.description)
            if self.config.mqtt.discovery and self.bridge.connected:
                self._publish_discovery(item.description)

    def _remember(self, description: CameraDescription) -> None:
        learned = description.learned()
        if learned is None or self._learned.get(description.name) == learned:
            return
        self._learned[description.name] = learned
        current = {name: self._learned[name] for name in self.workers if name in self._learned}
        _save_json(self._learned_path, {"cameras": current})

    def _announce(self) -> None:
        """Discovery for every camera, clearing removed ones, then the current states."""
        if self.config.mqtt.discovery:
            for worker in self.workers.values():
                self._publish_discovery(worker.description)
        self._clear_removed_discovery()
        for worker in self.workers.values():
            worker.republish()

    def _publish_discovery(self, description: CameraDescription) -> None:
        self.bridge.publish(
            discovery_topic(self.topics, description.name),
            discovery_payload(description, self.topics),
            retain=True,
            qos=DISCOVERY_QOS,
        )

    def _clear_removed_discovery(self) -> None:
        current = (
            {discovery_topic(self.topics, name) for name in self.workers}
            if self.config.mqtt.discovery
            else set()
        )
        path = Path(self.config.state_dir) / DISCOVERY_STATE_FILE
        previous = _load_topics(path)
        for topic in sorted(previous - current):
            log.info("Removing the Home Assistant device of a removed camera: %s", topic)
            self.bridge.publish(topic, b"", retain=True, qos=DISCOVERY_QOS)
        if previous != current:
            _save_json(path, {"discovery_topics": sorted(current)})


def _load_json(path: Path, key: str) -> Any:
    """``data[key]`` of one of our small JSON files in state_dir; {} when missing or bad."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        log.warning("Ignoring %s: %s", path, error)
        return {}
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict | list) else {}


def _load_topics(path: Path) -> set[str]:
    topics = _load_json(path, "discovery_topics")
    return {topic for topic in topics if isinstance(topic, str) and topic.endswith("/config")}


def _save_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically (temp file and rename in the same folder)."""
    handle = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=f".{path.stem}-", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(handle.name, path)
    except OSError as error:
        log.warning(
            "Could not save %s (%s); check that state_dir is writable. Until then removed "
            "cameras may stay in Home Assistant.",
            path,
            error,
        )
        if handle is not None:
            with contextlib.suppress(OSError):
                os.unlink(handle.name)
