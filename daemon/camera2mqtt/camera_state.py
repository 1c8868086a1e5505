"""What a camera's worker knows of its camera, published as retained JSON on ``state``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SYNC_IDLE", "SYNC_RUNNING", "CameraState", "Counters"]

SYNC_IDLE, SYNC_RUNNING = "idle", "running"


@dataclass
class Counters:
    shots: int = 0
    downloads: int = 0
    errors: int = 0


@dataclass
class CameraState:
    """What the worker knows of its camera; published as retained JSON on ``state``."""

    model: str | None = None
    battery: int | None = None
    frames_left: int | None = None
    frames_taken: int | None = None
    free_bytes: int | None = None
    photos_on_card: int | None = None
    card_state: str | None = None
    mode: str | None = None
    last_photo: str | None = None
    last_photo_time: str | None = None
    last_error: str | None = None
    counters: Counters = field(default_factory=Counters)
    properties: dict[str, str] = field(default_factory=dict)
    streaming: bool = False
    sync_state: str = SYNC_IDLE
    photos_waiting: int | None = None
    last_sync: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)
