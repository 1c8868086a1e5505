"""RTP packet and extension TLV parsing, against hand-built bytes."""

from __future__ import annotations

import struct

import pytest

from camera2mqtt.cameras.wifi.rtp import (
    AfFrame,
    Exposure,
    FrameInfo,
    FunctionId,
    Iso,
    Level,
    MalformedPacket,
    MediaInfo,
    ShutterSpeed,
    Zoom,
    announced_frame_size,
    build_packet,
    decode_frame_info,
    encode_frame_info,
    encode_tlvs,
    iter_tlvs,
    parse_packet,
)


def test_first_middle_last_packets_start_like_the_camera_sends_them() -> None:
    first = build_packet(
        sequence=1, timestamp=7, ssrc=0xABCD, payload=b"\xff\xd8", extension=b"\0\1\0\1" + bytes(4)
    )
    middle = build_packet(sequence=2, timestamp=7, ssrc=0xABCD, payload=b"xx")
    last = build_packet(sequence=3, timestamp=7, ssrc=0xABCD, payload=b"\xff\xd9", marker=True)
    assert first[:2] == b"\x90\x60"
    assert middle[:2] == b"\x80\x60"
    assert last[:2] == b"\x80\xe0"


def test_parse_header_fields() -> None:
    data = build_packet(
        sequence=65535,
        timestamp=0xFFFFFFFF,
        ssrc=0x12345678,
        payload=b"payload",
        marker=True,
        extension=encode_tlvs([(FunctionId.FRAME_SIZE, struct.pack("!I", 1234))]),
    )
    packet = parse_packet(data)
    assert packet.sequence == 65535
    assert packet.timestamp == 0xFFFFFFFF
    assert packet.ssrc == 0x12345678
    assert packet.marker is True
    assert packet.payload_type == 96
    assert bytes(packet.payload) == b"payload"
    assert packet.extension_version == 1
    assert decode_frame_info(packet.extension).frame_size == 1234


def test_extension_length_is_read_at_offset_14() -> None:
    # Profile/version word 0xBEDE (ignored), length 1 word, then the payload.
    data = bytes.fromhex("9060000100000000000000aa") + b"\xbe\xde\x00\x01" + b"TLV!" + b"\xff\xd8"
    packet = parse_packet(data)
    assert packet.extension_version == 0xBEDE
    assert bytes(packet.extension) == b"TLV!"
    assert bytes(packet.payload) == b"\xff\xd8"


def test_padding_and_csrcs_are_stripped() -> None:
    padded = build_packet(sequence=1, timestamp=1, ssrc=1, payload=b"abc", padding=5)
    assert bytes(parse_packet(padded).payload) == b"abc"
    with_csrc = bytearray(build_packet(sequence=1, timestamp=1, ssrc=1, payload=b""))
    with_csrc[0] |= 2
    with_csrc += struct.pack("!II", 11, 22) + b"data"
    packet = parse_packet(bytes(with_csrc))
    assert packet.csrcs == (11, 22)
    assert bytes(packet.payload) == b"data"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x60\x00",
        bytes(12),  # version 0
        b"\xc0" + bytes(11),  # version 3
        b"\x90\x60" + bytes(10),  # X set but no extension header
        b"\x90\x60" + bytes(10) + b"\x00\x01\x00\x05" + bytes(8),  # extension overruns
        b"\x83\x60" + bytes(10) + bytes(8),  # 3 CSRCs, only 2 present
        b"\xa0\x60" + bytes(10) + b"\x00\x00",  # padding count 0
        b"\xa0\x60" + bytes(10) + b"\x00\x09",  # padding beyond the payload
    ],
)
def test_malformed_datagrams_raise_malformed_packet(data: bytes) -> None:
    with pytest.raises(MalformedPacket):
        parse_packet(data)


def test_every_known_tlv_round_trips() -> None:
    info = FrameInfo(
        frame_size=40000,
        af_frame=AfFrame(1, 10, 20, 30, 40),
        media=MediaInfo(mounted=1, not_full=True, write_protected=False, error=True, writing=True),
        rotation=6,
        max_take_num=321,
        shutter=ShutterSpeed(minimum=(60, 1), maximum=(1, 4000), current=(1, 250)),
        aperture=Exposure(minimum=2.8, maximum=16.0, current=4.0),
        exposure_compensation=Exposure(minimum=-3.0, maximum=3.0, current=-0.7),
        iso=Iso(value=None, auto=False, warning=True),
        exposure_warning=1,
        focus_mode="MF",
        zoom=Zoom(wide=12, current=20, tele=40),
        level=Level(roll=-1.5, pitch=2.0),
        continuous_preview=True,
        unknown=((999, b"abcd"),),
    )
    assert decode_frame_info(encode_frame_info(info)) == info
    assert info.shutter is not None and info.shutter.seconds == pytest.approx(1 / 250)


def test_tlv_walk_rejects_overruns_and_keeps_unknown_ids() -> None:
    assert list(iter_tlvs(b"")) == []
    with pytest.raises(MalformedPacket):
        list(iter_tlvs(b"\x00\x01\x00\x02abcd"))
    with pytest.raises(MalformedPacket):
        list(iter_tlvs(b"\x00\x01"))
    # A known TLV too short for its value is kept raw rather than failing the frame.
    assert decode_frame_info(b"\x00\x01\x00\x00").unknown == ((1, b""),)
    assert announced_frame_size(encode_tlvs([(4, bytes(4)), (1, b"\0\0\1\0")])) == 256
    info = decode_frame_info(encode_tlvs([(4242, b"wxyz")]))
    assert info.unknown == ((4242, b"wxyz"),)


def test_frame_info_keeps_what_decodes_before_a_tlv_that_overruns() -> None:
    extension = encode_tlvs([(1, b"\0\0\1\0"), (4, bytes(4))]) + b"\x00\x0c\x00\x09iso"
    info = decode_frame_info(extension)
    assert (info.frame_size, info.rotation, info.iso) == (256, 0, None)


def test_the_frame_size_is_read_without_walking_the_tlvs_after_it() -> None:
    after = b"\x00\x0c\x00\x09"  # a TLV that runs past the end, after the frame size
    assert announced_frame_size(encode_tlvs([(1, b"\0\0\1\0")]) + after) == 256
    assert announced_frame_size(encode_tlvs([(4, bytes(4))])) is None
    with pytest.raises(MalformedPacket):
        announced_frame_size(after + encode_tlvs([(1, b"\0\0\1\0")]))
