"""The daemon: configuration -> cameras -> one worker each -> the MQTT bridge.

:class:`Service` only wires the parts together and runs their life cycle. The paho network
thread parses commands and puts them on the right camera's queue; everything that publishes
on behalf of the bridge itself (discovery, replies to commands that never reached a camera)
runs on one small control thread, so the network thread never blocks.
"""

from __future__ import annotations

import logging
import math
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from camera2mqtt import sdnotify
from camera2mqtt.cameras import open_camera
from camera2mqtt.config import Config
from camera2mqtt.homeassistant import CameraView, HomeAssistantLink, HomeAssistantStore
from camera2mqtt.homeassistant.bridge import request_filter
from camera2mqtt.library import DownloadStore
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
from camera2mqtt.mqtt.discovery import CameraDescription
from camera2mqtt.mqtt.outbox import OutboxLimits
from camera2mqtt.mqtt.topics import OFFLINE, ONLINE, Topics
from camera2mqtt.statedb import StateDB
from camera2mqtt.stream.mjpeg import MjpegServer, parse_listen
from camera2mqtt.worker import CameraFactory, CameraWorker

__all__ = ["Service"]

log = logging.getLogger(__name__)

HA_BIRTH_MAX_DELAY = 3.0  # seconds; spread the load when many bridges answer HA's birth
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
class _CameraChanged:
    """A worker settled or its camera came or went: announce, refresh bridge/info."""


@dataclass(frozen=True, slots=True)
class _BridgeRequest:
    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class _Publish:
    topic: str
    payload: bytes


_STOP = object()


class Service:
    """The camera2mqtt daemon for one configuration."""

    def __init__(
        self,
        config: Config,
        *,
        camera_factory: CameraFactory = open_camera,
        discovery_debounce: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        outbox_limits: OutboxLimits | None = None,
    ) -> None:
        self.config = config
        self.topics = Topics(config.mqtt.base_topic, config.mqtt.discovery_prefix)
        self._control: queue.Queue[object] = queue.Queue()
        self._stopped = threading.Event()
        self._started = False
        self._restart = threading.Event()
        self._stop_requested: threading.Event | None = None  # run()'s, for a restart
        subscriptions = [self.topics.command_filter, request_filter(self.topics)]
        if config.mqtt.discovery:
            subscriptions.append(self.topics.ha_status)
        self.bridge = MqttBridge(
            config.mqtt,
            self.topics,
            subscriptions=tuple(subscriptions),
            on_connect=lambda: self._control.put(_Connected()),
            on_message=self._route_message,
            outbox_limits=outbox_limits,
        )
        self._db = StateDB.in_state_dir(config.state_dir)
        self._store = HomeAssistantStore(self._db, state_dir=config.state_dir)
        self._learned = self._store.learned()
        downloads = DownloadStore(self._db)
        self.workers = {
            camera.name: CameraWorker(
                camera,
                self.topics.camera(camera.name),
                self.bridge,
                camera_factory=camera_factory,
                max_payload_bytes=config.mqtt.max_payload_bytes,
                learned=self._learned.get(camera.name),
                photos=self._store,
                state_db=self._db,
                on_description=lambda description: self._control.put(_Rediscover(description)),
                on_change=lambda: self._control.put(_CameraChanged()),
                store=downloads,
            )
            for camera in config.cameras
        }
        debounce = {} if discovery_debounce is None else {"debounce": discovery_debounce}
        self.homeassistant = HomeAssistantLink(
            self.bridge,
            self.topics,
            self._store,
            cameras=self._camera_views,
            discovery=config.mqtt.discovery,
            mode=config.mqtt.discovery_mode,
            on_restart=self._request_restart,
            clock=clock,
            **debounce,
        )
        self._control_thread = threading.Thread(
            target=self._control_loop, name="camera2mqtt-control", daemon=True
        )
        self.http: MjpegServer | None = None
        if config.http.listen:
            feeds = {name: worker.live.feed.hub for name, worker in self.workers.items()}
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
        self._db.close()
        log.info("camera2mqtt stopped")

    def wake(self) -> None:
        """Publish whatever discovery is due now (after the injected clock moved)."""
        self._control.put(_CameraChanged())

    @property
    def restart_requested(self) -> bool:
        """A restart was asked for over MQTT; the caller starts the daemon again."""
        return self._restart.is_set()

    def _request_restart(self) -> None:
        self._restart.set()
        if self._stop_requested is not None:
            self._stop_requested.set()

    def _camera_views(self) -> dict[str, CameraView]:
        return {
            name: CameraView(worker.description, worker.settled, worker.available_text)
            for name, worker in self.workers.items()
        }

    def run(self) -> int:
        """Run until SIGTERM or SIGINT, talking to systemd; returns the exit code."""
        with stop_on_signals() as stop_requested:
            try:
                self.start()
                sdnotify.notify(ready=True, status=self._status_line())
                watchdog = sdnotify.watchdog_interval()
                tick = min(watchdog, STATUS_INTERVAL) if watchdog else STATUS_INTERVAL
                self._stop_requested = stop_requested
                while not stop_requested.wait(tick):
                    # No keep-alive once a thread has died: systemd then restarts the daemon.
                    healthy = self._healthy()
                    sdnotify.notify(
                        watchdog=watchdog is not None and healthy, status=self._status_line()
                    )
                if self._restart.is_set():
                    # The same process starts again (service_cli): no STOPPING=1, or systemd
                    # would wait for it to exit.
                    sdnotify.notify(status="Restarting")
                else:
                    sdnotify.notify(stopping=True, status="Stopping")
            finally:
                self.stop()
        return 0

    def restart_dead_workers(self) -> list[str]:
        """Start again every camera worker whose thread died; their names."""
        restarted = [name for name, worker in self.workers.items() if worker.restart()]
        for name in restarted:
            log.error(
                "The worker of camera %s had died; restarted it (%d restart(s) so far)",
                name,
                self.workers[name].restarts,
            )
        return restarted

    def _healthy(self) -> bool:
        self.restart_dead_workers()
        dead = [name for name, worker in self.workers.items() if not worker.alive]
        if not self._control_thread.is_alive():
            dead.append("control")
        if dead:
            log.error("Threads have died (%s); the watchdog will restart the daemon", dead)
        return not dead

    def _status_line(self) -> str:
        broker = "connected" if self.bridge.connected else "connecting"
        cameras = ", ".join(
            f"{name} {worker.available_text}"
            + (f" (worker restarted {worker.restarts}x)" if worker.restarts else "")
            for name, worker in self.workers.items()
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
            if retained:  # a retained restart request would restart the daemon forever
                return
            self._control.put(_BridgeRequest(topic, payload))
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
                    f"Camera {name} is busy: too many jobs are waiting; try again when it "
                    "has finished.",
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
            due = min(announce_at - time.monotonic(), self._discovery_wait())
            wait = max(0.0, min(due, CONTROL_IDLE_WAIT))
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
                    self.homeassistant.home_assistant_online()
                    self._republish_states()
                if self.bridge.connected:
                    self.homeassistant.tick()
            except Exception:
                log.exception("Error in the control thread")

    def _discovery_wait(self) -> float:
        """Seconds until the next debounced discovery change or settle deadline."""
        if not self.bridge.connected:
            return math.inf  # the reconnect announces
        homeassistant = self.homeassistant
        return homeassistant.next_due() - homeassistant.now()

    def _handle_control(self, item: object) -> None:
        if isinstance(item, _Publish):
            self.bridge.publish(item.topic, item.payload)
        elif isinstance(item, _Connected):
            self.homeassistant.connected()
            self._republish_states()
        elif isinstance(item, _Rediscover):
            self._remember(item.description)
            self.homeassistant.update()
        elif isinstance(item, _CameraChanged):
            self.homeassistant.update()
        elif isinstance(item, _BridgeRequest):
            self.homeassistant.handle_request(item.topic, item.payload)

    def _remember(self, description: CameraDescription) -> None:
        learned = description.learned()
        if learned is None or self._learned.get(description.name) == learned:
            return
        self._learned[description.name] = learned
        self._store.save_learned(description.name, learned)

    def _republish_states(self) -> None:
        for worker in self.workers.values():
            worker.republish()
