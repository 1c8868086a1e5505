"""What a timelapse must remember across a restart, in the daemon's SQLite state file.

One row per camera and timelapse holds its state, the current session (anchor, next slot,
counters, folder) and the runtime overrides from ``timelapse_set``. Frames fetched during a
session are recorded with the camera's path, size and time, so that a photo library can be
joined with them later and does not fetch them again.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from datetime import datetime
from pathlib import Path

from camera2mqtt.statedb import StateDB

__all__ = ["COMPONENT", "MIGRATIONS", "FrameRecord", "TimelapseRecord", "TimelapseStore"]

COMPONENT = "timelapse"
MIGRATIONS = (
    """
    CREATE TABLE timelapse_state (
        camera TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        session TEXT,
        anchor REAL,
        ends REAL,
        manual INTEGER NOT NULL DEFAULT 0,
        next_slot INTEGER NOT NULL DEFAULT 0,
        shots INTEGER NOT NULL DEFAULT 0,
        missed INTEGER NOT NULL DEFAULT 0,
        folder TEXT,
        consumed_until REAL NOT NULL DEFAULT 0,
        interval REAL,
        count INTEGER,
        PRIMARY KEY (camera, name)
    );
    CREATE TABLE timelapse_frames (
        camera TEXT NOT NULL,
        name TEXT NOT NULL,
        session TEXT NOT NULL,
        idx INTEGER NOT NULL,
        slot INTEGER NOT NULL,
        camera_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        taken TEXT,
        local_path TEXT NOT NULL,
        fetched REAL NOT NULL,
        PRIMARY KEY (camera, name, session, idx)
    );
    CREATE INDEX timelapse_frames_camera_path ON timelapse_frames (camera, camera_path)
    """,
)


@dataclass(frozen=True, slots=True)
class TimelapseRecord:
    """The persisted state of one timelapse (wall-clock seconds for times).

    ``state`` is running, paused, waiting, stopped or done. ``anchor`` is the wall time of
    slot 0 of the session, ``ends`` when it ends (window end, duration; None: open-ended).
    ``consumed_until``: windows starting before it are not run again (finished or stopped).
    ``interval`` / ``count`` are overrides set at runtime (None: the configured value).
    """

    camera: str
    name: str
    state: str
    session: str | None = None
    anchor: float | None = None
    ends: float | None = None
    manual: bool = False
    next_slot: int = 0
    shots: int = 0
    missed: int = 0
    folder: str | None = None
    consumed_until: float = 0.0
    interval: float | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class FrameRecord:
    camera: str
    name: str
    session: str
    index: int
    slot: int
    camera_path: str
    size: int
    taken: datetime | None
    local_path: Path
    fetched: float


_COLUMNS = tuple(item.name for item in fields(TimelapseRecord))


class TimelapseStore:
    """Timelapse rows in a shared :class:`StateDB`."""

    def __init__(self, db: StateDB) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)

    def load(self, camera: str, name: str) -> TimelapseRecord | None:
        rows = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM timelapse_state WHERE camera = ? AND name = ?",
            (camera, name),
        )
        if not rows:
            return None
        values = dict(zip(_COLUMNS, tuple(rows[0]), strict=True))
        values["manual"] = bool(values["manual"])
        return TimelapseRecord(**values)

    def save(self, record: TimelapseRecord) -> None:
        placeholders = ", ".join("?" for _ in _COLUMNS)
        self._db.execute(
            f"INSERT OR REPLACE INTO timelapse_state ({', '.join(_COLUMNS)}) "
            f"VALUES ({placeholders})",
            astuple(record),
        )

    def add_frame(self, frame: FrameRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO timelapse_frames (camera, name, session, idx, slot, "
            "camera_path, size, taken, local_path, fetched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                frame.camera,
                frame.name,
                frame.session,
                frame.index,
                frame.slot,
                frame.camera_path,
                frame.size,
                frame.taken.isoformat() if frame.taken else None,
                str(frame.local_path),
                frame.fetched,
            ),
        )

    def frames(self, camera: str, name: str, session: str) -> list[Path]:
        """The local files of a session's fetched frames, in shot order."""
        rows = self._db.execute(
            "SELECT local_path FROM timelapse_frames WHERE camera = ? AND name = ? AND "
            "session = ? ORDER BY idx",
            (camera, name, session),
        )
        return [Path(row[0]) for row in rows]

    def is_timelapse_frame(self, camera: str, camera_path: str) -> bool:
        """Whether a camera file was already fetched as a timelapse frame."""
        rows = self._db.execute(
            "SELECT 1 FROM timelapse_frames WHERE camera = ? AND camera_path = ? LIMIT 1",
            (camera, camera_path),
        )
        return bool(rows)
