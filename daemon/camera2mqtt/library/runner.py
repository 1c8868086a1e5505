"""A download command run as a sync on the camera's worker thread, with what the daemon shows.

:class:`SyncRunner` turns the camera's configuration and a download request into a
:class:`~camera2mqtt.library.sync.SyncJob` and advances it one file at a time, calling the
worker's ``between_files`` after each so that queued commands and due shots run first. As
it goes it publishes the ``sync_started`` / ``sync_progress`` / ``download_progress`` /
``downloaded`` / ``download_failed`` / ``sync_finished`` events and keeps the sync fields of
the camera's :class:`~camera2mqtt.camera_state.CameraState` (``sync_state``,
``photos_waiting``, ``last_sync``, the download counter) up to date; it returns the reply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camera2mqtt.camera_state import SYNC_IDLE, SYNC_RUNNING, CameraState
from camera2mqtt.cameras.base import Camera, CameraError, ImageRef
from camera2mqtt.library.events import SyncProgressEvents
from camera2mqtt.library.store import DownloadStore
from camera2mqtt.library.sync import FileOutcome, SyncJob, SyncOptions, SyncProgress

if TYPE_CHECKING:  # config imports the library (naming), so only for the type
    from camera2mqtt.config import CameraConfig

__all__ = ["REPLY_FILES_LIMIT", "SyncRunner", "camera_id"]

MEGABYTE = 1_000_000
REPLY_FILES_LIMIT = 1000  # files listed per list in a download reply (the counts stay whole)


def camera_id(camera: Camera, name: str) -> str:
    """The key of a camera's files in the store: its serial number, else its configured
    ``name``."""
    return camera.info.serial_number or name


class SyncRunner:
    """Runs the download commands of one configured camera against its store.

    ``state`` is the camera's state, which this updates; ``publish_state()`` publishes it
    (when it changed) and ``publish_event(name, **fields)`` publishes an event. ``cancel``
    stops a running sync at its next file or chunk; ``skip(ref)`` leaves out files a
    timelapse fetched itself; ``between_files()`` runs after each file.
    """

    def __init__(
        self,
        config: CameraConfig,
        store: DownloadStore | None,
        *,
        state: CameraState,
        cancel: threading.Event,
        skip: Callable[[ImageRef], bool],
        between_files: Callable[[], None],
        publish_event: Callable[..., None],
        publish_state: Callable[[], None],
    ) -> None:
        self._config = config
        self._store = store
        self._state = state
        self._cancel = cancel
        self._skip = skip
        self._between_files = between_files
        self._publish_event = publish_event
        self._publish_state = publish_state

    def run(
        self,
        camera: Camera,
        *,
        which: str = "new",
        paths: tuple[str, ...] = (),
        force: bool = False,
    ) -> dict[str, Any]:
        """Sync ``camera`` (connected) as a download command asked; the reply's JSON.

        Raises :class:`CameraError` when every file asked for failed, with the first
        file's reason; errors of the camera or the sync itself (cancelled, camera gone)
        pass through, after ``sync_finished`` and the idle state were published.
        """
        config = self._config
        library = config.library
        options = SyncOptions(
            which=which,
            paths=paths,
            force=force,
            delete_after_download=library.delete_after_download and config.allow.erase,
            template=library.path_template,
        )
        events = SyncProgressEvents(self._publish_event)

        def progress(update: SyncProgress) -> None:
            events(update)
            if update.finished is not None:
                self._file_done(update.finished)

        job = SyncJob(
            camera,
            self._store,
            camera_id=camera_id(camera, config.name),
            camera_name=config.name,
            download_dir=Path(config.download_dir),
            options=options,
            cancel=self._cancel,
            on_progress=progress,
            skip=self._skip,
            reserve_bytes=config.keep_free_mb * MEGABYTE,
        )
        job.plan()
        state = self._state
        state.sync_state = SYNC_RUNNING
        state.photos_waiting = job.waiting
        self._publish_state()
        self._publish_event("sync_started", files_total=job.files_total)
        try:
            while job.step():
                state.photos_waiting = job.waiting
                self._between_files()
        finally:
            summary = job.summary()
            state.sync_state = SYNC_IDLE
            state.photos_waiting = job.waiting
            state.last_sync = datetime.now(UTC).isoformat(timespec="seconds")
            self._publish_event(
                "sync_finished",
                done=len(summary.done),
                skipped=len(summary.skipped),
                failed=len(summary.failed),
            )
            self._publish_state()
        if summary.failed and not summary.done and not summary.skipped:
            first = summary.failed[0]
            more = f" ({len(summary.failed)} files failed)" if len(summary.failed) > 1 else ""
            raise CameraError(f"{first.reason}{more}")
        return summary.as_json(limit=REPLY_FILES_LIMIT)

    def _file_done(self, outcome: FileOutcome) -> None:
        if outcome.status == "done":
            self._state.counters.downloads += 1
            self._publish_event("downloaded", file=outcome.as_json())
        elif outcome.status == "failed":
            self._publish_event("download_failed", file=outcome.as_json())
