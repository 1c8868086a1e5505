"""The simulated camera over its pty, byte by byte (host side: tests/serial_sim/host.py)."""

from __future__ import annotations

import random
import struct
import termios
import time
from pathlib import Path

import pytest

from camera2mqtt.cameras.serial.packets import (
    BadChecksum,
    Control,
    ControlByte,
    Packet,
    encode_action,
    encode_command,
    encode_get_int,
    encode_get_var,
    encode_set_int,
    encode_set_var,
)
from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.serial import SerialFaults, SerialSimulator
from camera2mqtt.sim.serial.models import UnknownModel
from camera2mqtt.sim.serial.state import ImagesFolderError

from .host import Host

JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"


def select_frame(host: Host, number: int) -> None:
    host.write(encode_set_int(4, number))
    host.expect_control(Control.ACK)


def erase(host: Host, action: int) -> None:
    """Run an erase action; the C-2020Z then ends the session (seed 002), so init again."""
    host.write(encode_action(action))
    host.expect_control(Control.ACK)
    host.expect_control(Control.ENQ)
    host.expect_control(Control.END)
    host.init()


def test_init_and_speed_change_are_recorded(sim: SerialSimulator, host: Host) -> None:
    assert not sim.in_session
    host.init(speed_code=5)
    assert sim.in_session
    assert sim.state.speed == 115200
    (entry,) = sim.command_log
    assert (entry.opcode, entry.register, entry.first, entry.speed) == (0, 17, True, 19200)
    assert host.get_int(17) == 5
    host.write(encode_set_int(17, 0, first=True))  # photopc's goodbye
    host.expect_control(Control.ACK)
    assert sim.state.speed == 19200


def test_commands_before_init_are_ignored(sim: SerialSimulator, host: Host) -> None:
    host.write(encode_get_int(10))
    assert host.nothing_for(0.5)
    assert sim.command_log[0].answered is False
    host.init()
    assert host.get_int(10) == 3


def test_identity_and_status_registers(sim: SerialSimulator, host: Host) -> None:
    host.init()
    assert host.command(encode_get_var(27)) == b"OLYMPUS DIGITAL CAMERA\0"
    assert host.command(encode_get_var(48)) == b"OLYMPUS OPTICAL CO.,LTD\0"
    assert host.command(encode_get_var(26)) == b"SR954\0"
    assert host.command(encode_get_var(25)).endswith(b"\0")
    assert host.get_int(16) == sim.state.battery
    assert host.get_int(10) == 3
    assert host.get_int(40) == 3
    assert host.get_int(11) == sim.profile.capacity - 3
    assert host.get_int(51) == 2  # card present
    assert host.get_int(1) == 2
    assert abs(host.get_int(2) - time.time()) < 5  # type: ignore[operator]
    assert host.get_int(99) == Control.DC1  # unknown register


def test_clock_set_and_read(host: Host) -> None:
    host.init()
    host.write(encode_set_int(2, 914_229_831))
    host.expect_control(Control.ACK)
    assert abs(host.get_int(2) - 914_229_831) <= 2  # type: ignore[operator]


def test_settings_are_writable(host: Host) -> None:
    host.init()
    host.write(encode_set_int(7, 2))  # flash off
    host.expect_control(Control.ACK)
    assert host.get_int(7) == 2
    host.write(encode_set_int(10, 5))  # frame count is read-only
    host.expect_control(Control.DC1)


def test_frame_registers_wait_for_register_4(host: Host) -> None:
    host.init()
    host.write(encode_get_int(12))
    assert host.nothing_for(0.5)
    select_frame(host, 1)
    assert isinstance(host.get_int(12), int)


def test_download_filename_size_and_summary(sim: SerialSimulator, host: Host) -> None:
    host.init()
    name, data = sim.state.frames[0]
    assert len(data) >= 500_000  # the benchmark picture
    select_frame(host, 1)
    assert host.command(encode_get_var(79)) == name.encode() + b"\0"
    assert host.get_int(12) == len(data)
    summary = host.command(encode_get_var(47))
    assert isinstance(summary, bytes) and len(summary) == 32
    length, thumb_length, _, _, protected, _, _, _ = struct.unpack("<8I", summary)
    assert (length, protected) == (len(data), 0)
    assert host.command(encode_get_var(14)) == data
    thumbnail = host.command(encode_get_var(15))
    assert isinstance(thumbnail, bytes) and len(thumbnail) == thumb_length
    assert thumbnail.startswith(JPEG_START) and thumbnail.endswith(JPEG_END)
    assert host.get_int(13) == thumb_length


def test_download_packets_are_numbered_and_acked_one_by_one(
    sim: SerialSimulator, host: Host
) -> None:
    host.init()
    data = sim.state.frames[2][1]
    select_frame(host, 3)
    host.write(encode_get_var(14))
    first = host.read_item()
    assert isinstance(first, Packet) and first.type == 0x02 and first.seq == 0
    assert len(first.data) == 2048
    assert host.nothing_for(0.3)  # nothing more until the ACK
    host.write(b"\x15")  # NAK: the same packet again
    assert host.read_item() == first
    host.write(b"\x06")
    second = host.read_item()
    assert isinstance(second, Packet) and second.seq == 1
    host.write(b"\x06")
    rest = host.read_reply()
    assert isinstance(rest, bytes)
    assert first.data + second.data + rest == data
    assert sim.protocol.packets_resent == 1


def test_packet_size_register(sim: SerialSimulator, host: Host) -> None:
    host.init()
    host.write(encode_set_int(77, 512))
    host.expect_control(Control.ACK)
    select_frame(host, 3)
    host.write(encode_get_var(14))
    packet = host.read_item()
    assert isinstance(packet, Packet) and len(packet.data) == 512


def test_take_picture_appends_a_real_jpeg(sim: SerialSimulator, host: Host) -> None:
    host.init()
    host.write(encode_action(2))
    host.expect_control(Control.ACK)
    host.expect_control(Control.ENQ, timeout=15)
    assert host.get_int(10) == 4
    assert host.get_int(4) == 4  # register 4 holds the new picture (gphoto2 relies on it)
    name, data = sim.state.frames[-1]
    assert data.startswith(JPEG_START) and data.endswith(JPEG_END)
    assert name.startswith("P") and name.endswith(".JPG") and len(name) == 12
    select_frame(host, 0)  # gphoto2 reads reg 79 with reg 4 = 0 after a capture
    assert host.command(encode_get_var(79)) == name.encode() + b"\0"


def test_preview_is_frame_zero(sim: SerialSimulator, host: Host) -> None:
    host.init()
    host.write(encode_action(5))
    host.expect_control(Control.ACK)
    host.expect_control(Control.ENQ)
    assert isinstance(host.get_int(12), int)  # gphoto2 reads reg 12 before setting reg 4
    select_frame(host, 0)
    preview = host.command(encode_get_var(14))
    assert isinstance(preview, bytes) and preview.startswith(JPEG_START)
    assert preview == sim.state.preview
    assert host.get_int(10) == 3  # a preview is not stored


def test_erase_one_and_all(sim: SerialSimulator, host: Host) -> None:
    host.init()
    second = sim.state.frames[1]
    select_frame(host, 1)
    erase(host, 7)
    assert host.get_int(10) == 2
    assert sim.state.frames[0] == second
    erase(host, 0)  # the last one
    assert host.get_int(10) == 1
    erase(host, 1)
    assert host.get_int(10) == 0
    assert sim.state.frames == []


def test_erase_without_session_end_quirk() -> None:
    with SerialSimulator("c-420l", idle_reset_s=None) as sim, Host(sim.slave_path) as host:
        host.init(speed_code=4)
        host.write(encode_action(0))
        host.expect_control(Control.ACK)
        host.expect_control(Control.ENQ)
        assert host.get_int(10) == 2
        assert sim.in_session


def test_protected_frame_survives_erase_all(sim: SerialSimulator, host: Host) -> None:
    host.init()
    select_frame(host, 2)
    host.write(encode_action(9, 1))
    host.expect_control(Control.ACK)
    host.expect_control(Control.ENQ)
    assert host.get_int(39) == 1
    erase(host, 1)
    assert host.get_int(10) == 1


def test_take_picture_without_card_is_refused(sim: SerialSimulator, host: Host) -> None:
    sim.state.card_present = False
    host.init()
    assert host.get_int(51) == 1
    host.write(encode_action(2))
    host.expect_control(Control.DC1)


def test_folders_like_photopc_walks_them(host: Host) -> None:
    host.init()
    host.write(encode_command(0, 83))  # "null" set: reset the folder walk
    host.expect_control(Control.ACK)
    host.write(encode_set_var(84, b"\\"))
    host.expect_control(Control.ACK)
    assert host.get_int(10) == 0  # nothing in the root
    assert host.get_int(83) == 1
    host.write(encode_set_int(83, 1))
    host.expect_control(Control.ACK)
    assert host.command(encode_get_var(84)) == b"DCIM       \0"
    host.write(encode_set_var(84, b"DCIM"))
    host.expect_control(Control.ACK)
    host.write(encode_set_var(84, b"100OLYMP"))
    host.expect_control(Control.ACK)
    assert host.get_int(10) == 3
    host.write(encode_set_var(84, b"NOPE"))
    host.expect_control(Control.DC1)


def test_bad_checksum_from_host_gets_nak(sim: SerialSimulator, host: Host) -> None:
    host.init()
    bad = bytearray(encode_get_int(10))
    bad[-2] ^= 0x01
    host.write(bytes(bad))
    host.expect_control(Control.NAK)
    assert sim.protocol.bad_checksums_received == 1
    assert host.get_int(10) == 3


def test_idle_reset_sends_ff_and_drops_to_19200() -> None:
    with SerialSimulator(idle_reset_s=0.5) as sim, Host(sim.slave_path) as host:
        host.init(speed_code=5)
        assert sim.state.speed == 115200
        host.expect_control(Control.END, timeout=10)
        assert sim.state.speed == 19200 and not sim.in_session
        host.write(encode_get_int(10))  # a new session needs the init byte
        assert host.nothing_for(0.3)
        host.init()
        assert host.get_int(10) == 3
        assert sim.protocol.idle_resets == 1


def test_model_default_idle_reset() -> None:
    sim = SerialSimulator("epson-650")
    assert sim.idle_reset_s == sim.profile.idle_reset_s
    assert SerialSimulator(idle_reset_s=None).idle_reset_s is None


def test_missing_reply_fault_skips_one_reply(sim: SerialSimulator, host: Host) -> None:
    host.init()
    sim.faults.missing_reply = True
    host.write(encode_get_int(10))
    assert host.nothing_for(0.5)
    assert host.get_int(10) == 3  # the host resends, as photopc does
    assert sim.faults.missing_reply is False


def test_delay_fault_delays_replies_and_absorbs_naks(sim: SerialSimulator, host: Host) -> None:
    host.init()
    sim.faults.delay_s = 0.6
    host.write(encode_get_int(10))
    assert host.nothing_for(0.2)
    host.write(b"\x15")  # photopc NAKs while it waits; the camera just answers once
    item = host.read_item()
    assert isinstance(item, Packet)
    host.write(b"\x06")
    assert host.nothing_for(0.8)


def test_corrupt_packet_fault_is_resent_clean(sim: SerialSimulator, host: Host) -> None:
    host.init()
    sim.faults.corrupt_packets = 1
    host.write(encode_get_int(10))
    item = host.read_item()
    assert isinstance(item, BadChecksum)
    host.write(b"\x15")
    good = host.read_item()
    assert isinstance(good, Packet) and good.data == b"\x03\x00\x00\x00"


def test_line_noise_faults_are_seeded() -> None:
    def noisy(seed: int) -> bytes:
        faults = SerialFaults(corrupt_rate=0.2, drop_rate=0.1, seed=seed)
        return faults.mangle(bytes(range(256)) * 4)

    assert noisy(7) == noisy(7)
    assert noisy(7) != noisy(8)
    assert len(noisy(7)) < 1024
    with pytest.raises(ValueError):
        SerialFaults(corrupt_rate=2.0)


def test_corrupt_rate_reaches_the_wire(sim: SerialSimulator, host: Host) -> None:
    host.init()
    sim.faults.corrupt_rate = 1.0
    host.write(encode_get_int(10))
    item = host.read_item(1.0)
    assert item != Packet(0x03, 0, b"\x03\x00\x00\x00")


def test_speed_cap_of_the_profile() -> None:
    with SerialSimulator("c-420l", idle_reset_s=None) as sim, Host(sim.slave_path) as host:
        host.init(speed_code=None)
        host.write(encode_set_int(17, 5, first=True))
        host.expect_control(Control.DC1)
        assert sim.state.speed == 19200
        host.write(encode_set_int(17, 4, first=True))
        host.expect_control(Control.ACK)
        assert sim.state.speed == 57600
        select_frame(host, 1)
        assert host.command(encode_get_var(47)) == b""  # no picture summary on this model


def test_model_without_register_51() -> None:
    with SerialSimulator("epson-650", idle_reset_s=None) as sim, Host(sim.slave_path) as host:
        host.init(speed_code=3)
        assert host.get_int(51) == Control.DC1
        assert host.get_int(10) == 3
        host.write(encode_set_var(84, b"\\"))  # no folders on this model
        host.expect_control(Control.DC1)


# Real-time pacing at the negotiated baud rate is what it checks.
@pytest.mark.slow
def test_pacing_follows_the_negotiated_speed(tmp_path: Path) -> None:
    picture = make_jpeg(320, 240, "paced", seed=3)
    (tmp_path / "P1010001.JPG").write_bytes(picture)
    with (
        SerialSimulator(images_dir=tmp_path, pace=True, idle_reset_s=None) as sim,
        Host(sim.slave_path) as host,
    ):
        host.init(speed_code=4)  # 57600
        select_frame(host, 1)
        host.write(encode_get_var(14))
        started = time.monotonic()
        assert host.read_reply(timeout=30) == picture
        elapsed = time.monotonic() - started
    # a lower bound only: the line cannot be faster than 10 bits per byte at 57600
    assert elapsed >= len(picture) * 10 / 57600 * 0.9


def test_images_folder(tmp_path: Path) -> None:
    (tmp_path / "b.jpg").write_bytes(make_jpeg(64, 48, "b"))
    (tmp_path / "a.JPG").write_bytes(make_jpeg(64, 48, "a"))
    (tmp_path / "notes.txt").write_text("not a picture")
    (tmp_path / "fake.jpg").write_text("not a jpeg either")
    sim = SerialSimulator(images_dir=tmp_path)
    assert [name for name, _ in sim.state.frames] == ["a.JPG", "b.jpg"]
    with pytest.raises(ImagesFolderError, match="does not exist"):
        SerialSimulator(images_dir=tmp_path / "missing")


def test_erase_never_touches_the_images_folder(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(make_jpeg(64, 48, "a"))
    with SerialSimulator(images_dir=tmp_path, idle_reset_s=None) as sim:
        with Host(sim.slave_path) as host:
            host.init()
            erase(host, 1)
        assert sim.state.frames == []
    assert (tmp_path / "a.jpg").exists()


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(UnknownModel, match="choose one of"):
        SerialSimulator("c-9999")


def test_host_termios_speed_is_visible(sim: SerialSimulator) -> None:
    assert sim.host_speed is not None


def test_stop_is_idempotent_and_slave_path_needs_start() -> None:
    sim = SerialSimulator()
    with pytest.raises(RuntimeError):
        _ = sim.slave_path
    sim.start()
    path = sim.slave_path
    assert path.startswith("/dev/")
    sim.stop()
    sim.stop()


def test_survives_random_garbage(sim: SerialSimulator, host: Host) -> None:
    rng = random.Random(1234)
    host.init()
    for _ in range(20):
        host.write(rng.randbytes(rng.randrange(1, 300)))
    # a half packet from the noise is dropped after a quiet second; then the camera is fine
    for _ in range(10):
        for _ in range(1000):  # drain what the camera answered to the noise
            if host.nothing_for(1.5):
                break
        host.items.clear()
        host.write(b"\x00")
        if host.read_item(2.0) == ControlByte(Control.NAK):
            break
    else:
        pytest.fail("the camera never answered the init byte again")
    assert host.get_int(10) == 3
    assert sim.protocol.garbage_bytes > 0


def set_line_speed(fd: int, speed: int) -> None:
    attrs = termios.tcgetattr(fd)
    attrs[4] = attrs[5] = speed
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


def test_check_speed_drops_bytes_sent_at_the_wrong_speed() -> None:
    with (
        SerialSimulator(idle_reset_s=None, check_speed=True) as sim,
        Host(sim.slave_path) as host,
    ):
        set_line_speed(host.fd, termios.B19200)
        host.init(speed_code=5)
        assert sim.host_speed == 19200
        host.write(encode_get_int(10))  # the host forgot to switch its port to 115200
        assert host.nothing_for(0.5)
        assert sim.protocol.speed_mismatches == 1
        set_line_speed(host.fd, termios.B115200)
        assert host.get_int(10) == 3
