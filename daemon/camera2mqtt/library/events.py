"""A sync's progress as MQTT events, rate-limited within a long file."""

from __future__ import annotations

import time
from collections.abc import Callable

from camera2mqtt.library.sync import SyncProgress

__all__ = ["PROGRESS_EVENT_INTERVAL", "SyncProgressEvents"]

PROGRESS_EVENT_INTERVAL = 1.0  # seconds between download_progress events of one file


class SyncProgressEvents:
    """A sync's progress as ``sync_progress`` events (files done / total, bytes) after each
    file, and within a long file at most one per interval."""

    def __init__(self, publish_event: Callable[..., None]) -> None:
        self._publish_event = publish_event
        self._next = time.monotonic() + PROGRESS_EVENT_INTERVAL

    def __call__(self, progress: SyncProgress) -> None:
        now = time.monotonic()
        if progress.finished is None and now < self._next:
            return
        self._next = now + PROGRESS_EVENT_INTERVAL
        if progress.finished is None and 0 < progress.file_done < progress.file_total:
            self._publish_event(
                "download_progress",
                path=progress.path,
                bytes=progress.file_done,
                total=progress.file_total,
            )
        self._publish_event(
            "sync_progress",
            path=progress.path,
            files_done=progress.files_done,
            files_total=progress.files_total,
            bytes=progress.bytes_done,
            bytes_total=progress.bytes_total,
        )
