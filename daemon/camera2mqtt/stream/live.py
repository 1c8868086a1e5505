"""A camera's live frames for whoever wants them: the relay, MJPEG viewers.

:class:`FrameHub` hands each frame to its subscribers (any thread may subscribe).
:class:`LiveFeed` is one camera's hub plus the pumping: the camera's worker calls
:meth:`LiveFeed.service` between jobs on its own thread (the driver belongs to it), which
keeps a Wi-Fi RTP live-view session running while anyone watches (frames then arrive on the
session's receiver thread) or, for cameras without a stream (serial), takes one preview
frame per call, as fast as the line allows. :class:`StreamRelay` is the subscriber that sends
each frame as stream packets.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, cast

from camera2mqtt.cameras.base import Camera, CameraError, CameraUnreachable, Capability
from camera2mqtt.cameras.wifi.liveview import Frame, LiveView, LiveViewControl
from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.stream.codec import HeaderSize
from camera2mqtt.stream.sender import StreamSender, parse_target

__all__ = [
    "FrameHub",
    "FrameQueue",
    "LiveFeed",
    "LiveFrame",
    "StreamRelay",
    "open_relay",
]

log = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0
"""How often the worker looks at a running Wi-Fi session (restarting a stale one)."""
STALE_AFTER = 3.0
"""A session that has delivered no frame for this long is started again."""
RETRY_INTERVAL = 2.0
"""After a failure to get frames, the next attempt waits this long."""
FRESH_FOR = 1.0
"""A frame this recent stands in for a new snapshot."""
QUEUE_FRAMES = 2


class LiveFrame(NamedTuple):
    """One good frame of a camera's live view."""

    jpeg: bytes
    captured_at: float
    """``time.monotonic()`` when the frame was complete."""
    previous_dropped: bool = False
    """The camera's stream lost a frame since the previous one (it never reached us)."""


Subscriber = Callable[[LiveFrame], object]


class FrameHub:
    """Frames to subscribers; ``on_change`` is called (outside the lock) when the first
    subscriber arrives or the last one leaves. Thread-safe."""

    def __init__(self, *, on_change: Callable[[], object] | None = None) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, Subscriber] = {}
        self._next_key = 0
        self._latest: LiveFrame | None = None
        self._on_change = on_change

    @property
    def watched(self) -> bool:
        return bool(self._subscribers)

    @property
    def latest(self) -> LiveFrame | None:
        return self._latest

    def subscribe(self, deliver: Subscriber) -> Callable[[], None]:
        """Call ``deliver(frame)`` for each new frame; returns the unsubscribe function."""
        with self._lock:
            key = self._next_key
            self._next_key += 1
            self._subscribers[key] = deliver
            first = len(self._subscribers) == 1
        if first and self._on_change is not None:
            self._on_change()

        def unsubscribe() -> None:
            with self._lock:
                removed = self._subscribers.pop(key, None) is not None
                last = removed and not self._subscribers
            if last and self._on_change is not None:
                self._on_change()

        return unsubscribe

    def publish(self, frame: LiveFrame) -> None:
        with self._lock:
            self._latest = frame
            subscribers = list(self._subscribers.values())
        for deliver in subscribers:
            try:
                deliver(frame)
            except Exception:
                log.exception("A live frame subscriber failed; the others go on.")


class FrameQueue:
    """A subscriber for a reader on another thread: keeps the newest few frames."""

    def __init__(self, size: int = QUEUE_FRAMES) -> None:
        self._frames: collections.deque[LiveFrame] = collections.deque(maxlen=size)
        self._changed = threading.Condition()
        self.skipped = 0

    def put(self, frame: LiveFrame) -> None:
        with self._changed:
            if len(self._frames) == self._frames.maxlen:
                self.skipped += 1
            self._frames.append(frame)
            self._changed.notify_all()

    def get(self, timeout: float) -> LiveFrame | None:
        """The oldest frame kept, waiting up to ``timeout`` s; None if none came."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._frames, timeout):
                return None
            return self._frames.popleft()


class StreamRelay:
    """Sends every frame of a hub to a :class:`StreamSender` while subscribed."""

    def __init__(self, hub: FrameHub, sender: StreamSender) -> None:
        self._hub = hub
        self.sender = sender
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def running(self) -> bool:
        return self._unsubscribe is not None

    def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self._hub.subscribe(self._send)

    def stop(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self.sender.close()

    def _send(self, frame: LiveFrame) -> None:
        sender = self.sender
        sender.send_frame(
            frame.jpeg,
            timestamp=sender.timestamp(frame.captured_at),
            previous_dropped=frame.previous_dropped,
        )


def open_relay(
    hub: FrameHub, *, targets: tuple[str, ...], packet_size: int, header: str = "auto"
) -> StreamRelay:
    """A relay of ``hub`` to ``targets`` (``udp://HOST:PORT``), not yet started.

    ``header`` is the smallest header size sent: ``auto`` (= ``short``), ``short``,
    ``medium`` or ``long``. Raises a :class:`Camera2MqttError` saying what is wrong.
    """
    if not targets:
        raise Camera2MqttError(
            "No stream targets are configured; add stream: {targets: [udp://HOST:PORT]} to "
            "this camera's configuration."
        )
    min_header = HeaderSize.SHORT if header == "auto" else HeaderSize[header.upper()]
    sender = StreamSender(
        [parse_target(target) for target in targets],
        packet_size=packet_size,
        min_header=min_header,
    )
    return StreamRelay(hub, sender)


class LiveFeed:
    """One camera's live frames: a :class:`FrameHub` and the pumping that fills it.

    :meth:`service` and :meth:`close` run on the camera's worker thread; the rest on any.
    ``wake`` is called when the feed needs the worker (someone started or stopped watching).
    """

    def __init__(
        self,
        *,
        wake: Callable[[], object] | None = None,
        liveview_port: int = 0,
        liveview_size: str | None = None,
        bind_host: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hub = FrameHub(on_change=wake)
        self._liveview_port = liveview_port
        self._liveview_size = liveview_size
        self._bind_host = bind_host
        self._clock = clock
        self._session: LiveView | None = None
        self._session_camera: Camera | None = None
        self._session_since = 0.0
        self._dropped_seen = 0

    @classmethod
    def for_camera(cls, config: Any, *, wake: Callable[[], object] | None = None) -> LiveFeed:
        """The feed of a configured camera (its ``liveview`` port and size, if it has them)."""
        liveview = getattr(config, "liveview", None)
        return cls(
            wake=wake,
            liveview_port=getattr(liveview, "port", 0),
            liveview_size=getattr(liveview, "size", None),
        )

    @property
    def watched(self) -> bool:
        return self.hub.watched

    @property
    def streaming(self) -> bool:
        """Whether a live-view session runs now."""
        return self._session is not None

    def fresh_jpeg(self) -> bytes | None:
        """The latest frame when it is recent and someone keeps the feed going, else None."""
        frame = self.hub.latest
        if frame is None or not self.hub.watched or self._clock() - frame.captured_at > FRESH_FOR:
            return None
        return frame.jpeg

    # -- the worker's side -------------------------------------------------------------------

    def service(self, camera: Camera | None) -> float:
        """Do what the watchers need now; returns the seconds until the next call is due
        (``math.inf``: not before someone starts or stops watching). Raises
        :class:`CameraUnreachable` when the camera is gone (the worker handles that)."""
        if not self.hub.watched or camera is None:
            self.close()
            return math.inf if camera is not None or not self.hub.watched else RETRY_INTERVAL
        try:
            if _streams(camera):
                return self._keep_session(camera)
            camera.require(Capability.SNAPSHOT)
            jpeg = camera.snapshot()
        except CameraUnreachable:
            self.close()
            raise
        except CameraError as error:
            log.warning("Live view failed (%s); trying again in %g s.", error, RETRY_INTERVAL)
            self.close()
            return RETRY_INTERVAL
        self.hub.publish(LiveFrame(jpeg, self._clock()))
        return 0.0

    def close(self) -> None:
        """Stop the live-view session, if one runs (worker thread)."""
        session = self._session
        if session is not None:
            try:
                session.stop()
            finally:
                self._session = self._session_camera = None

    def _keep_session(self, camera: Camera) -> float:
        now = self._clock()
        session = self._session
        if session is not None:
            latest = session.latest
            last = max(self._session_since, latest.received_at if latest else 0.0)
            if self._session_camera is camera and now - last < STALE_AFTER:
                return CHECK_INTERVAL
            log.info("The live view stopped delivering frames; starting it again.")
            self.close()
        session = LiveView(
            cast(LiveViewControl, camera),
            port=self._liveview_port,
            size=self._liveview_size,
            bind_host=self._bind_host,
            # Datagrams from the camera's address only, on the address that routes to it.
            camera_host=getattr(camera, "host", None),
            on_frame=self._on_frame,
        )
        self._dropped_seen = 0
        self._session_since = now
        session.start()
        self._session, self._session_camera = session, camera
        return CHECK_INTERVAL

    def _on_frame(self, frame: Frame) -> None:
        session = self._session
        dropped = session.counters.frames_dropped if session is not None else 0
        previous_dropped = dropped > self._dropped_seen
        self._dropped_seen = dropped
        self.hub.publish(LiveFrame(frame.jpeg, frame.received_at, previous_dropped))


def _streams(camera: Camera) -> bool:
    """Whether the driver streams live view itself (the Wi-Fi RTP live view)."""
    return callable(getattr(camera, "start_liveview", None)) and callable(
        getattr(camera, "stop_liveview", None)
    )
