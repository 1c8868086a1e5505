"""The photos on a camera's card as its worker learns them: how many, how many wait for a
sync, and the newest one with its thumbnail.

:class:`PhotoWatch` lists the card when the worker sees it changed (:meth:`PhotoWatch.look`)
and records a newer photo (:meth:`PhotoWatch.record`, also after the worker's own shots):
its path and time in the camera's state, its thumbnail fitted for MQTT, and the
:class:`PhotoMemory` that keeps it across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from camera2mqtt.camera_state import CameraState
from camera2mqtt.cameras.base import (
    Camera,
    CameraError,
    CameraUnreachable,
    Capability,
    ImageRef,
    newest_picture,
)
from camera2mqtt.homeassistant.store import LastPhoto
from camera2mqtt.library import DownloadStore
from camera2mqtt.library.runner import camera_id
from camera2mqtt.mqtt.jpeg import ImageTooLarge, fit_jpeg

if TYPE_CHECKING:
    from camera2mqtt.config import CameraConfig

__all__ = ["PhotoMemory", "PhotoWatch", "file_json"]

log = logging.getLogger(__name__)


class PhotoMemory(Protocol):
    """Where the newest photo of each camera is kept across restarts."""

    def last_photo(self, camera: str) -> LastPhoto | None: ...

    def save_last_photo(self, camera: str, photo: LastPhoto) -> None: ...


def file_json(ref: ImageRef) -> dict[str, Any]:
    """A camera file as the ``files`` of a ``photo_taken`` event and a shoot reply."""
    return {
        "path": ref.path,
        "size": ref.size,
        "timestamp": ref.timestamp.isoformat(timespec="seconds") if ref.timestamp else None,
    }


class PhotoWatch:
    """The photos of one configured camera, kept in its ``state``.

    ``store`` (None: no library) counts the photos not downloaded yet, leaving out those
    ``skip(ref)`` names (timelapse frames); ``memory`` (None: nothing kept) remembers the
    newest photo. ``publish_event(name, **fields)`` publishes an event; ``on_photo(thumbnail)``
    is called once a newer photo is in the state, with its fitted thumbnail or None.
    """

    def __init__(
        self,
        config: CameraConfig,
        store: DownloadStore | None,
        *,
        state: CameraState,
        memory: PhotoMemory | None,
        skip: Callable[[ImageRef], bool],
        publish_event: Callable[..., None],
        on_photo: Callable[[bytes | None], None],
    ) -> None:
        self._name = config.name
        self._snapshot = config.snapshot
        self._store = store
        self._state = state
        self._memory = memory
        self._skip = skip
        self._publish_event = publish_event
        self._on_photo = on_photo

    def restore(self) -> bytes | None:
        """Put the newest photo remembered from an earlier run in the state; its thumbnail."""
        remembered = self._memory.last_photo(self._name) if self._memory is not None else None
        if remembered is None:
            return None
        self._state.last_photo = remembered.path
        self._state.last_photo_time = remembered.taken
        return remembered.thumbnail

    def look(self, camera: Camera, *, announce: bool = True) -> None:
        """Photos taken on the camera itself: count those not yet downloaded, record the
        newest one, and publish a ``photo_taken`` event unless ``announce`` is False (the
        first look after connecting, which finds what was taken while we were away).

        A listing that fails is logged and left for the next look, unless the camera is gone
        (:class:`CameraUnreachable` passes through, as from :meth:`record`)."""
        if Capability.LIST not in camera.info.capabilities:
            return
        try:
            refs = sorted(camera.list_images(), key=ImageRef.age_key)
        except CameraUnreachable:
            raise
        except CameraError as error:
            log.debug("Camera %s: listing new photos failed: %s", self._name, error)
            return
        self._state.photos_on_card = len(refs)
        if self._store is not None and Capability.DOWNLOAD in camera.info.capabilities:
            photos = [ref for ref in refs if not self._skip(ref)]
            waiting = self._store.count_new(camera_id(camera, self._name), photos)
            self._state.photos_waiting = waiting
        newest = newest_picture(refs) if refs else None
        if newest is not None and newest.path != self._state.last_photo:
            if announce:
                self._publish_event("photo_taken", files=[file_json(newest)], source="camera")
            self.record(camera, newest)

    def record(self, camera: Camera, ref: ImageRef) -> None:
        """``ref`` is the newest photo: into the state and the memory, with its thumbnail
        when the camera makes one (a thumbnail that fails is logged and left out)."""
        self._state.last_photo = ref.path
        taken = ref.timestamp.astimezone() if ref.timestamp else datetime.now(UTC)
        self._state.last_photo_time = taken.isoformat(timespec="seconds")
        thumbnail = None
        if Capability.THUMBNAIL in camera.info.capabilities:
            try:
                thumbnail = fit_jpeg(
                    camera.thumbnail(ref), self._snapshot.size, self._snapshot.max_bytes
                )
            except CameraUnreachable:
                raise
            except (CameraError, ImageTooLarge) as error:
                log.warning("Camera %s: no thumbnail for %s: %s", self._name, ref.path, error)
        if self._memory is not None:
            self._memory.save_last_photo(
                self._name, LastPhoto(ref.path, self._state.last_photo_time, thumbnail)
            )
        self._on_photo(thumbnail)
