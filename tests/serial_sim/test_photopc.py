"""Debian's photopc, the protocol author's client, run unmodified against the simulator."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.serial import SerialSimulator

PHOTOPC = shutil.which("photopc")
pytestmark = pytest.mark.skipif(
    PHOTOPC is None, reason="photopc is not installed (Debian package photopc; CI installs it)"
)

RUN_TIMEOUT_S = 90  # photopc's own retries stay far below this


def photopc(sim: SerialSimulator, *args: str) -> subprocess.CompletedProcess[str]:
    assert PHOTOPC is not None
    return subprocess.run(
        [PHOTOPC, "-l", sim.slave_path, *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"photopc failed ({result.returncode}): {result.stderr}"
    return result.stdout


@pytest.fixture
def sim() -> Iterator[SerialSimulator]:
    with SerialSimulator(idle_reset_s=None) as simulator:
        yield simulator


def test_query(sim: SerialSimulator) -> None:
    out = ok(photopc(sim, "query"))
    assert 'Model: "OLYMPUS DIGITAL CAMERA"' in out
    assert 'Manufacturer: "OLYMPUS OPTICAL CO.,LTD"' in out
    assert "Frames in folder: 3" in out
    assert f"Battery: {sim.state.battery}%" in out
    assert sim.state.speed == 19200  # photopc ends with "reg 17 = 0"
    assert any(c.register == 17 and c.argument[0] == 5 for c in sim.command_log)


def test_count(sim: SerialSimulator) -> None:
    assert ok(photopc(sim, "count")).strip().splitlines()[-1] == "3"


def test_list(sim: SerialSimulator) -> None:
    out = ok(photopc(sim, "list"))
    for number, (name, data) in enumerate(sim.state.frames, start=1):
        assert any(
            line.split()[:2] == [str(number), str(len(data))] and line.endswith(name)
            for line in out.splitlines()
        ), out


def test_image_is_byte_identical(sim: SerialSimulator, tmp_path: Path) -> None:
    target = tmp_path / "frame1.jpg"
    ok(photopc(sim, "-q", "image", "1", str(target)))
    assert target.read_bytes() == sim.state.frames[0][1]
    assert len(target.read_bytes()) >= 500_000


def test_thumbnail(sim: SerialSimulator, tmp_path: Path) -> None:
    target = tmp_path / "thumb1.jpg"
    ok(photopc(sim, "-q", "thumbnail", "1", str(target)))
    name, data = sim.state.frames[0]
    assert target.read_bytes() == sim.state.thumbnail(name, data)
    assert target.read_bytes().startswith(b"\xff\xd8")


def test_snapshot_adds_a_frame(sim: SerialSimulator, tmp_path: Path) -> None:
    out = ok(photopc(sim, "-q", "snapshot", "count"))
    assert out.strip().splitlines()[-1] == "4"
    target = tmp_path / "new.jpg"
    ok(photopc(sim, "-q", "image", "4", str(target)))
    assert target.read_bytes() == sim.state.frames[3][1]


def test_preview(sim: SerialSimulator, tmp_path: Path) -> None:
    target = tmp_path / "preview.jpg"
    ok(photopc(sim, "-q", "preview", str(target)))
    assert target.read_bytes() == sim.state.preview
    assert target.read_bytes().startswith(b"\xff\xd8")


def test_recovers_from_a_checksum_error(sim: SerialSimulator, tmp_path: Path) -> None:
    sim.faults.corrupt_packets = 1
    target = tmp_path / "frame3.jpg"
    result = photopc(sim, "-q", "image", "3", str(target))
    ok(result)
    assert "Error 10005" in result.stderr  # photopc saw the bad checksum and sent NAK
    assert sim.protocol.naks_received >= 1
    assert target.read_bytes() == sim.state.frames[2][1]


def test_recovers_from_a_missing_reply(sim: SerialSimulator) -> None:
    sim.faults.missing_reply = True  # the init byte goes unanswered; photopc retries
    assert ok(photopc(sim, "count")).strip().splitlines()[-1] == "3"


def test_session_speed_option(sim: SerialSimulator) -> None:
    assert ok(photopc(sim, "-s", "19200", "count")).strip().splitlines()[-1] == "3"
    assert not any(c.register == 17 and c.argument[:1] == b"\x05" for c in sim.command_log)


# Real-time pacing at the model's baud rate is what it checks.
@pytest.mark.slow
def test_paced_download_at_a_capped_model(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    picture = make_jpeg(320, 240, "small", seed=5)
    (images / "P1010001.JPG").write_bytes(picture)
    with SerialSimulator("c-420l", images_dir=images, pace=True, idle_reset_s=None) as sim:
        target = tmp_path / "paced.jpg"
        ok(photopc(sim, "-q", "-s", "57600", "image", "1", str(target)))
        assert target.read_bytes() == picture
        speeds = {c.speed for c in sim.command_log}
        assert 57600 in speeds


def test_speed_above_the_model_cap_fails_cleanly(tmp_path: Path) -> None:
    with SerialSimulator("c-420l", idle_reset_s=None) as sim:
        result = photopc(sim, "count")  # asks for 115200, the C-420L stops at 57600
        assert result.returncode != 0
        assert sim.state.speed == 19200


def test_erase_on_the_c2020z(sim: SerialSimulator) -> None:
    first, _, third = sim.state.frames
    result = photopc(sim, "erase", "2")
    # the C-2020Z ends the session after an erase (seed 002): photopc's goodbye goes
    # unanswered, which it reports, but the frame is gone and the next run is fine
    assert result.returncode == 0, result.stderr
    assert sim.state.frames == [first, third]
    assert ok(photopc(sim, "count")).strip().splitlines()[-1] == "2"
