"""What the Home Assistant side must remember across restarts, in the daemon's SQLite file.

Three tables of the ``homeassistant`` component of :class:`~camera2mqtt.statedb.StateDB`:

- ``ha_discovery``: every discovery config we left retained on the broker (topic, owner,
  payload), so that a restart can clear what is no longer wanted (a removed camera, a
  removed entity, a change of ``discovery_mode``) and knows what Home Assistant already has.
- ``ha_learned``: what each camera offered when it was last reached (model, capabilities,
  properties, readings), so a restart while it is away announces the same entities.
- ``ha_last_photo``: each camera's newest photo (path, time, thumbnail), so the last photo
  time and image survive a restart.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camera2mqtt.statedb import StateDB

__all__ = ["COMPONENT", "MIGRATIONS", "HomeAssistantStore", "LastPhoto", "SentConfig"]

log = logging.getLogger(__name__)

COMPONENT = "homeassistant"
MIGRATIONS = (
    "CREATE TABLE ha_discovery ("
    " topic TEXT PRIMARY KEY, owner TEXT NOT NULL, payload BLOB NOT NULL);"
    "CREATE TABLE ha_learned (camera TEXT PRIMARY KEY, data TEXT NOT NULL);"
    "CREATE TABLE ha_last_photo ("
    " camera TEXT PRIMARY KEY, path TEXT NOT NULL, taken TEXT NOT NULL, thumbnail BLOB)",
)

# The JSON files of earlier releases, read once into the tables and then removed.
_LEGACY_LEARNED = "cameras.json"
_LEGACY_DISCOVERY = "discovery.json"


@dataclass(frozen=True, slots=True)
class LastPhoto:
    """A camera's newest photo: its path on the card, when it was taken (ISO 8601)."""

    path: str
    taken: str
    thumbnail: bytes | None = None


@dataclass(frozen=True, slots=True)
class SentConfig:
    """A discovery config left retained on the broker."""

    topic: str
    owner: str
    payload: bytes


class HomeAssistantStore:
    """The ``homeassistant`` tables of the state file; safe to share between threads."""

    def __init__(self, db: StateDB, *, state_dir: Path | None = None) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)
        if state_dir is not None:
            self._import_legacy(Path(state_dir))

    # -- discovery ------------------------------------------------------------------------

    def sent_configs(self) -> list[SentConfig]:
        rows = self._db.execute("SELECT topic, owner, payload FROM ha_discovery ORDER BY topic")
        return [SentConfig(row[0], row[1], bytes(row[2])) for row in rows]

    def record_sent(self, topic: str, owner: str, payload: bytes) -> None:
        """Remember ``payload`` as retained on ``topic``; an empty payload forgets the topic."""
        if payload:
            self._db.execute(
                "INSERT INTO ha_discovery (topic, owner, payload) VALUES (?, ?, ?)"
                " ON CONFLICT(topic) DO UPDATE SET owner = excluded.owner,"
                " payload = excluded.payload",
                (topic, owner, payload),
            )
        else:
            self._db.execute("DELETE FROM ha_discovery WHERE topic = ?", (topic,))

    # -- learned camera data --------------------------------------------------------------

    def learned(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for row in self._db.execute("SELECT camera, data FROM ha_learned"):
            try:
                found[row[0]] = json.loads(row[1])
            except ValueError:
                log.warning("Ignoring unreadable learned data of camera %s", row[0])
        return found

    def save_learned(self, camera: str, data: object) -> None:
        self._db.execute(
            "INSERT INTO ha_learned (camera, data) VALUES (?, ?)"
            " ON CONFLICT(camera) DO UPDATE SET data = excluded.data",
            (camera, json.dumps(data, sort_keys=True)),
        )

    # -- last photo -----------------------------------------------------------------------

    def last_photo(self, camera: str) -> LastPhoto | None:
        rows = self._db.execute(
            "SELECT path, taken, thumbnail FROM ha_last_photo WHERE camera = ?", (camera,)
        )
        if not rows:
            return None
        thumbnail = rows[0][2]
        return LastPhoto(rows[0][0], rows[0][1], bytes(thumbnail) if thumbnail else None)

    def save_last_photo(self, camera: str, photo: LastPhoto) -> None:
        self._db.execute(
            "INSERT INTO ha_last_photo (camera, path, taken, thumbnail) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(camera) DO UPDATE SET path = excluded.path, taken = excluded.taken,"
            " thumbnail = excluded.thumbnail",
            (camera, photo.path, photo.taken, photo.thumbnail),
        )

    # -- earlier releases -----------------------------------------------------------------

    def _import_legacy(self, state_dir: Path) -> None:
        learned = _read_legacy(state_dir / _LEGACY_LEARNED, "cameras")
        if isinstance(learned, dict):
            for camera, data in learned.items():
                if isinstance(camera, str) and camera not in self.learned():
                    self.save_learned(camera, data)
        topics = _read_legacy(state_dir / _LEGACY_DISCOVERY, "discovery_topics")
        if isinstance(topics, list):
            known = {sent.topic for sent in self.sent_configs()}
            for topic in topics:
                if isinstance(topic, str) and topic.endswith("/config") and topic not in known:
                    # Its content is unknown; a placeholder that never equals a real config.
                    self.record_sent(topic, "", b"?")
        for name in (_LEGACY_LEARNED, _LEGACY_DISCOVERY):
            path = state_dir / name
            if path.exists():
                try:
                    path.unlink()
                    log.info("Moved %s into the state file", path)
                except OSError as error:
                    log.warning("Could not remove %s after reading it: %s", path, error)


def _read_legacy(path: Path, key: str) -> object:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("Ignoring %s: %s", path, error)
        return None
    return data.get(key) if isinstance(data, dict) else None
