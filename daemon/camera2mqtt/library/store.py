"""What was downloaded: one row per camera file, in the daemon's SQLite state file.

A camera file is identified by the camera (its serial number or configured name), its DCF
folder, name, size and camera timestamp, so a new card that reuses ``P1010001.JPG`` brings
new photos and the same name in two folders is two photos. A row is written only after the
file is complete, fsynced and in place, and holds the local path, size, SHA-256 and when it
was downloaded. What counts as new comes from here, not from the folder: photos moved out
of the folder are not fetched again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from camera2mqtt.cameras.base import ImageRef
from camera2mqtt.statedb import StateDB

__all__ = [
    "COMPONENT",
    "MIGRATIONS",
    "DownloadStore",
    "Identity",
    "Record",
    "StoreSummary",
    "identity_text",
]

COMPONENT = "library"
MIGRATIONS = (
    """
    CREATE TABLE library_downloads (
        id INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        folder TEXT NOT NULL,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        taken TEXT NOT NULL,
        local_path TEXT NOT NULL UNIQUE,
        sha256 TEXT NOT NULL,
        downloaded_at TEXT NOT NULL,
        UNIQUE (camera, folder, name, size, taken)
    );
    """,
)
_COLUMNS = "camera, folder, name, size, taken, local_path, sha256, downloaded_at"


@dataclass(frozen=True, slots=True)
class Identity:
    """Which camera file a row stands for; ``taken`` is ISO camera time or ""."""

    camera: str
    folder: str
    name: str
    size: int
    taken: str

    @classmethod
    def of(cls, camera: str, ref: ImageRef) -> Identity:
        taken = ref.timestamp.isoformat(timespec="seconds") if ref.timestamp else ""
        folder, _, name = ref.path.rpartition("/")
        return cls(camera, "" if folder == "." else folder, name, ref.size, taken)

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.name}" if self.folder else self.name

    def key(self) -> tuple[str, str, str, int, str]:
        return (self.camera, self.folder, self.name, self.size, self.taken)

    @property
    def text(self) -> str:
        """The identity within one camera as one string (see :func:`identity_text`)."""
        return f"{self.path}\x00{self.size}\x00{self.taken}"


def identity_text(ref: ImageRef) -> str:
    """``path NUL size NUL taken`` of a listed file: what :meth:`DownloadStore.known`
    returns for recorded ones, built without an :class:`Identity` (a 10,000-file card is
    diffed in one pass)."""
    taken = ref.timestamp.isoformat(timespec="seconds") if ref.timestamp else ""
    path = ref.path
    if path.startswith("./"):
        path = path[2:]
    return f"{path}\x00{ref.size}\x00{taken}"


@dataclass(frozen=True, slots=True)
class Record:
    identity: Identity
    local_path: str
    sha256: str
    downloaded_at: str


@dataclass(frozen=True, slots=True)
class StoreSummary:
    camera: str
    files: int
    bytes: int
    first: str | None
    last: str | None


class DownloadStore:
    """The download records of every camera, in ``library_downloads`` of a :class:`StateDB`."""

    def __init__(self, db: StateDB) -> None:
        self._db = db
        db.migrate(COMPONENT, MIGRATIONS)

    def known(self, camera: str) -> set[str]:
        """The identity texts recorded for ``camera`` (one query, for diffing a listing)."""
        return set(
            self._db.column(
                "SELECT CASE folder WHEN '' THEN name ELSE folder || '/' || name END"
                " || char(0) || size || char(0) || taken"
                " FROM library_downloads WHERE camera = ?",
                (camera,),
            )
        )

    def count_new(self, camera: str, refs: Iterable[ImageRef]) -> int:
        """How many of ``refs`` (what ``camera`` lists) have no record: what a sync of the
        new photos would fetch."""
        known = self.known(camera)
        return sum(1 for ref in refs if identity_text(ref) not in known)

    def get(self, identity: Identity) -> Record | None:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM library_downloads"
            " WHERE camera = ? AND folder = ? AND name = ? AND size = ? AND taken = ?",
            identity.key(),
        )
        return _record(rows[0]) if rows else None

    def path_taken(self, local_path: str, *, by_other_than: Identity | None = None) -> bool:
        """Whether a record holds ``local_path`` (one of ``by_other_than``'s own does not
        count: a forced re-download may go back to its old path)."""
        holder = self.holders([local_path]).get(local_path)
        if holder is None:
            return False
        return by_other_than is None or holder != by_other_than.key()

    def holders(self, local_paths: Collection[str]) -> dict[str, tuple[object, ...]]:
        """The identity key (:meth:`Identity.key`) of the record holding each of
        ``local_paths`` that a record holds (one query for a batch of files)."""
        if not local_paths:
            return {}
        marks = ", ".join("?" * len(local_paths))
        rows = self._db.execute(
            "SELECT local_path, camera, folder, name, size, taken FROM library_downloads"
            f" WHERE local_path IN ({marks})",
            tuple(local_paths),
        )
        return {row[0]: tuple(row[1:]) for row in rows}

    def add(self, identity: Identity, *, local_path: str, sha256: str) -> Record:
        """Record a file that is complete and in place (replacing a forced re-download's row)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.transaction() as db:
            db.execute(
                "DELETE FROM library_downloads"
                " WHERE camera = ? AND folder = ? AND name = ? AND size = ? AND taken = ?",
                identity.key(),
            )
            db.execute(
                f"INSERT INTO library_downloads ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*identity.key(), local_path, sha256, now),
            )
        return Record(identity, local_path, sha256, now)

    def add_many(self, rows: list[tuple[Identity, str, str]]) -> None:
        """Record several placed files, ``(identity, local_path, sha256)``, in one commit."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._db.transaction() as db:
            db.executemany(
                "DELETE FROM library_downloads"
                " WHERE camera = ? AND folder = ? AND name = ? AND size = ? AND taken = ?",
                [identity.key() for identity, _path, _sha in rows],
            )
            db.executemany(
                f"INSERT INTO library_downloads ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(*identity.key(), path, sha, now) for identity, path, sha in rows],
            )

    def records(self, camera: str | None = None) -> list[Record]:
        sql = f"SELECT {_COLUMNS} FROM library_downloads"
        params: tuple[str, ...] = ()
        if camera is not None:
            sql += " WHERE camera = ?"
            params = (camera,)
        return [_record(row) for row in self._db.execute(sql + " ORDER BY taken, id", params)]

    def forget(self, camera: str, paths: Iterable[str] = ()) -> int:
        """Drop ``camera``'s records (only those whose camera path or local path is in
        ``paths`` when given) so the files are fetched again; returns how many."""
        wanted = set(paths)
        doomed = [
            record
            for record in self.records(camera)
            if not wanted or record.identity.path in wanted or record.local_path in wanted
        ]
        with self._db.transaction() as db:
            db.executemany(
                "DELETE FROM library_downloads WHERE local_path = ?",
                [(record.local_path,) for record in doomed],
            )
        return len(doomed)

    def summary(self) -> list[StoreSummary]:
        rows = self._db.execute(
            "SELECT camera, COUNT(*), SUM(size), MIN(downloaded_at), MAX(downloaded_at)"
            " FROM library_downloads GROUP BY camera ORDER BY camera"
        )
        return [StoreSummary(r[0], r[1], r[2] or 0, r[3], r[4]) for r in rows]


def _record(row: object) -> Record:
    camera, folder, name, size, taken, local_path, sha256, downloaded_at = tuple(row)  # type: ignore[call-overload]
    return Record(Identity(camera, folder, name, size, taken), local_path, sha256, downloaded_at)
