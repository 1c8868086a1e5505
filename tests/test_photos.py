"""PhotoWatch against the Wi-Fi simulator over HTTP: what a look at the card finds, what a
newer photo leaves in the state, the memory and the thumbnail, and what a restart restores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from camera2mqtt.camera_state import CameraState
from camera2mqtt.cameras.base import CameraUnreachable, ImageRef
from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.config import WifiCameraConfig
from camera2mqtt.homeassistant.store import HomeAssistantStore, LastPhoto
from camera2mqtt.library import DownloadStore
from camera2mqtt.photos import PhotoWatch, file_json
from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.wifi import WifiSimulator
from camera2mqtt.sim.wifi.liveview import RtpStreamer
from camera2mqtt.statedb import StateDB
from tests.conftest import WIFI_MODEL

FOLDER = "/DCIM/100OLYMP"


@pytest.fixture
def sim() -> Iterator[WifiSimulator]:
    with WifiSimulator(WIFI_MODEL, liveview=RtpStreamer()) as simulator:
        simulator.state.swap_card()
        yield simulator


@pytest.fixture
def camera(sim: WifiSimulator) -> Iterator[WifiCamera]:
    cam = WifiCamera("127.0.0.1", sim.port, timeout=5.0)
    cam.connect()
    try:
        yield cam
    finally:
        cam.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[StateDB]:
    with StateDB.in_state_dir(tmp_path / "state") as state_db:
        yield state_db


def add(sim: WifiSimulator, name: str, hour: int) -> None:
    jpeg = make_jpeg(64, 48, name)
    sim.state.add_file(FOLDER, name, jpeg, datetime(2024, 5, 17, hour, 0, 0))


class Watch:
    """A PhotoWatch and what it told the worker."""

    def __init__(self, db: StateDB, tmp_path: Path, *, skip=lambda ref: False) -> None:
        self.state = CameraState()
        self.memory = HomeAssistantStore(db)
        self.store = DownloadStore(db)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.thumbnails: list[bytes | None] = []
        self.watch = PhotoWatch(
            WifiCameraConfig(name="cam", download_dir=tmp_path / "photos"),
            self.store,
            state=self.state,
            memory=self.memory,
            skip=skip,
            publish_event=lambda event, **fields: self.events.append((event, fields)),
            on_photo=self.thumbnails.append,
        )


def test_a_look_counts_the_card_and_records_the_newest_photo(sim, camera, db, tmp_path):
    add(sim, "P5170001.JPG", 9)
    add(sim, "P5170002.JPG", 10)
    seen = Watch(db, tmp_path)
    seen.watch.look(camera, announce=False)  # the first look after connecting: no event
    newest = f"{FOLDER}/P5170002.JPG"
    assert seen.events == []
    assert seen.state.photos_on_card == 2 and seen.state.photos_waiting == 2
    assert seen.state.last_photo == newest and seen.state.last_photo_time is not None
    [thumbnail] = seen.thumbnails
    assert thumbnail is not None and thumbnail.startswith(b"\xff\xd8")
    assert seen.memory.last_photo("cam") == LastPhoto(newest, seen.state.last_photo_time, thumbnail)
    seen.watch.look(camera)  # nothing new: nothing recorded again
    assert seen.events == [] and len(seen.thumbnails) == 1
    add(sim, "P5170003.JPG", 11)
    seen.watch.look(camera)
    [(event, fields)] = seen.events
    assert event == "photo_taken" and fields["source"] == "camera"
    assert [item["path"] for item in fields["files"]] == [f"{FOLDER}/P5170003.JPG"]
    assert seen.state.photos_on_card == 3 and len(seen.thumbnails) == 2


def test_skipped_files_do_not_wait_for_a_sync(sim, camera, db, tmp_path):
    add(sim, "P5170001.JPG", 9)
    add(sim, "P5170002.JPG", 10)
    seen = Watch(db, tmp_path, skip=lambda ref: ref.name == "P5170001.JPG")
    seen.watch.look(camera)
    assert seen.state.photos_on_card == 2 and seen.state.photos_waiting == 1


def test_a_restart_restores_the_remembered_photo(sim, camera, db, tmp_path):
    add(sim, "P5170001.JPG", 9)
    Watch(db, tmp_path).watch.look(camera)
    again = Watch(db, tmp_path)
    thumbnail = again.watch.restore()
    assert thumbnail is not None
    assert again.state.last_photo == f"{FOLDER}/P5170001.JPG"
    # What was restored is not new: the next look announces nothing.
    again.watch.look(camera)
    assert again.events == [] and again.thumbnails == []
    nothing = PhotoWatch(
        WifiCameraConfig(name="cam", download_dir=tmp_path),
        None,
        state=CameraState(),
        memory=None,
        skip=lambda ref: False,
        publish_event=lambda event, **fields: None,
        on_photo=lambda thumbnail: None,
    )
    assert nothing.restore() is None


def test_a_camera_gone_while_looking_is_raised(sim, camera, db, tmp_path):
    add(sim, "P5170001.JPG", 9)
    seen = Watch(db, tmp_path)
    sim.stop()
    with pytest.raises(CameraUnreachable):
        seen.watch.look(camera)
    assert seen.state.last_photo is None and seen.thumbnails == []


def test_file_json_is_what_events_and_replies_carry():
    ref = ImageRef(f"{FOLDER}/P5170001.JPG", 1234, datetime(2024, 5, 17, 9, 0, 0))
    assert file_json(ref) == {
        "path": f"{FOLDER}/P5170001.JPG",
        "size": 1234,
        "timestamp": "2024-05-17T09:00:00",
    }
