"""SyncRunner against the Wi-Fi simulator over HTTP: the events, state and reply of a
download command, without the daemon around it."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from camera2mqtt.camera_state import SYNC_IDLE, SYNC_RUNNING, CameraState
from camera2mqtt.cameras.base import CameraError
from camera2mqtt.config import AllowConfig, LibraryConfig, WifiCameraConfig
from camera2mqtt.library import SyncCancelled
from camera2mqtt.library.runner import SyncRunner, camera_id
from tests.library.conftest import FOLDER, add, files_under, photo_bytes


class Recorder:
    """The worker's side of a runner: what it published and when ``between_files`` ran."""

    def __init__(self, state: CameraState) -> None:
        self.state = state
        self.effects: list[tuple[str, Any]] = []
        self.on_between: list[Any] = []

    def publish_event(self, event: str, **fields: Any) -> None:
        self.effects.append((event, fields))

    def publish_state(self) -> None:
        self.effects.append(("state", (self.state.sync_state, self.state.photos_waiting)))

    def between_files(self) -> None:
        self.effects.append(("between", None))
        for action in self.on_between:
            action()

    def names(self) -> list[str]:
        return [name for name, _ in self.effects if name not in ("sync_progress",)]


def runner_for(
    store,
    out: Path,
    *,
    skip=lambda ref: False,
    cancel: threading.Event | None = None,
    **config: Any,
) -> tuple[SyncRunner, Recorder]:
    recorder = Recorder(CameraState())
    runner = SyncRunner(
        WifiCameraConfig(name="cam", download_dir=out, **config),
        store,
        state=recorder.state,
        cancel=cancel or threading.Event(),
        skip=skip,
        between_files=recorder.between_files,
        publish_event=recorder.publish_event,
        publish_state=recorder.publish_state,
    )
    return runner, recorder


def test_new_photos_are_fetched_with_events_state_and_reply(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "a")
    add(sim, "P5180002.JPG", "b", when=datetime(2024, 5, 18, 8, 0, 0))
    out = tmp_path / "photos"
    runner, seen = runner_for(store, out)
    reply = runner.run(camera)
    assert [item["path"] for item in reply["files"]] == [
        f"{FOLDER}/P5170001.JPG",
        f"{FOLDER}/P5180002.JPG",
    ]
    assert files_under(out) == {
        "2024/05/17/P5170001.JPG": photo_bytes("a"),
        "2024/05/18/P5180002.JPG": photo_bytes("b"),
    }
    names = seen.names()
    assert names[:2] == ["state", "sync_started"]
    assert names[-2:] == ["sync_finished", "state"]
    # between_files runs after every step: each file, and each wait for the disk after.
    assert names.count("downloaded") == 2 and names.count("between") >= 2
    assert seen.effects[0] == ("state", (SYNC_RUNNING, 2))
    assert seen.effects[1] == ("sync_started", {"files_total": 2})
    assert ("sync_finished", {"done": 2, "skipped": 0, "failed": 0}) in seen.effects
    assert seen.effects[-1] == ("state", (SYNC_IDLE, 0))
    state = seen.state
    assert state.counters.downloads == 2 and state.last_sync is not None
    # The store is keyed by the camera's serial number, else by its configured name.
    assert len(store.records(camera_id(camera, "cam"))) == 2
    again, seen_again = runner_for(store, out)
    assert again.run(camera)["files"] == []
    assert seen_again.names().count("downloaded") == 0


def test_every_wanted_file_failing_is_an_error_after_the_sync_finished(
    sim, camera, store, tmp_path
):
    add(sim, "P5170001.JPG", "a")
    runner, seen = runner_for(store, tmp_path / "photos")
    with pytest.raises(CameraError, match=r"^nope.JPG is not on the camera; .*\(2 files failed\)"):
        runner.run(camera, paths=("nope.JPG", "gone.JPG"))
    assert ("sync_finished", {"done": 0, "skipped": 0, "failed": 2}) in seen.effects
    # Paths not on the camera fail while planning: they are in the reply, not events.
    assert "download_failed" not in seen.names()
    assert seen.state.sync_state == SYNC_IDLE and seen.state.photos_waiting == 1


def test_a_file_failing_on_its_own_is_an_event_and_alone_an_error(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "a")
    sim.faults.add_listing_line(FOLDER, "/DCIM/../..,EVIL3.JPG,100,32,22705,20000")
    evil = "/DCIM/../../EVIL3.JPG"
    runner, seen = runner_for(store, tmp_path / "photos")
    with pytest.raises(CameraError, match="escape") as raised:
        runner.run(camera, paths=(evil,))
    assert "files failed" not in str(raised.value)
    [failed] = [fields for name, fields in seen.effects if name == "download_failed"]
    assert failed["file"]["path"] == evil
    runner, seen = runner_for(store, tmp_path / "photos")
    reply = runner.run(camera)  # one file done: the failure is in the reply, not an error
    assert reply["done_count"] == 1 and reply["failed_count"] == 1
    assert seen.names().count("download_failed") == 1


def test_skipped_files_and_erasing_follow_the_configuration(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "a")
    add(sim, "P5170002.JPG", "frame")
    frame = f"{FOLDER}/P5170002.JPG"
    library = LibraryConfig(delete_after_download=True)
    # delete_after_download needs allow.erase: without it the card is left alone.
    runner, _ = runner_for(
        store, tmp_path / "kept", skip=lambda ref: ref.path == frame, library=library
    )
    reply = runner.run(camera)
    assert [item["path"] for item in reply["files"]] == [f"{FOLDER}/P5170001.JPG"]
    assert set(sim.state.files) == {f"{FOLDER}/P5170001.JPG", frame}
    runner, _ = runner_for(
        store, tmp_path / "erased", library=library, allow=AllowConfig(erase=True)
    )
    reply = runner.run(camera, which="all", force=True)
    assert reply["files"] and all(item["erased"] for item in reply["files"])
    assert sim.state.files == {}


def test_a_cancel_between_files_ends_the_sync_idle(sim, camera, store, tmp_path):
    for number in range(3):
        add(sim, f"P517000{number}.JPG", str(number))
    cancel = threading.Event()
    runner, seen = runner_for(store, tmp_path / "photos", cancel=cancel)
    seen.on_between.append(cancel.set)
    with pytest.raises(SyncCancelled):
        runner.run(camera)
    finished = [fields for name, fields in seen.effects if name == "sync_finished"]
    assert finished == [{"done": 1, "skipped": 0, "failed": 0}]
    assert seen.state.sync_state == SYNC_IDLE and seen.state.photos_waiting == 2
    assert seen.state.counters.downloads == 1
