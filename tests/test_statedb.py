"""The shared SQLite state file: WAL, per-component schema versions, migrations."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from camera2mqtt.statedb import STATE_DB_FILE, StateDB, StateDBError

V1 = "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"
V2 = "ALTER TABLE things ADD COLUMN size INTEGER; CREATE INDEX things_name ON things (name)"


def test_new_file_is_wal_and_migrates_from_zero(tmp_path: Path) -> None:
    with StateDB.in_state_dir(tmp_path / "state") as db:
        assert db.path == tmp_path / "state" / STATE_DB_FILE
        assert db.execute("PRAGMA journal_mode")[0][0] == "wal"
        assert db.version("things") == 0
        db.migrate("things", [V1])
        assert db.version("things") == 1
        db.execute("INSERT INTO things (name) VALUES (?)", ("a",))


def test_reopen_applies_only_the_new_migrations(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.migrate("things", [V1])
        db.execute("INSERT INTO things (name) VALUES ('kept')")
    with StateDB(tmp_path / "s.db") as db:
        db.migrate("things", [V1, V2])
        assert db.version("things") == 2
        rows = db.execute("SELECT name, size FROM things")
        assert [(row["name"], row["size"]) for row in rows] == [("kept", None)]
        db.migrate("things", [V1, V2])  # nothing left to do
        assert db.version("things") == 2


def test_components_have_their_own_versions(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.migrate("things", [V1, V2])
        db.migrate("other", ["CREATE TABLE other (x INTEGER)"])
        assert (db.version("things"), db.version("other")) == (2, 1)


def test_a_newer_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.migrate("things", [V1, V2])
    with StateDB(tmp_path / "s.db") as db, pytest.raises(StateDBError, match="newer than"):
        db.migrate("things", [V1])


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.migrate("things", [V1])
        with pytest.raises(sqlite3.Error):
            db.migrate("things", [V1, "ALTER TABLE things ADD COLUMN size INTEGER; BROKEN SQL"])
        assert db.version("things") == 1
        assert "size" not in {row["name"] for row in db.execute("PRAGMA table_info(things)")}


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.migrate("things", [V1])
        with pytest.raises(RuntimeError), db.transaction() as conn:
            conn.execute("INSERT INTO things (name) VALUES ('lost')")
            raise RuntimeError("boom")
        assert db.execute("SELECT count(*) FROM things")[0][0] == 0


def test_threads_share_one_connection(tmp_path: Path) -> None:
    with StateDB(tmp_path / "s.db") as db:
        db.migrate("things", [V1])

        def insert(prefix: str) -> None:
            for i in range(50):
                db.execute("INSERT INTO things (name) VALUES (?)", (f"{prefix}{i}",))

        threads = [threading.Thread(target=insert, args=(p,)) for p in "abcd"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert db.execute("SELECT count(*) FROM things")[0][0] == 200


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateDBError, match="state_dir"):
        StateDB(blocker / "sub" / "s.db")
