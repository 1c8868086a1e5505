"""Fetched frames from the Wi-Fi simulator (over HTTP) into session folders, and the MP4 that
ffmpeg makes of them."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.timelapse import CameraShooter, VideoError, assemble_video
from tests.timelapse.helpers import FakeClock, make_engine, run_for, timelapse

TIMEOUT = 10.0


@pytest.fixture
def camera(wifi_sim) -> Iterator[WifiCamera]:
    cam = WifiCamera("127.0.0.1", wifi_sim.port, timeout=TIMEOUT, shutter_hold=0.01)
    cam.connect()
    try:
        yield cam
    finally:
        cam.close()


def frame_count(video: Path) -> int:
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames,codec_name,width,height",
            "-of",
            "json",
            str(video),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == "h264"
    return int(stream["nb_read_frames"])


def test_frames_are_fetched_under_the_template_and_a_video_is_made(
    tmp_path, wifi_sim, camera
) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    photos = tmp_path / "photos"
    config = timelapse(interval=5, fetch=True, count=3, video_fps=5, photos_dir=photos)
    engine, recorder, db = make_engine([config], clock, tmp_path / "state.db")
    run_for(engine, clock, CameraShooter(camera), 60)

    folder = photos / "cam" / "timelapse" / "tl" / "2026-03-10"
    frames = sorted(p.name for p in folder.glob("*.jpg"))
    assert frames == ["00001.jpg", "00002.jpg", "00003.jpg"]
    rows = db.execute(
        "SELECT idx, camera_path, size, local_path FROM timelapse_frames ORDER BY idx"
    )
    assert [row["idx"] for row in rows] == [1, 2, 3]
    for row in rows:
        local = Path(row["local_path"])
        assert local.read_bytes() == wifi_sim.state.files[row["camera_path"]].read_bytes()
        assert local.stat().st_size == row["size"]
    assert not any(p.name.startswith(".") for p in folder.rglob("*") if p.is_file())

    (video,) = recorder.named("timelapse_video")
    assert video["path"] == str(folder / "tl-2026-03-10.mp4")
    assert frame_count(Path(video["path"])) == 3
    assert recorder.last("tl")["folder"] == str(folder)

    # A second session on the same date gets its own folder.
    engine.control("start", "tl")
    run_for(engine, clock, CameraShooter(camera), 60)
    second = photos / "cam" / "timelapse" / "tl" / "2026-03-10-2"
    assert sorted(p.name for p in second.glob("*.jpg")) == frames
    assert recorder.named("timelapse_video")[-1]["session"] == "2026-03-10-2"


def test_a_custom_template_names_frames_by_index(tmp_path, camera) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    config = timelapse(
        interval=5,
        fetch=True,
        count=2,
        photos_dir=tmp_path,
        path="lapses/{name}-{date}/frame{index:03d}.jpg",
    )
    engine, _, _ = make_engine([config], clock, tmp_path / "state.db")
    run_for(engine, clock, CameraShooter(camera), 60)
    folder = tmp_path / "lapses" / "tl-2026-03-10"
    assert sorted(p.name for p in folder.iterdir()) == ["frame001.jpg", "frame002.jpg"]


def test_odd_sized_frames_make_a_video(tmp_path) -> None:
    frames = []
    for number in range(4):
        path = tmp_path / f"f{number}.jpg"
        Image.new("RGB", (101, 75), (number * 60, 20, 200)).save(path)
        frames.append(path)
    video = assemble_video(frames, tmp_path / "out" / "v.mp4", fps=2)
    assert frame_count(video) == 4
    assert [p.name for p in video.parent.iterdir()] == ["v.mp4"]


def test_a_failed_video_leaves_no_file(tmp_path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(VideoError, match="ffmpeg failed"):
        assemble_video([broken], tmp_path / "v.mp4", fps=25)
    assert not (tmp_path / "v.mp4").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["broken.jpg"]


def test_ffmpeg_and_ffprobe_are_installed() -> None:
    # CI installs ffmpeg (.ci/run); the video tests above must not pass by skipping.
    assert shutil.which("ffmpeg") and shutil.which("ffprobe")
