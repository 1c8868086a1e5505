"""The stream codec: every format at its seed offsets, boundaries, bad bytes, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera2mqtt.stream.codec import (
    FORMATS,
    JPEG_YUV422,
    NO_FLAGS,
    ColourSpace,
    DataPacket,
    EndOfFrame,
    Flags,
    HeaderSize,
    PayloadType,
    PixelFormat,
    StartOfFrame,
    StreamFormatError,
    decode,
    encode,
    header_for_ids,
)

SHORT, MEDIUM, LONG = HeaderSize.SHORT, HeaderSize.MEDIUM, HeaderSize.LONG
U24, U32, U48, U64 = (1 << 24) - 1, (1 << 32) - 1, (1 << 48) - 1, (1 << 64) - 1
ALL_FLAGS = Flags.RESEND | Flags.PREVIOUS_DROPPED | Flags.DEVICE_SPECIFIC | Flags.TRANSMIT
PIXELS_RGB24 = PixelFormat(PayloadType.PIXELS, 24, ColourSpace.RGB)


def same(decoded, packet, header: HeaderSize) -> None:
    assert decoded.header is header
    assert decoded._replace(header=None) == packet._replace(header=None)


# -- the layouts, byte by byte, written out from the seed's tables --------------------------------


def test_sof_short_layout() -> None:
    packet = StartOfFrame(0x0A0B0C, 0x112233445566, PIXELS_RGB24, 0x0280, 0x01E0, 0x0102, 0x0304)
    expected = (
        bytes([0x06, 0x0A, 0x0B, 0x0C])  # PT, frame id (24)
        + bytes([0, 0, 0, 0])  # packet id (32): the SoF is packet 0
        + bytes.fromhex("112233445566")  # timestamp (48): ms 32 bits, then ls 16 bits
        + bytes([0x00, 0xB1])  # pixel format: payload 0, 24 bpp (code 11), RGB (1)
        + bytes.fromhex("028001e0")  # size x, size y
        + bytes.fromhex("01020304")  # offset x, offset y
    )
    assert encode(packet) == expected
    assert len(expected) == 24
    same(decode(expected), packet, SHORT)


def test_sof_medium_layout() -> None:
    packet = StartOfFrame(
        0x0102030405,
        0x1122334455667788,
        JPEG_YUV422,
        0x00012345,
        0x00023456,
        0x0506,
        0x0708,
        9,
        10,
        Flags.PREVIOUS_DROPPED,
    )
    expected = (
        bytes([0x0A, 0x40])  # PT, flags (previous block dropped = 2nd bit from the left)
        + bytes.fromhex("000102030405")  # frame id (48): ms 16 bits, ls 32 bits
        + bytes(8)  # packet id (64)
        + bytes.fromhex("1122334455667788")  # timestamp (64)
        + bytes([0x01, 0x73])  # pixel format: JPEG, 16 bpp (code 7), YUV 4:2:2 (3)
        + bytes([9, 10])  # pad x, pad y
        + bytes.fromhex("0001234500023456")  # size x, size y (32 each)
        + bytes.fromhex("05060708")  # offset x, offset y (16 each)
    )
    assert encode(packet) == expected
    assert len(expected) == 40
    same(decode(expected), packet, MEDIUM)


def test_sof_long_layout() -> None:
    packet = StartOfFrame(
        0x0102030405060708, 7, JPEG_YUV422, 640, 480, 0x10000, 0x20000, 1, 2, Flags.RESEND
    )
    expected = (
        bytes([0x0D, 0x80, 0, 0])  # PT, flags (24): resend = top bit, then reserved
        + bytes.fromhex("0102030405060708")  # frame id (64)
        + bytes(8)  # packet id (64)
        + (7).to_bytes(8, "big")  # timestamp (64)
        + bytes([0, 0, 0x01, 0x73])  # pixel format (32)
        + bytes([1, 2, 0, 0])  # pad x, pad y, 2 reserved bytes
        + struct.pack("!IIII", 640, 480, 0x10000, 0x20000)  # size x/y, offset x/y (32 each)
    )
    assert encode(packet) == expected
    assert len(expected) == 52
    same(decode(expected), packet, LONG)


@pytest.mark.parametrize(
    ("packet", "expected", "header"),
    [
        (DataPacket(0x010203, 0x04050607, b"xy"), "12010203040506077879", SHORT),
        (
            DataPacket(0x0102030405, 9, b"z", Flags.TRANSMIT),
            "141000010203040500000000000000097a",
            MEDIUM,
        ),
        (
            DataPacket(U64, U64, b"z", Flags.DEVICE_SPECIFIC),
            "15200000ffffffffffffffffffffffffffffffff7a",
            LONG,
        ),
        (EndOfFrame(0x010203, 0x20), "0201020300000020", SHORT),
        (EndOfFrame(1 << 24, 2), "04000000010000000000000000000002", MEDIUM),
        (EndOfFrame(1 << 48, 3), "0500000000010000000000000000000000000003", LONG),
    ],
)
def test_data_and_eof_layouts(packet, expected: str, header: HeaderSize) -> None:
    data = bytes.fromhex(expected)
    assert encode(packet) == data
    same(decode(data), packet, header)


def test_the_format_byte_names_kind_and_header_length() -> None:
    # The low nibble is the header length in 32-bit words (docs/stream-protocol.md).
    for fmt, (_, _, length) in FORMATS.items():
        assert (fmt & 0x0F) * 4 == length
    assert sorted(FORMATS) == [0x02, 0x04, 0x05, 0x06, 0x0A, 0x0D, 0x12, 0x14, 0x15]


# -- round trips at every size and the id boundaries ----------------------------------------------


def packet_of(kind: str, frame_id: int, packet_id: int, flags: Flags = NO_FLAGS):
    if kind == "sof":
        return StartOfFrame(frame_id, 123, JPEG_YUV422, 640, 480, flags=flags)
    if kind == "data":
        return DataPacket(frame_id, max(packet_id, 1), b"\xff\xd8payload", flags)
    return EndOfFrame(frame_id, max(packet_id, 2), flags)


@pytest.mark.parametrize("kind", ["sof", "data", "eof"])
@pytest.mark.parametrize(
    ("frame_id", "packet_id", "header"),
    [
        (0, 2, SHORT),
        (U24, U32, SHORT),  # the short limits: 24-bit frame id, 32-bit packet id
        (U24 + 1, 2, MEDIUM),
        (0, U32 + 1, MEDIUM),
        (U48, U64, MEDIUM),  # the medium limits: 48-bit frame id, 64-bit packet id
        (U48 + 1, 2, LONG),
        (U64, U64, LONG),  # the long limits: 64 bits each
    ],
)
def test_round_trip_picks_the_smallest_header(kind, frame_id, packet_id, header) -> None:
    if kind == "sof":
        packet_id = 0  # a SoF is always packet 0; only the frame id decides its size
        if header is MEDIUM and frame_id <= U24:
            header = SHORT
    packet = packet_of(kind, frame_id, packet_id)
    data = encode(packet)
    same(decode(data), packet, header)
    assert FORMATS[data[0]][1] is header


@pytest.mark.parametrize("kind", ["sof", "data", "eof"])
@pytest.mark.parametrize("floor", [SHORT, MEDIUM, LONG])
def test_min_header_raises_the_floor(kind, floor) -> None:
    packet = packet_of(kind, 5, 7)
    same(decode(encode(packet, min_header=floor)), packet, floor)


@pytest.mark.parametrize("kind", ["sof", "data", "eof"])
@pytest.mark.parametrize(
    "flags",
    [Flags.RESEND, Flags.PREVIOUS_DROPPED, Flags.DEVICE_SPECIFIC, Flags.TRANSMIT, ALL_FLAGS],
)
def test_flags_need_a_medium_header_and_round_trip(kind, flags) -> None:
    packet = packet_of(kind, 5, 7, flags)
    same(decode(encode(packet)), packet, MEDIUM)
    big = packet_of(kind, U48 + 1, 7, flags)
    same(decode(encode(big)), big, LONG)


def test_ids_past_64_bits_are_refused_by_the_encoder() -> None:
    for packet in (
        packet_of("sof", U64 + 1, 0),
        packet_of("data", U64 + 1, 1),
        packet_of("eof", 1, U64 + 1),
        packet_of("data", -1, 1),
    ):
        with pytest.raises(StreamFormatError):
            encode(packet)


def test_sof_fields_choose_the_header_size() -> None:
    base = StartOfFrame(1, 0, JPEG_YUV422, 640, 480)
    assert decode(encode(base)).header is SHORT
    assert decode(encode(base._replace(timestamp=U48))).header is SHORT
    assert decode(encode(base._replace(timestamp=U48 + 1))).header is MEDIUM
    assert decode(encode(base._replace(size_x=0x10000))).header is MEDIUM
    assert decode(encode(base._replace(padding_y=1))).header is MEDIUM
    assert decode(encode(base._replace(offset_y=0x10000))).header is LONG
    for bad in (
        base._replace(timestamp=U64 + 1),
        base._replace(size_x=U32 + 1),
        base._replace(padding_x=256),
        base._replace(offset_x=-1),
        base._replace(packet_id=1),
    ):
        with pytest.raises(StreamFormatError):
            encode(bad)


@pytest.mark.parametrize("payload", list(PayloadType))
@pytest.mark.parametrize("space", list(ColourSpace))
@pytest.mark.parametrize("bpp", range(2, 33, 2))
def test_every_pixel_format_round_trips(payload, space, bpp) -> None:
    pixel_format = PixelFormat(payload, bpp, space)
    assert PixelFormat.unpack(pixel_format.pack()) == pixel_format
    packet = StartOfFrame(1, 2, pixel_format, 3, 4)
    assert decode(encode(packet)).pixel_format == pixel_format


# -- what the decoder refuses ---------------------------------------------------------------------


def all_valid_packets() -> list[bytes]:
    packets = []
    for frame_id in (1, U24 + 1, U48 + 1):
        for kind in ("sof", "data", "eof"):
            packets.append(encode(packet_of(kind, frame_id, 3)))
    return packets


@pytest.mark.parametrize("data", all_valid_packets())
def test_every_truncation_is_refused(data: bytes) -> None:
    length = FORMATS[data[0]][2]
    for cut in range(length):
        with pytest.raises(StreamFormatError):
            decode(data[:cut])


def test_unknown_format_bytes_are_refused() -> None:
    for fmt in set(range(256)) - set(FORMATS):
        with pytest.raises(StreamFormatError, match="Unknown packet format"):
            decode(bytes([fmt]) + bytes(60))


def test_trailing_bytes_after_sof_and_eof_are_refused() -> None:
    for packet in (packet_of("sof", 1, 0), packet_of("eof", 1, 3)):
        for size in HeaderSize:
            with pytest.raises(StreamFormatError, match="exactly"):
                decode(encode(packet, min_header=size) + b"\0")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes.fromhex("1200000100000001"), "payload"),  # data without payload
        (bytes.fromhex("1200000100000000") + b"x", "id must be 1"),  # data packet id 0
        (bytes.fromhex("0200000100000001"), "at least 2"),  # EoF of zero data packets
        (bytes.fromhex("14010000000000010000000000000001") + b"x", "reserved"),
        (bytes.fromhex("1500010000000000000000010000000000000001") + b"x", "reserved"),
    ],
)
def test_inconsistent_packets_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(StreamFormatError, match=message):
        decode(data)


def test_corrupted_sof_fields_are_refused() -> None:
    short = bytearray(encode(StartOfFrame(1, 2, JPEG_YUV422, 3, 4)))
    bad_id = bytearray(short)
    bad_id[7] = 1  # packet id 1
    bad_space = bytearray(short)
    bad_space[15] = 0x7F  # colour space 15 is reserved
    bad_payload = bytearray(short)
    bad_payload[14] = 0x09  # payload type 9 is not defined
    long = bytearray(encode(StartOfFrame(1, 2, JPEG_YUV422, 3, 4), min_header=LONG))
    bad_reserved = bytearray(long)
    bad_reserved[35] = 1
    bad_pixfmt_high = bytearray(long)
    bad_pixfmt_high[28] = 1
    for data in (bad_id, bad_space, bad_payload, bad_reserved, bad_pixfmt_high):
        with pytest.raises(StreamFormatError):
            decode(bytes(data))


def test_header_for_ids_refuses_undefined_flags() -> None:
    with pytest.raises(StreamFormatError):
        header_for_ids(1, 1, 0x01)


# -- fuzzing --------------------------------------------------------------------------------------


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_decode_or_raise_only_our_error(data: bytes) -> None:
    try:
        packet = decode(data)
    except StreamFormatError:
        return
    # What decodes is a packet that encodes back to the same bytes at its header size.
    assert encode(packet, min_header=packet.header) == data


@settings(max_examples=2000, deadline=None)
@given(
    st.sampled_from(all_valid_packets()),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_packets_decode_or_raise_only_our_error(data: bytes, edits) -> None:
    mutated = bytearray(data)
    for position, value in edits:
        if position < len(mutated):
            mutated[position] = value
    try:
        packet = decode(bytes(mutated))
    except StreamFormatError:
        return
    assert encode(packet, min_header=packet.header) == bytes(mutated)


@settings(max_examples=500, deadline=None)
@given(
    frame_id=st.integers(0, U64),
    timestamp=st.integers(0, U64),
    sizes=st.tuples(*[st.integers(0, U32)] * 2),
    offsets=st.tuples(*[st.integers(0, U32)] * 2),
    padding=st.tuples(*[st.integers(0, 255)] * 2),
    flags=st.sampled_from([Flags(0), Flags.RESEND, ALL_FLAGS]),
    pixel_format=st.builds(
        PixelFormat,
        st.sampled_from(list(PayloadType)),
        st.sampled_from(range(2, 33, 2)),
        st.sampled_from(list(ColourSpace)),
    ),
)
def test_any_sof_round_trips(frame_id, timestamp, sizes, offsets, padding, flags, pixel_format):
    packet = StartOfFrame(frame_id, timestamp, pixel_format, *sizes, *offsets, *padding, flags)
    decoded = decode(encode(packet))
    assert decoded._replace(header=None) == packet


@settings(max_examples=500, deadline=None)
@given(
    frame_id=st.integers(0, U64),
    packet_id=st.integers(2, U64),
    payload=st.binary(min_size=1, max_size=64),
    flags=st.sampled_from([Flags(0), Flags.TRANSMIT, ALL_FLAGS]),
)
def test_any_data_and_eof_round_trip(frame_id, packet_id, payload, flags):
    data = DataPacket(frame_id, packet_id, payload, flags)
    assert decode(encode(data))._replace(header=None) == data
    end = EndOfFrame(frame_id, packet_id, flags)
    assert decode(encode(end))._replace(header=None) == end


def test_things_that_are_not_bytes_are_refused() -> None:
    for thing in (None, 5, 10**12, "0x12", [0x12, 0, 0, 1]):
        with pytest.raises(StreamFormatError, match="must be bytes"):
            decode(thing)  # type: ignore[arg-type]
    packet = encode(DataPacket(1, 1, b"x"))
    assert decode(memoryview(packet)) == decode(bytearray(packet))
