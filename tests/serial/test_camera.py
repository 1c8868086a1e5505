"""SerialCamera against the simulated camera over a real pty, one operation at a time."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
import serial

from camera2mqtt.cameras.base import (
    CameraError,
    Capability,
    InvalidCommand,
    NotAllowed,
    TransferError,
    Unsupported,
)
from camera2mqtt.cameras.serial import SerialCamera
from camera2mqtt.cameras.serial.registers import Register
from camera2mqtt.files import TEMP_PREFIX
from camera2mqtt.sim.serial import SerialSimulator

SET_INT, GET_INT, ACTION, SET_VAR, GET_VAR = range(5)


def test_connect_reads_identity_and_negotiates_speed(
    sim: SerialSimulator, camera: SerialCamera
) -> None:
    info = camera.info
    assert info.model == "OLYMPUS DIGITAL CAMERA"
    assert info.manufacturer == "OLYMPUS OPTICAL CO.,LTD"
    assert info.firmware == "SR954"
    assert info.serial_number == "000000000"
    assert {Capability.DOWNLOAD, Capability.SHOOT, Capability.SNAPSHOT} <= info.capabilities
    assert camera.line_speed == 115200
    assert sim.host_speed == 115200
    first = sim.command_log[0]
    assert (first.opcode, first.register, first.argument, first.first) == (
        SET_INT,
        Register.SPEED,
        bytes((5, 0, 0, 0)),
        True,
    )
    assert not any(c.first for c in sim.command_log[1:])


def test_status(camera: SerialCamera, sim: SerialSimulator) -> None:
    status = camera.status()
    assert status.battery_percent == sim.state.battery
    assert status.frames_taken == len(sim.state.frames)
    assert status.frames_left == sim.state.frames_left
    assert status.card_present is True
    assert status.mode == "record"


def test_list_images_matches_the_card(camera: SerialCamera, sim: SerialSimulator) -> None:
    refs = camera.list_images()
    assert [(r.index, r.name, r.size) for r in refs] == [
        (n, name, len(data)) for n, (name, data) in enumerate(sim.state.frames, start=1)
    ]
    assert all(isinstance(r.timestamp, datetime) for r in refs)


def test_frame_registers_are_read_only_after_selecting_the_frame(
    camera: SerialCamera, sim: SerialSimulator, tmp_path: Path
) -> None:
    sim.clear_log()
    camera.download(camera.image(2), tmp_path)
    log = sim.command_log
    for i, command in enumerate(log):
        if command.opcode in (GET_INT, GET_VAR) and command.register in (12, 13, 14, 15, 47):
            previous = [c for c in log[:i] if c.opcode == SET_INT and c.register == Register.FRAME]
            assert previous and previous[-1].argument == bytes((2, 0, 0, 0))


def test_download_every_frame_byte_identical(
    camera: SerialCamera, sim: SerialSimulator, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    for ref in camera.list_images():
        path = camera.download(ref, tmp_path, progress=lambda d, t: seen.append((d, t)))
        assert path == tmp_path / ref.name
        assert path.read_bytes() == sim.state.frames[ref.index - 1][1]
        assert ref.timestamp is not None
        assert path.stat().st_mtime == ref.timestamp.timestamp()
    assert seen[-1][0] == seen[-1][1] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [n for n, _ in sim.state.frames]


def test_thumbnail_and_snapshot_are_jpegs(camera: SerialCamera) -> None:
    ref = camera.list_images()[0]
    thumb = camera.thumbnail(ref)
    assert thumb.startswith(b"\xff\xd8") and thumb.endswith(b"\xff\xd9")
    assert len(thumb) < ref.size
    snap = camera.snapshot()
    assert snap.startswith(b"\xff\xd8") and snap.endswith(b"\xff\xd9")
    assert camera.snapshot() != snap  # a fresh preview each time


def test_shoot_returns_the_new_frame(camera: SerialCamera, sim: SerialSimulator) -> None:
    before = len(sim.state.frames)
    refs = camera.shoot()
    assert len(refs) == 1
    ref = refs[0]
    assert ref.index == before + 1 == len(sim.state.frames)
    name, data = sim.state.frames[-1]
    assert (ref.name, ref.size) == (name, len(data))
    assert camera.read_image(ref.index) == data


def test_clock_set_and_read(camera: SerialCamera, sim: SerialSimulator) -> None:
    when = datetime(2001, 2, 3, 4, 5, 6)
    camera.set_clock(when)
    assert abs(sim.state.clock - when.timestamp()) < 5
    assert abs((camera.clock() - when).total_seconds()) < 5
    camera.set_clock()
    assert abs((camera.clock() - datetime.now()).total_seconds()) < 5


def test_properties(camera: SerialCamera, sim: SerialSimulator) -> None:
    props = {p.name: p for p in camera.properties()}
    assert props["flash"].value == "auto"
    assert "off" in props["flash"].allowed and props["flash"].writable
    camera.set_property("flash", "off")
    assert sim.state.int_registers[Register.FLASH] == 2
    assert camera.get_property("flash").value == "off"
    camera.set_property("lcd_brightness", "7")
    assert camera.get_property("lcd_brightness").value == "7"
    with pytest.raises(InvalidCommand, match="auto, force, off"):
        camera.set_property("flash", "sometimes")
    with pytest.raises(InvalidCommand, match="1 to 7"):
        camera.set_property("lcd_brightness", "9")
    with pytest.raises(InvalidCommand, match="known settings"):
        camera.get_property("zoom_lens")


def test_raw_register_access(camera: SerialCamera, sim: SerialSimulator) -> None:
    assert camera.read_register(10) == len(sim.state.frames)
    assert camera.read_register(27) == "OLYMPUS DIGITAL CAMERA"
    assert camera.read_register(Register.FILENAME, frame=1) == sim.state.frames[0][0]
    with pytest.raises(InvalidCommand, match="frame number"):
        camera.read_register(Register.IMAGE_SIZE)
    camera.write_register(Register.FLASH, 1)
    assert sim.state.int_registers[Register.FLASH] == 1


def test_erase_is_off_unless_allowed(camera: SerialCamera, sim: SerialSimulator) -> None:
    ref = camera.list_images()[0]
    with pytest.raises(NotAllowed, match=r"allow\.erase"):
        camera.erase(ref)
    with pytest.raises(NotAllowed):
        camera.erase_all()
    assert len(sim.state.frames) == 3
    assert not [c for c in sim.command_log if c.opcode == ACTION]


def test_erase_when_allowed(sim: SerialSimulator) -> None:
    with SerialCamera(sim.slave_path, allow_erase=True) as camera:
        assert isinstance(camera, SerialCamera)
        first, second, _ = camera.list_images()
        camera.erase(first)
        assert sim.state.frames[0][0] == second.name
        camera.erase_all()
        assert sim.state.frames == []
        assert camera.list_images() == []


def test_session_ends_back_at_19200(sim: SerialSimulator) -> None:
    camera = SerialCamera(sim.slave_path)
    camera.connect()
    camera.close()
    last = sim.command_log[-1]
    assert (last.opcode, last.register, last.argument, last.first) == (
        SET_INT,
        Register.SPEED,
        bytes((2, 0, 0, 0)),
        True,
    )
    assert sim.state.speed == 19200
    camera.close()  # twice is fine


def test_cancelled_download_leaves_nothing_and_the_link_in_step(
    camera: SerialCamera, sim: SerialSimulator, tmp_path: Path
) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > 100_000:
            cancel.set()

    ref = camera.list_images()[0]
    with pytest.raises(TransferError, match="cancelled"):
        camera.download(ref, tmp_path, progress=progress, cancel=cancel)
    assert list(tmp_path.iterdir()) == []
    # The next operations work.
    assert camera.status().frames_taken == 3
    path = camera.download(camera.list_images()[2], tmp_path)
    assert path.read_bytes() == sim.state.frames[2][1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_caller_may_hand_over_an_open_port(sim: SerialSimulator) -> None:
    port = serial.Serial(sim.slave_path, 19200, timeout=0.1)
    try:
        camera = SerialCamera(port)
        camera.connect()
        assert camera.frame_count() == 3
        camera.close()
        assert port.is_open  # the caller's port stays the caller's
    finally:
        port.close()


def test_from_config_reads_the_serial_section(sim: SerialSimulator) -> None:
    class Allow:
        erase = True

    class Section:
        port = sim.slave_path
        speed = 57600
        model = "c-2020z"
        allow = Allow()

    with SerialCamera.from_config(Section()) as camera:
        assert isinstance(camera, SerialCamera)
        assert camera.line_speed == 57600
        assert sim.host_speed == 57600


def test_download_refuses_a_stale_reference(sim: SerialSimulator, tmp_path: Path) -> None:
    with SerialCamera(sim.slave_path, allow_erase=True) as camera:
        first, second, _ = camera.list_images()
        camera.erase(first)
        with pytest.raises(CameraError, match="card changed"):
            camera.download(second, tmp_path)  # frame 2 is now the third picture
        assert list(tmp_path.iterdir()) == []


def test_raw_and_power_off_are_refused_by_name_not_a_type_error(camera: SerialCamera) -> None:
    # The configured model once hid Camera._model(), so these raised TypeError.
    with pytest.raises(Unsupported, match="OLYMPUS DIGITAL CAMERA"):
        camera.raw("get_caminfo")
    with pytest.raises(Unsupported, match="power off"):
        camera.power_off()


def test_a_clock_time_outside_the_register_is_a_clear_error(
    camera: SerialCamera, sim: SerialSimulator
) -> None:
    sent = len(sim.command_log)
    for moment in (datetime(1, 1, 1), datetime(9999, 12, 31)):
        with pytest.raises(InvalidCommand, match="between 1970 and 2106"):
            camera.set_clock(moment)
    assert len(sim.command_log) == sent  # nothing reached the camera
