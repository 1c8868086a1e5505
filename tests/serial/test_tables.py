"""Registers, settings, quirks and the line-quality estimate: plain data, no wire."""

from __future__ import annotations

import struct

import pytest

from camera2mqtt.cameras.serial.link import LinkStats
from camera2mqtt.cameras.serial.quirks import DEFAULT_QUIRKS, quirks_for
from camera2mqtt.cameras.serial.registers import (
    FRAME_SELECTED,
    PictureSummary,
    decode_int,
    decode_string,
    setting,
)


def test_frame_registers_are_the_documented_ones() -> None:
    assert set(FRAME_SELECTED) == {12, 13, 14, 15, 39, 43, 44, 47}


def test_decoders() -> None:
    assert decode_int(bytes((2, 0, 0, 0))) == 2
    assert decode_int(b"\xff\xff\xff\xff") == -1
    with pytest.raises(ValueError, match="4 bytes"):
        decode_int(b"\x01")
    assert decode_string(b"DCIM       \x00junk") == "DCIM"
    data = struct.pack("<8I", 0x01001234, 5, 0, 2, 1, 1_000_000_000, 0, 0)
    summary = PictureSummary.decode(data)
    assert summary is not None
    assert (summary.image_size, summary.thumbnail_size, summary.protected) == (0x1234, 5, True)
    assert summary.taken == 1_000_000_000
    assert PictureSummary.decode(b"") is None


def test_settings_convert_both_ways() -> None:
    flash = setting("flash")
    assert flash.to_raw("Off") == 2 and flash.to_text(2) == "off"
    assert flash.to_text(99) == "99"
    with pytest.raises(ValueError, match="auto, force, off"):
        flash.to_raw("maybe")
    lcd = setting("lcd_brightness")
    assert lcd.to_raw("7") == 7
    with pytest.raises(ValueError, match="1 to 7"):
        lcd.to_raw("8")
    with pytest.raises(KeyError, match="known settings"):
        setting("nope")


@pytest.mark.parametrize(
    ("model", "speed", "card"),
    [
        (None, 115200, True),
        ("Olympus C-2020Z", 115200, True),
        ("c-990", 38400, True),
        ("Olympus C-990 Zoom", 38400, True),
        ("c-420l", 57600, True),
        ("PhotoPC 650", 38400, False),
        ("epson-650", 38400, False),
        ("Sanyo VPC-G250", 115200, False),
        ("something else", 115200, True),
    ],
)
def test_quirks_table(model: str | None, speed: int, card: bool) -> None:
    quirks = quirks_for(model)
    assert quirks.max_speed == speed
    assert quirks.has_card_register is card


def test_longest_key_wins() -> None:
    assert quirks_for("Agfa ePhoto 780C").max_speed == 38400
    assert quirks_for("Agfa ePhoto 780").max_speed == DEFAULT_QUIRKS.max_speed


def test_packet_size_follows_the_line_quality() -> None:
    sizes = (128, 256, 512, 1024, 2048)
    clean = LinkStats(packets=300, packet_bytes=300 * 2054)
    assert clean.byte_error_rate() == 0.0
    assert clean.best_packet_size(sizes) == 2048
    # About 2 bytes in 1,000 bad: 23 % of 134-byte packets fail.
    noisy = LinkStats(packets=770, packet_bytes=770 * 134, failures=230)
    assert noisy.byte_error_rate() == pytest.approx(0.002, rel=0.1)
    assert noisy.best_packet_size(sizes) == 128
    slightly = LinkStats(packets=1000, packet_bytes=1000 * 2054, failures=200)
    assert slightly.best_packet_size(sizes) in (512, 1024)


def test_line_statistics_forget_old_noise() -> None:
    stats = LinkStats(packets=700, packet_bytes=700 * 134, failures=300)
    assert stats.byte_error_rate() > 1e-3
    for _ in range(5000):
        stats.record_packet(2054)
    assert stats.byte_error_rate() < 1e-5
    assert stats.best_packet_size((128, 2048)) == 2048
