"""Fixtures: the Wi-Fi simulator with a card the tests fill, a connected driver, a store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.library import DownloadStore, SyncJob, SyncOptions
from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.wifi.liveview import RtpStreamer
from camera2mqtt.sim.wifi.server import WifiSimulator
from camera2mqtt.statedb import StateDB

TIMEOUT = 10.0
FOLDER = "/DCIM/100OLYMP"
NO_RETRY_WAIT = (0.0, 0.0, 0.0)


def photo_bytes(tag: str, size: int = 3000) -> bytes:
    """A small real JPEG (the camera makes thumbnails of it) padded to ``size`` bytes with
    bytes distinct per ``tag`` (decoders ignore what follows the end of the image)."""
    seed = hashlib.sha256(tag.encode()).digest()
    jpeg = make_jpeg(16, 16, tag[:8], seed=seed[0])
    assert len(jpeg) < size, "photo sizes start above a kilobyte"
    return (jpeg + seed * (size // len(seed) + 1))[:size]


@pytest.fixture
def sim() -> Iterator[WifiSimulator]:
    with WifiSimulator("e-m1-iii", liveview=RtpStreamer()) as simulator:
        simulator.state.swap_card()
        yield simulator


@pytest.fixture
def camera(sim: WifiSimulator) -> Iterator[WifiCamera]:
    cam = WifiCamera("127.0.0.1", sim.port, timeout=TIMEOUT)
    cam.connect()
    try:
        yield cam
    finally:
        cam.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DownloadStore]:
    with StateDB.in_state_dir(tmp_path / "state") as db:
        yield DownloadStore(db)


def add(sim: WifiSimulator, name: str, tag: str, *, folder: str = FOLDER, when=None, size=3000):
    taken = when or datetime(2024, 5, 17, 10, 30, 0)
    return sim.state.add_file(folder, name, photo_bytes(tag, size), taken)


def new_job(camera, store, out: Path, options: SyncOptions | None = None, **arguments) -> SyncJob:
    """A sync job of the camera ``cam`` into ``out``; ``arguments`` go to SyncJob."""
    return SyncJob(
        camera,
        store,
        camera_id="cam",
        camera_name="cam",
        download_dir=out,
        options=options or SyncOptions(),
        **arguments,
    )


def sync(camera, store, out: Path, **options) -> SyncJob:
    options.setdefault("retry_delays", NO_RETRY_WAIT)
    job = new_job(camera, store, out, SyncOptions(**options))
    job.run()
    return job


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
