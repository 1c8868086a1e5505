"""The daemon's one SQLite file under ``state_dir``: what must survive a restart.

Each part of the program that keeps state (the photo library, timelapses, ...) owns its own
tables and brings its own ordered list of migrations. :meth:`StateDB.migrate` applies the
ones a file has not seen yet, each in one transaction, and records the part's schema version
in the ``schema_versions`` table, so parts evolve independently and an older file is brought
up to date on start. A file written by a newer release (a version above what this release
knows) is refused with a clear error rather than silently misread.

The connection runs in WAL mode with ``synchronous=NORMAL``: a crash (even SIGKILL or a power
cut) never corrupts the file, and a committed row survives a process crash. Calls are
serialised by a lock, so one :class:`StateDB` may be shared by the threads of the daemon.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from camera2mqtt.errors import Camera2MqttError

__all__ = ["STATE_DB_FILE", "StateDB", "StateDBError"]

log = logging.getLogger(__name__)

STATE_DB_FILE = "camera2mqtt.sqlite3"
BUSY_TIMEOUT = 10.0  # seconds to wait for another process holding the write lock


class StateDBError(Camera2MqttError):
    """The state file cannot be opened, is damaged, or comes from a newer release."""


class StateDB:
    """One SQLite file, shared by the parts of the daemon that keep state."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, check_same_thread=False, isolation_level=None
            )
            self._connection.row_factory = sqlite3.Row
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._connection.execute("PRAGMA foreign_keys=ON")
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions ("
                " component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
        except (OSError, sqlite3.Error) as error:
            raise StateDBError(
                f"Cannot open the state file {self.path}: {error}. Check that state_dir is a "
                "folder the service may write to."
            ) from None
        self._lock = threading.RLock()

    @classmethod
    def in_state_dir(cls, state_dir: Path | str) -> StateDB:
        return cls(Path(state_dir) / STATE_DB_FILE)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> StateDB:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    def version(self, component: str) -> int:
        """The schema version of ``component`` in this file; 0 before its first migration."""
        with self._lock:
            row = self._connection.execute(
                "SELECT version FROM schema_versions WHERE component = ?", (component,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def migrate(self, component: str, migrations: Sequence[str]) -> None:
        """Bring ``component``'s tables to ``len(migrations)``.

        ``migrations[i]`` is the SQL script that takes the schema from version ``i`` to
        ``i + 1``; scripts are never edited once released, only appended.
        """
        with self._lock:
            current = self.version(component)
            if current > len(migrations):
                raise StateDBError(
                    f"{self.path} holds {component} schema version {current}, newer than this "
                    f"release knows ({len(migrations)}); upgrade camera2mqtt or move the file "
                    "away."
                )
            for version in range(current, len(migrations)):
                statements = [s for s in migrations[version].split(";") if s.strip()]
                with self.transaction() as db:
                    for statement in statements:
                        db.execute(statement)
                    db.execute(
                        "INSERT INTO schema_versions (component, version) VALUES (?, ?)"
                        " ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                        (component, version + 1),
                    )
                log.info("State file: %s schema now at version %d", component, version + 1)

    # -- queries --------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``with db.transaction() as conn:`` runs statements atomically (BEGIN IMMEDIATE)."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run one statement (autocommit) and return all its rows."""
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    def column(self, sql: str, parameters: Sequence[object] = ()) -> list[object]:
        """The first column of every row (no row objects: for large result sets)."""
        with self._lock:
            cursor = self._connection.cursor()
            cursor.row_factory = None
            return [row[0] for row in cursor.execute(sql, parameters)]

    def executemany(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        with self.transaction() as db:
            db.executemany(sql, rows)
