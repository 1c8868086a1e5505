"""One camera's live feed and stream relay, as its worker drives them.

:class:`LiveControl` holds the camera's :class:`~camera2mqtt.stream.live.LiveFeed` (MJPEG
viewers and the relay subscribe to its hub) and, between ``stream_start`` and
``stream_stop``, the :class:`~camera2mqtt.stream.live.StreamRelay` sending its frames to the
configured targets. Its methods run on the camera's worker thread, which owns the driver;
only ``feed`` is read from other threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from camera2mqtt.camera_state import CameraState
from camera2mqtt.cameras.base import Camera, CameraUnreachable, Capability
from camera2mqtt.stream.live import RETRY_INTERVAL, LiveFeed, StreamRelay, open_relay

if TYPE_CHECKING:  # config imports the stream package (targets), so only for the type
    from camera2mqtt.config import CameraConfig

__all__ = ["LiveControl"]

log = logging.getLogger(__name__)


class LiveControl:
    """The live feed and the relay of one configured camera.

    ``state.streaming`` says whether the relay runs; ``publish_state()`` publishes the state
    after it changed. ``wake()`` is called (from any thread) when someone starts or stops
    watching the feed, so the worker calls :meth:`service` soon; ``lost()`` is called when
    the camera turned out to be gone while serving the feed.
    """

    def __init__(
        self,
        config: CameraConfig,
        *,
        state: CameraState,
        publish_state: Callable[[], None],
        wake: Callable[[], object],
        lost: Callable[[], None],
    ) -> None:
        self._name = config.name
        self._stream = config.stream
        self._state = state
        self._publish_state = publish_state
        self._lost = lost
        self.feed = LiveFeed.for_camera(config, wake=wake)
        self._relay: StreamRelay | None = None

    def service(self, camera: Camera | None) -> float:
        """Keep the live feed going while watched; the seconds until it needs us again."""
        try:
            return self.feed.service(camera)
        except CameraUnreachable as error:
            log.debug("Camera %s: live view failed: %s", self._name, error)
            self._lost()
            return RETRY_INTERVAL

    def start_relay(self, connect: Callable[[], Camera]) -> dict[str, Any]:
        """Relay the feed to the stream targets (if it does not already); the reply.

        The targets are checked before ``connect()`` is asked for the camera, which must
        offer live view. Raises what either raises, with nothing left open.
        """
        stream = self._stream
        if self._relay is None:
            relay = open_relay(
                self.feed.hub,
                targets=stream.targets,
                packet_size=stream.packet_size,
                header=stream.header,
            )
            try:
                connect().require(Capability.SNAPSHOT)
            except BaseException:
                relay.sender.close()
                raise
            relay.start()
            self._relay = relay
            self._state.streaming = True
            self._publish_state()
        return {"streaming": True, "targets": list(stream.targets)}

    def stop_relay(self) -> dict[str, Any]:
        """Stop the relay (if it runs); the reply, with the frames it sent."""
        relay, self._relay = self._relay, None
        frames = 0
        if relay is not None:
            relay.stop()
            frames = relay.sender.frames_sent
        self._state.streaming = False
        self._publish_state()
        return {"streaming": False, "frames_sent": frames}

    def close(self) -> None:
        """Stop the relay and the live view as the worker's thread ends (a restarted thread
        starts without a relay); the state is left as it was."""
        relay, self._relay = self._relay, None
        if relay is not None:
            relay.stop()
        self.feed.close()
