"""One thread and one job queue per camera: a camera does one thing at a time.

The worker owns the camera's driver. It runs commands from MQTT in arrival order and, between
them, the periodic work: polling the camera's presence and status at ``poll_interval``,
publishing live-view snapshots at ``snapshot.interval``. These run on ``time.monotonic()``
against absolute targets ``t0 + k * interval``; a slot missed while a long job ran is skipped.
Timelapse shots come from the camera's :class:`~camera2mqtt.timelapse.TimelapseEngine`, which
says when it is due; they go before commands, polls, snapshots and downloads. Downloads of new
photos run at the wall-clock times of ``schedule.sync_at`` (the ``schedule`` library) and whenever
the camera appears, if ``schedule.sync_on_connect`` is set.

Features with a package of their own run in parts the worker calls on its thread: downloads
in the library's :class:`~camera2mqtt.library.runner.SyncRunner`, the live feed and stream
relay in :class:`~camera2mqtt.stream.control.LiveControl`, the card's photos in
:class:`~camera2mqtt.photos.PhotoWatch`.

Everything the worker learns goes out through a :class:`Publisher` (the MQTT bridge):
availability, retained JSON state, events, replies, snapshots and the last photo's thumbnail.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import schedule

from camera2mqtt.camera_state import SYNC_RUNNING, CameraState
from camera2mqtt.cameras.base import (
    Camera,
    CameraError,
    CameraStatus,
    CameraUnreachable,
    Capability,
    ImageRef,
    InvalidCommand,
    Property,
    ProtocolError,
    newest_picture,
)
from camera2mqtt.config import CameraConfig
from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.library import DownloadStore, PresenceProbe, clean_leftovers, presence_probe
from camera2mqtt.library.runner import SyncRunner
from camera2mqtt.mqtt.commands import Action, Command, error_reply, ok_reply
from camera2mqtt.mqtt.discovery import READINGS, CameraDescription
from camera2mqtt.mqtt.jpeg import ImageTooLarge, fit_jpeg
from camera2mqtt.mqtt.topics import OFFLINE, ONLINE, CameraTopics
from camera2mqtt.photos import PhotoMemory, PhotoWatch, file_json
from camera2mqtt.statedb import StateDB
from camera2mqtt.stream.control import LiveControl
from camera2mqtt.timelapse import (
    TimelapseClock,
    TimelapseEngine,
    TimelapseError,
    TimelapseStore,
)

__all__ = ["CameraFactory", "CameraWorker", "Publisher", "next_target"]

log = logging.getLogger(__name__)

QUEUE_SIZE = 32
RAW_BODY_LIMIT = 256 * 1024
DEFAULT_MAX_PAYLOAD_BYTES = 1_000_000
AVAILABILITY_QOS = 1
LOOP_RESTART_DELAY = 1.0  # seconds before the worker's loop runs again after it failed

CameraFactory = Callable[[CameraConfig], Camera]


class Publisher(Protocol):
    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool: ...


def next_target(t0: float, interval: float, now: float) -> float:
    """The first slot ``t0 + k * interval`` strictly after ``now`` (missed slots skipped)."""
    k = math.floor((now - t0) / interval) + 1
    return t0 + max(k, 1) * interval


_WAKE = object()


class CameraWorker:
    """The thread that runs every job of one camera."""

    def __init__(
        self,
        config: CameraConfig,
        topics: CameraTopics,
        publisher: Publisher,
        *,
        camera_factory: CameraFactory,
        on_description: Callable[[CameraDescription], None] | None = None,
        queue_size: int = QUEUE_SIZE,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        learned: object = None,
        photos: PhotoMemory | None = None,
        on_change: Callable[[], None] | None = None,
        state_db: StateDB | None = None,
        timelapse_clock: TimelapseClock | None = None,
        store: DownloadStore | None = None,
        presence: PresenceProbe | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._presence = presence or presence_probe(config)
        self._clock = clock
        self._deferred: list[Command] = []
        self._max_payload_bytes = max_payload_bytes
        self.topics = topics
        self._publisher = publisher
        self._camera_factory = camera_factory
        self._on_description = on_description
        self._jobs: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._cancel = threading.Event()
        self._busy = threading.Event()
        self._thread = self._new_thread()
        self.restarts = 0
        """How often :meth:`restart` brought the thread back after it died."""
        self._camera: Camera | None = None
        self._available: bool | None = None
        self._state = CameraState()
        self._last_thumbnail: bytes | None = None
        self._published_state: str | None = None
        self._sync_due = False
        self._republish_due = False
        # Held while a retained topic is published, so that a republish() from another thread
        # never overtakes a newer value the worker is publishing.
        self._publish_lock = threading.RLock()
        self._wall_clock = schedule.Scheduler()
        for when in config.schedule.sync_at:
            self._wall_clock.every().day.at(when).do(self._request_sync)
        self._description = CameraDescription(
            name=config.name,
            kind=config.type,
            allow_power_off=config.allow.power_off,
            can_stream=bool(config.stream.targets),
            timelapses=tuple(timelapse.name for timelapse in config.timelapses),
        ).with_learned(learned)
        # Live frames (camera2mqtt.stream): for the relay and MJPEG viewers.
        self.live = LiveControl(
            config,
            state=self._state,
            publish_state=self._publish_state,
            wake=self._wake_live,
            lost=self._lost,
        )
        self._live_due = False
        self._on_change = on_change
        self._settled = threading.Event()
        self._card_signature: tuple[object, ...] | None = None
        self._last_snapshot: bytes | None = None
        self._snapshot_due = False
        self._photos = PhotoWatch(
            config,
            store,
            state=self._state,
            memory=photos,
            skip=self._timelapse_frame,
            publish_event=self._publish_event,
            on_photo=self._photo_recorded,
        )
        self._last_thumbnail = self._photos.restore()
        self._timelapses: TimelapseEngine | None = None
        if config.timelapses:
            self._timelapses = TimelapseEngine(
                config.timelapses,
                camera=config.name,
                store=TimelapseStore(state_db or StateDB(":memory:")),
                publish_state=self._publish_timelapse,
                publish_event=self._publish_event,
                clock=timelapse_clock,
            )
        self._sync_runner = SyncRunner(
            config,
            store,
            state=self._state,
            cancel=self._cancel,
            skip=self._timelapse_frame,
            between_files=self._between_files,
            publish_event=self._publish_event,
            publish_state=self._publish_state,
        )

    # -- called from other threads ---------------------------------------------------------

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def description(self) -> CameraDescription:
        return self._description

    @property
    def settled(self) -> bool:
        """The first attempt to reach the camera (and learn what it offers) is over."""
        return self._settled.is_set()

    @property
    def available_text(self) -> str:
        """``online``, ``offline``, or ``unknown`` before the first poll."""
        return {True: ONLINE, False: OFFLINE}.get(self._available, "unknown")

    def start(self) -> None:
        self._thread.start()

    def submit(self, command: Command) -> bool:
        """Queue a command; False when the queue is full (the caller answers busy)."""
        try:
            self._jobs.put_nowait(command)
        except queue.Full:
            return False
        return True

    def cancel_current(self) -> bool:
        """Abandon the job running now (a download stops at its next chunk and leaves no
        file); returns whether a job was running. Queued jobs still run."""
        running = self._busy.is_set()
        if running:
            self._cancel.set()
        return running

    def republish(self) -> None:
        """Publish availability, state and last photo again (after a reconnect of the bridge
        or Home Assistant's birth message) from the caller's thread, so that a long job in
        progress (a download) does not leave the camera unavailable in Home Assistant; the
        worker refreshes the state itself once the job is done."""
        with self._publish_lock:
            self._publish_availability()
            if self._published_state is not None:
                self._publisher.publish(self.topics.state, self._published_state, retain=True)
            if self._last_thumbnail is not None:
                self._publisher.publish(self.topics.last_photo, self._last_thumbnail, retain=True)
            if self._last_snapshot is not None:
                self._publisher.publish(self.topics.snapshot, self._last_snapshot, retain=True)
        self._republish_due = True
        with contextlib.suppress(queue.Full):  # a full queue wakes the worker anyway
            self._jobs.put_nowait(_WAKE)

    def request_stop(self) -> None:
        """Abandon the current job (downloads see the cancel event) and end the thread."""
        self._stopping.set()
        self._cancel.set()
        with contextlib.suppress(queue.Full):
            self._jobs.put_nowait(_WAKE)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def restart(self) -> bool:
        """Start a new thread if the worker's died (not after a stop); True if it did."""
        if self._thread.is_alive() or self._stopping.is_set() or self._thread.ident is None:
            return False
        self.restarts += 1
        self._busy.clear()
        self._thread = self._new_thread()
        self._thread.start()
        return True

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the thread ------------------------------------------------------------------------

    def _wake_live(self) -> None:
        """Someone started or stopped watching the live feed: service it soon."""
        self._live_due = True
        with contextlib.suppress(queue.Full):  # a full queue wakes the worker anyway
            self._jobs.put_nowait(_WAKE)

    def _new_thread(self) -> threading.Thread:
        return threading.Thread(target=self._run, name=f"camera-{self.config.name}", daemon=True)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    self._loop()
                except Exception as error:
                    # Report, drop the driver and go on: the next poll reconnects.
                    self._report_failure("worker", error)
                    self._stopping.wait(LOOP_RESTART_DELAY)
        except BaseException:
            log.critical("The worker of camera %s died", self.name, exc_info=True)
        finally:
            self.live.close()
            self._close_camera()
            if self._timelapses is not None:
                self._timelapses.close()
            if not self._stopping.is_set():
                self._set_available(False)

    def _request_sync(self) -> None:
        self._sync_due = True

    def _loop(self) -> None:
        snapshot_interval = self.config.snapshot.interval
        self._t0 = t0 = self._clock()
        self._next_poll = t0
        self._next_presence = t0 + self.config.presence_interval
        self._next_snapshot = t0 + snapshot_interval if snapshot_interval > 0 else math.inf
        next_live = math.inf
        with contextlib.suppress(OSError):
            clean_leftovers(Path(self.config.download_dir))
        while not self._stopping.is_set():
            wall_wait = self._wall_clock.idle_seconds
            next_shot = self._timelapses.next_due() if self._timelapses else math.inf
            due = min(self._next_poll, self._next_snapshot, next_shot, next_live)
            if self._available is False:
                due = min(due, self._next_presence)
            wait = min(due - self._clock(), math.inf if wall_wait is None else wall_wait)
            try:
                job = (
                    self._jobs.get(timeout=max(0.0, wait)) if wait > 0 else self._jobs.get_nowait()
                )
            except queue.Empty:
                job = None
            if self._stopping.is_set():
                break
            if self._republish_due:
                self._republish_due = False
                self._republish()
            self._timelapse_tick()
            if isinstance(job, Command):
                self._run_command(job)
                self._timelapse_tick()
            now = self._clock()
            self._run_periodic()
            while self._deferred and not self._stopping.is_set():
                self._run_command(self._deferred.pop(0))
            self._wall_clock.run_pending()
            if self._sync_due and self._camera is not None and not self._stopping.is_set():
                self._sync_due = False
                self._run_command(Command(Action.DOWNLOAD, which="new"), reply=False)
            if (self._live_due or now >= next_live) and not self._stopping.is_set():
                self._live_due = False
                next_live = time.monotonic() + self.live.service(self._camera)

    def _run_periodic(self) -> None:
        """Whatever periodic work is due: timelapse shots first, then the presence probe,
        the poll and the snapshot."""
        self._timelapse_tick()
        now = self._clock()
        t0 = self._t0
        if self._available is False and now >= self._next_presence:
            self._next_presence = now + self.config.presence_interval
            if self._presence():
                log.debug("Camera %s answers the presence probe; connecting", self.name)
                self._next_poll = now
        if now >= self._next_poll:
            self._poll()
            self._next_poll = next_target(t0, self.config.poll_interval, self._clock())
            if not self._settled.is_set():
                self._settled.set()
                self._changed()
        if now >= self._next_snapshot:
            self._periodic_snapshot()
            self._next_snapshot = next_target(t0, self.config.snapshot.interval, self._clock())

    def _between_files(self) -> None:
        """Run what must not wait for a sync: queued commands (downloads are deferred until
        the sync ends) and due periodic work; then the sync goes on."""
        while not self._cancel.is_set():
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if not isinstance(job, Command):
                continue
            if job.action is Action.DOWNLOAD:
                self._deferred.append(job)
                continue
            self._run_command(job)
        if not self._cancel.is_set():
            self._run_periodic()
        self._busy.set()  # the nested jobs cleared it; the sync still runs

    # -- presence and status ---------------------------------------------------------------

    def _connect(self) -> Camera:
        """The connected driver, connecting (a fresh driver) when needed."""
        if self._camera is not None:
            return self._camera
        camera = self._camera_factory(self.config)
        try:
            info = camera.connect()
        except BaseException:
            with contextlib.suppress(Exception):
                camera.close()
            raise
        self._camera = camera
        log.info("Camera %s connected: %s %s", self.name, info.manufacturer, info.model)
        self._state.model = info.model
        properties: tuple[Property, ...] = ()
        if Capability.PROPERTIES in info.capabilities:
            try:
                properties = tuple(camera.properties())
            except CameraUnreachable:
                raise
            except CameraError as error:
                log.warning("Camera %s: could not read its properties: %s", self.name, error)
        self._state.properties = {prop.name: prop.value for prop in properties}
        # Discovery depends on the names and allowed values, not on the current values.
        offered = tuple(replace(prop, value="") for prop in properties)
        if self._description.info is not None and self._description.info.model != info.model:
            # Another camera answers at this address: forget what the old one reported.
            self._description = replace(self._description, readings=frozenset())
        self._set_description(replace(self._description, info=info, properties=offered))
        self._set_available(True)
        self._card_signature = None
        # The live-view entity must show something from the start (taken at the next poll,
        # once the camera has answered a status).
        self._snapshot_due = Capability.SNAPSHOT in info.capabilities
        if self.config.schedule.sync_on_connect:
            self._sync_due = True
        return camera

    def _poll(self) -> None:
        try:
            camera = self._connect()
            status = camera.status()
            if self._snapshot_due:
                self._snapshot_due = False
                self._connect_snapshot(camera)
                status = camera.status()  # Wi-Fi: now with what the frame told
        except CameraUnreachable as error:
            log.debug("Camera %s not reachable: %s", self.name, error)
            self._lost()
            return
        except Exception as error:
            if isinstance(error, CameraError) and not isinstance(error, ProtocolError):
                if str(error) != self._state.last_error:
                    log.warning("Camera %s: status failed: %s", self.name, error)
                self._state.last_error = str(error)
                if self._camera is None:
                    self._set_available(False)
                self._publish_state()
            else:
                self._report_failure("status", error)
            return
        self._apply_status(status)
        # What changes when a photo is taken on the camera itself: the frame count where
        # the camera reports it (serial), else the free space (Wi-Fi); without either the
        # card is listed on every poll.
        signature = (
            (status.frames_taken,)
            if status.frames_taken is not None
            else (status.free_bytes, status.card_state)
        )
        changed = signature != self._card_signature or signature == (None, None)
        first = self._card_signature is None
        self._card_signature = signature
        if changed:
            try:
                self._photos.look(camera, announce=not first)
            except CameraUnreachable as error:
                log.debug("Camera %s went away while listing: %s", self.name, error)
                self._card_signature = None
                self._lost()
            except ProtocolError as error:  # a listing too large or garbled: not on every poll
                log.warning("Camera %s: looking for new photos failed: %s", self.name, error)
            except CameraError as error:  # a thumbnail that failed: try again next poll
                log.warning("Camera %s: looking for new photos failed: %s", self.name, error)
                self._card_signature = None
        self._publish_state()
        self._learn_readings()

    def _connect_snapshot(self, camera: Camera) -> None:
        try:
            self._publish_snapshot(camera)
        except (CameraError, ImageTooLarge) as error:
            # Even a timeout: a Wi-Fi live view with no UDP path back fails while the camera
            # answers HTTP; the status that follows says whether the camera is still there.
            log.warning("Camera %s: no snapshot after connecting: %s", self.name, error)

    def _apply_status(self, status: CameraStatus) -> None:
        # A value the camera reported once and not this time (frames left and card state
        # come with live-view frames only) stays: the last known value is more useful.
        self._state.battery = _known(status.battery_percent, self._state.battery)
        self._state.frames_left = _known(status.frames_left, self._state.frames_left)
        self._state.frames_taken = status.frames_taken
        self._state.free_bytes = _known(status.free_bytes, self._state.free_bytes)
        self._state.card_state = _known(status.card_state, self._state.card_state)
        self._state.mode = status.mode

    def _learn_readings(self) -> None:
        """Offer a sensor for every reading the camera has given a value."""
        state = self._state.as_json()
        seen = {key for key in READINGS if state.get(key) is not None}
        readings = self._description.readings | seen
        if readings != self._description.readings:
            self._set_description(replace(self._description, readings=readings))

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _lost(self) -> None:
        self._close_camera()
        self._set_available(False)

    def _report_failure(self, action: str, error: Exception) -> str:
        """A reply the camera's driver could not make sense of, or a bug: log it, drop the
        driver (the camera goes unavailable until the next poll reconnects), publish the
        error as an event and in ``last_error``; return the one-sentence reason."""
        if isinstance(error, CameraError):
            message = str(error)
            log.warning("Camera %s: %s failed: %s", self.name, action, message)
        else:
            message = f"Internal error ({type(error).__name__}); see the log."
            log.error("Camera %s: %s failed", self.name, action, exc_info=error)
        self._lost()
        if message != self._state.last_error:
            self._publish_event("error", action=action, error=message)
        self._state.last_error = message
        self._publish_state()
        return message

    def _close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.close()
            except Exception:
                log.exception("Camera %s: error while closing the driver", self.name)

    def _set_available(self, available: bool) -> None:
        if available == self._available:
            return
        self._available = available
        if available:
            log.info("Camera %s is online", self.name)
        else:
            log.info("Camera %s is offline", self.name)
        self._publish_availability()
        self._changed()

    def _set_description(self, description: CameraDescription) -> None:
        changed = description != self._description
        self._description = description
        if changed and self._on_description is not None:
            self._on_description(description)

    # -- publishing ------------------------------------------------------------------------

    def _publish_availability(self) -> None:
        with self._publish_lock:
            if self._available is None:
                return
            self._publisher.publish(
                self.topics.availability,
                ONLINE if self._available else OFFLINE,
                retain=True,
                qos=AVAILABILITY_QOS,
            )

    def _publish_state(self, *, force: bool = False) -> None:
        """Publish the state when it changed (or ``force``: after a reconnect, on request)."""
        payload = json.dumps(self._state.as_json(), separators=(",", ":"))
        with self._publish_lock:
            if payload == self._published_state and not force:
                return
            self._published_state = payload
            self._publisher.publish(self.topics.state, payload, retain=True)

    def _publish_event(self, event: str, **fields: Any) -> None:
        payload = json.dumps({"event": event, **fields}, separators=(",", ":"), default=str)
        self._publisher.publish(self.topics.event, payload)

    def _republish(self) -> None:
        self._publish_state(force=True)
        if self._timelapses is not None:
            self._timelapses.republish()

    # -- timelapses ------------------------------------------------------------------------

    def _timelapse_tick(self) -> None:
        """Run the timelapse work that is due (shots first, before anything else)."""
        engine = self._timelapses
        if engine is None or engine.next_due() > time.monotonic():
            return
        try:
            engine.run_due(_TimelapseShots(self) if self._camera is not None else None)
        except Exception:
            log.exception("Camera %s: the timelapse engine failed", self.name)

    def _timelapse_frame(self, ref: ImageRef) -> bool:
        """Whether a timelapse already fetched this camera file (sync leaves it alone)."""
        return self._timelapses is not None and self._timelapses.fetched(ref.path)

    def _publish_timelapse(self, name: str, payload: str) -> None:
        with self._publish_lock:
            self._publisher.publish(self.topics.timelapse(name), payload, retain=True)

    def _timelapse_control(self, command: Command) -> dict[str, Any]:
        if self._timelapses is None:
            raise TimelapseError(
                f"Camera {self.name} has no timelapses; add them under 'timelapses:' in its "
                "configuration."
            )
        assert command.name is not None
        action = str(command.action).removeprefix("timelapse_")
        return self._timelapses.control(
            action, command.name, interval=command.interval, count=command.count
        )

    def _timelapse_shot(self, timelapse: str) -> list[ImageRef]:
        camera = self._connect()
        camera.require(Capability.SHOOT)
        try:
            refs = camera.shoot()
        except CameraUnreachable:
            self._lost()
            raise
        self._state.counters.shots += 1
        self._publish_event(
            "photo_taken", files=[file_json(ref) for ref in refs], timelapse=timelapse
        )
        try:
            if refs:
                self._photos.record(camera, newest_picture(refs))
            self._refresh_status(camera)
        except CameraUnreachable:
            self._lost()
        self._publish_state()
        return refs

    # -- commands --------------------------------------------------------------------------

    def _run_command(self, command: Command, *, reply: bool = True) -> None:
        """Run one job; ``reply`` False for the worker's own jobs (timelapse, sync)."""
        if self._cancel.is_set() and self._state.sync_state == SYNC_RUNNING:
            return  # a job run between two files of a sync that was just cancelled
        self._cancel.clear()
        if self._stopping.is_set():  # a stop that raced with the clear above
            self._cancel.set()
        self._busy.set()
        try:
            result, failure = self._execute(command)
        finally:
            # Before the reply goes out: whoever reads the reply sees the worker idle.
            self._busy.clear()
        if failure is not None:
            self._failed(command, failure, reply=reply)
        elif reply:
            self._reply(ok_reply(command, result), command)

    def _execute(self, command: Command) -> tuple[dict[str, Any], str | None]:
        """The job's result, or the one-sentence reason it failed."""
        handler = _HANDLERS[command.action]
        try:
            return handler(self, command), None
        except CameraUnreachable as error:
            self._lost()
            return {}, str(error)
        except ProtocolError as error:
            self._lost()  # the driver may be out of step with the camera: reconnect
            return {}, str(error)
        except Camera2MqttError as error:  # ours say what to do in one sentence
            return {}, str(error)
        except OSError as error:
            if error.filename is None:
                log.exception("Camera %s: %s failed", self.name, command.action)
                return {}, f"{error.strerror or error}; see the log."
            return {}, (
                f"{error.strerror or error} ({error.filename}); check that download_dir "
                "is a folder the service may write to."
            )
        except Exception as error:
            log.exception("Camera %s: %s failed", self.name, command.action)
            self._lost()
            return {}, f"Internal error ({type(error).__name__}); see the log."

    def _failed(self, command: Command, message: str, *, reply: bool) -> None:
        log.warning("Camera %s: %s failed: %s", self.name, command.action, message)
        self._state.last_error = message
        self._state.counters.errors += 1
        if reply:
            self._reply(
                error_reply(message, transaction=command.transaction, action=command.action)
            )
        self._publish_event("error", action=str(command.action), error=message)
        self._publish_state()

    def _reply(self, payload: bytes, command: Command | None = None) -> None:
        if command is not None and len(payload) > self._max_payload_bytes:
            payload = error_reply(
                f"The reply would be {len(payload)} bytes, more than mqtt.max_payload_bytes "
                f"({self._max_payload_bytes}); ask for less (use download for files).",
                transaction=command.transaction,
                action=command.action,
            )
        self._publisher.publish(self.topics.response, payload)

    def _shoot(self, command: Command) -> dict[str, Any]:
        camera = self._connect()
        camera.require(Capability.SHOOT)
        refs = camera.shoot()
        self._state.counters.shots += 1
        files = [file_json(ref) for ref in refs]
        self._publish_event("photo_taken", files=files)
        if refs:
            self._photos.record(camera, newest_picture(refs))
        self._refresh_status(camera)
        self._publish_state()
        return {"files": files}

    def _status(self, command: Command) -> dict[str, Any]:
        camera = self._connect()
        self._apply_status(camera.status())
        self._publish_state(force=True)
        return self._state.as_json()

    def _snapshot(self, command: Command) -> dict[str, Any]:
        size = self._publish_snapshot(self._connect())
        return {"bytes": size}

    def _download(self, command: Command) -> dict[str, Any]:
        """A sync run by the photo library, one file at a time; between files, queued
        commands and due shots run first."""
        return self._sync_runner.run(
            self._connect(), which=command.which, paths=command.paths, force=command.force
        )

    def _set_clock(self, command: Command) -> dict[str, Any]:
        camera = self._connect()
        when = command.time or datetime.now()
        if when.tzinfo is not None:  # cameras keep local time without a zone
            try:
                when = when.astimezone().replace(tzinfo=None)
            except (OverflowError, ValueError, OSError):
                raise InvalidCommand(
                    f"The time {command.time} is out of range; give a recent date and time."
                ) from None
        camera.set_clock(when)
        return {"time": when.isoformat(timespec="seconds")}

    def _get_property(self, command: Command) -> dict[str, Any]:
        assert command.name is not None
        prop = self._connect().get_property(command.name)
        return {
            "name": prop.name,
            "value": prop.value,
            "allowed": list(prop.allowed),
            "writable": prop.writable,
        }

    def _set_property(self, command: Command) -> dict[str, Any]:
        assert command.name is not None and command.value is not None
        self._connect().set_property(command.name, command.value)
        self._state.properties[command.name] = command.value
        self._publish_state()
        return {"name": command.name, "value": command.value}

    def _power_off(self, command: Command) -> dict[str, Any]:
        self._connect().power_off()
        self._lost()
        return {}

    def _erase(self, command: Command) -> dict[str, Any]:
        camera = self._connect()
        matches = [ref for ref in camera.list_images() if command.path in (ref.path, ref.name)]
        if len(matches) != 1:
            raise CameraError(
                f"No single file {command.path!r} on the camera; use a path from list_images."
            )
        camera.erase(matches[0])
        self._refresh_status(camera)
        self._publish_state()
        return {"path": matches[0].path}

    def _raw(self, command: Command) -> dict[str, Any]:
        assert command.command is not None
        reply = self._connect().raw(command.command, command.args)
        if len(reply.body) > RAW_BODY_LIMIT:
            raise CameraError(
                f"The camera's reply is {len(reply.body)} bytes, more than the "
                f"{RAW_BODY_LIMIT} bytes a reply may carry; use download for files."
            )
        if reply.is_text:
            return {
                "content_type": reply.content_type,
                "encoding": "utf-8",
                "body": reply.body.decode("utf-8", "replace"),
            }
        return {
            "content_type": reply.content_type,
            "encoding": "base64",
            "body": base64.b64encode(reply.body).decode("ascii"),
        }

    # -- photos and snapshots --------------------------------------------------------------

    def _refresh_status(self, camera: Camera) -> None:
        try:
            self._apply_status(camera.status())
        except CameraUnreachable:
            raise
        except CameraError as error:
            log.debug("Camera %s: status after a job failed: %s", self.name, error)

    def _photo_recorded(self, thumbnail: bytes | None) -> None:
        """A newer photo is in the state: offer its readings, publish its thumbnail."""
        self._learn_readings()
        if thumbnail is None:
            return
        with self._publish_lock:
            self._last_thumbnail = thumbnail
            self._publisher.publish(self.topics.last_photo, thumbnail, retain=True)

    def _publish_snapshot(self, camera: Camera) -> int:
        camera.require(Capability.SNAPSHOT)
        # While the live feed runs, its latest frame is the snapshot (a second live-view
        # session would stop the running one).
        jpeg = self.live.feed.fresh_jpeg() or camera.snapshot()
        image = fit_jpeg(jpeg, self.config.snapshot.size, self.config.snapshot.max_bytes)
        # Retained, so Home Assistant's camera entity has a picture after any restart.
        with self._publish_lock:
            self._last_snapshot = image
            self._publisher.publish(self.topics.snapshot, image, qos=0, retain=True)
        return len(image)

    def _periodic_snapshot(self) -> None:
        camera = self._camera
        if camera is None or Capability.SNAPSHOT not in camera.info.capabilities:
            return
        try:
            self._publish_snapshot(camera)
        except CameraUnreachable as error:
            log.debug("Camera %s: snapshot failed: %s", self.name, error)
            self._lost()
        except (CameraError, ImageTooLarge) as error:
            log.debug("Camera %s: snapshot failed: %s", self.name, error)


class _TimelapseShots:
    """The worker's camera as the timelapse engine's :class:`~camera2mqtt.timelapse.Shooter`:
    shots publish the same events, thumbnail and state as the shoot command."""

    def __init__(self, worker: CameraWorker) -> None:
        self._worker = worker

    def take_shot(self, timelapse: str) -> list[ImageRef]:
        return self._worker._timelapse_shot(timelapse)

    def fetch(self, ref: ImageRef, dest_dir: Path) -> Path:
        worker = self._worker
        try:
            return worker._connect().download(ref, dest_dir, cancel=worker._cancel)
        except CameraUnreachable:
            worker._lost()
            raise

    def apply_property(self, name: str, value: str) -> None:
        worker = self._worker
        try:
            worker._connect().set_property(name, value)
        except CameraUnreachable:
            worker._lost()
            raise
        worker._state.properties[name] = value


_HANDLERS: Mapping[Action, Callable[[CameraWorker, Command], dict[str, Any]]] = {
    Action.SHOOT: CameraWorker._shoot,
    Action.STATUS: CameraWorker._status,
    Action.SNAPSHOT: CameraWorker._snapshot,
    Action.DOWNLOAD: CameraWorker._download,
    Action.SET_CLOCK: CameraWorker._set_clock,
    Action.GET_PROPERTY: CameraWorker._get_property,
    Action.SET_PROPERTY: CameraWorker._set_property,
    Action.POWER_OFF: CameraWorker._power_off,
    Action.ERASE: CameraWorker._erase,
    Action.RAW: CameraWorker._raw,
    Action.STREAM_START: lambda worker, command: worker.live.start_relay(worker._connect),
    Action.STREAM_STOP: lambda worker, command: worker.live.stop_relay(),
    # The service answers cancel at once; one that reaches the queue has nothing to cancel.
    Action.CANCEL: lambda worker, command: {"cancelled": False},
    Action.TIMELAPSE_START: CameraWorker._timelapse_control,
    Action.TIMELAPSE_STOP: CameraWorker._timelapse_control,
    Action.TIMELAPSE_PAUSE: CameraWorker._timelapse_control,
    Action.TIMELAPSE_RESUME: CameraWorker._timelapse_control,
    Action.TIMELAPSE_SET: CameraWorker._timelapse_control,
}


def _known(value: Any, previous: Any) -> Any:
    return previous if value is None else value
