"""The packet codec against the byte transcripts of the references (seed 002, reference §3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camera2mqtt.cameras.serial.packets import (
    MAX_DATA,
    BadChecksum,
    Command,
    CommandSubtype,
    Control,
    ControlByte,
    Garbage,
    Opcode,
    Packet,
    PacketDecoder,
    PacketType,
    checksum,
    encode_action,
    encode_command,
    encode_data,
    encode_data_packets,
    encode_get_int,
    encode_get_var,
    encode_set_int,
    encode_set_var,
    split_data,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# Host commands, exactly as photopc / gphoto2 sent them (reference §3).
COMMAND_VECTORS = [
    (encode_set_int(17, 5, first=True), "1b 53 06 00 00 11 05 00 00 00 16 00"),
    (encode_set_int(17, 2, first=True), "1b 53 06 00 00 11 02 00 00 00 13 00"),
    (encode_set_int(17, 0, first=True), "1b 53 06 00 00 11 00 00 00 00 11 00"),
    (encode_get_int(1), "1b 43 02 00 01 01 02 00"),
    (encode_get_int(10), "1b 43 02 00 01 0a 0b 00"),
    (encode_get_int(40), "1b 43 02 00 01 28 29 00"),
    (encode_get_int(51), "1b 43 02 00 01 33 34 00"),
    (encode_get_var(79), "1b 43 02 00 04 4f 53 00"),
    (encode_get_var(14), "1b 43 02 00 04 0e 12 00"),
    (encode_set_int(4, 1), "1b 43 06 00 00 04 01 00 00 00 05 00"),
    (encode_set_int(4, 0), "1b 43 06 00 00 04 00 00 00 00 04 00"),
    (encode_set_int(83, 1), "1b 43 06 00 00 53 01 00 00 00 54 00"),
    (encode_command(Opcode.SET_INT, 83), "1b 43 02 00 00 53 53 00"),
    (encode_set_var(84, b"\\"), "1b 43 03 00 03 54 5c b3 00"),
    (encode_set_var(84, b"DCIM"), "1b 43 06 00 03 54 44 43 49 4d 74 01"),
    (encode_action(2), "1b 43 03 00 02 02 00 04 00"),
    (encode_action(4), "1b 43 03 00 02 04 00 06 00"),
    (encode_action(5), "1b 43 03 00 02 05 00 07 00"),
]

# Camera replies from the C-2020 transcript (seed 002) and reference §3.
DATA_VECTORS = [
    (b"\x02\x00\x00\x00", "03 00 04 00 02 00 00 00 02 00"),
    (h("33 df 74 36"), "03 00 04 00 33 DF 74 36 BC 01"),
    (h("11 00 00 00"), "03 00 04 00 11 00 00 00 11 00"),
    (h("47 0a 7e 36"), "03 00 04 00 47 0A 7E 36 05 01"),
    (b"PC200001.JPG\0", "03 00 0D 00 50 43 32 30 30 30 30 31 2E 4A 50 47 00 C5 02"),
    (b"SR954\0", "03 00 06 00 53 52 39 35 34 00 47 01"),
    (
        b"OLYMPUS DIGITAL CAMERA\0",
        "03 00 17 00 4F 4C 59 4D 50 55 53 20 44 49 47 49 54 41 4C 20 43 41 4D 45 52 41 00 20 06",
    ),
    (
        h("7AFB0400 25100000 00000000 02000000 00000000 E3267D36 00000000 00000000"),
        "03 00 20 00 7A FB 04 00 25 10 00 00 00 00 00 00 02 00 00 00 00 00 00 00"
        " E3 26 7D 36 00 00 00 00 00 00 00 00 6C 03",
    ),
]


@pytest.mark.parametrize(("encoded", "expected"), COMMAND_VECTORS)
def test_commands_match_transcripts(encoded: bytes, expected: str) -> None:
    assert encoded == h(expected)


@pytest.mark.parametrize(("payload", "expected"), DATA_VECTORS)
def test_data_packets_match_transcripts(payload: bytes, expected: str) -> None:
    assert encode_data(payload) == h(expected)
    (item,) = PacketDecoder().feed(h(expected))
    assert item == Packet(PacketType.DATA_LAST, 0, payload)


def test_multi_packet_headers_match_transcript() -> None:
    packets = encode_data_packets(bytes(5000))
    assert [p[:4] for p in packets] == [h("02 00 00 08"), h("02 01 00 08"), h("03 02 88 03")]
    assert [len(p) for p in packets] == [2054, 2054, 910]


def test_checksum_is_16_bit_sum() -> None:
    assert checksum(b"") == 0
    assert checksum(bytes([0xFF]) * 300) == (0xFF * 300) & 0xFFFF


def test_decoder_reads_command_and_its_fields() -> None:
    items = PacketDecoder().feed(h("1b 53 06 00 00 11 05 00 00 00 16 00"))
    assert len(items) == 1
    packet = items[0]
    assert isinstance(packet, Packet)
    assert packet.is_command and packet.is_first_of_session
    assert packet.command() == Command(Opcode.SET_INT, 17, h("05 00 00 00"))
    assert packet.command().int_argument == 5
    assert Command(Opcode.SET_INT, 83).int_argument is None


def test_decoder_handles_byte_by_byte_feed_and_control_bytes() -> None:
    stream = h("15 06") + encode_get_int(10) + h("05 ff 11 18")
    decoder = PacketDecoder()
    items = []
    for byte in stream:
        items += decoder.feed(bytes([byte]))
    assert items == [
        ControlByte(Control.NAK),
        ControlByte(Control.ACK),
        Packet(PacketType.COMMAND, CommandSubtype.NEXT, h("01 0a")),
        ControlByte(Control.ENQ),
        ControlByte(Control.END),
        ControlByte(Control.DC1),
        ControlByte(Control.CAN),
    ]
    assert decoder.pending == 0


def test_bad_checksum_is_a_distinct_result() -> None:
    wire = bytearray(h("03 00 04 00 02 00 00 00 02 00"))
    wire[-2] = 0x58
    (item,) = PacketDecoder().feed(bytes(wire))
    assert item == BadChecksum(PacketType.DATA_LAST, 0, h("02 00 00 00"), 0x0058, 0x0002)


def test_accepted_checksum_quirk() -> None:
    wire = h("03 00 04 00 02 00 00 00 ff ff")
    (item,) = PacketDecoder(accept_checksums={0xFFFF}).feed(wire)
    assert isinstance(item, Packet)
    (item,) = PacketDecoder().feed(wire)
    assert isinstance(item, BadChecksum)


def test_garbage_is_reported_and_decoding_resumes() -> None:
    items = PacketDecoder().feed(h("41 42") + encode_get_int(1))
    assert items == [Garbage(h("41 42")), Packet(PacketType.COMMAND, 0x43, h("01 01"))]
    # a command header with an unknown subtype is not a packet
    items = PacketDecoder().feed(h("1b 99") + h("06"))
    assert items == [Garbage(h("1b 99")), ControlByte(Control.ACK)]
    # a length above the maximum is not a packet either
    items = PacketDecoder().feed(h("02 00 01 08 06"))
    assert items == [
        Garbage(h("02")),
        ControlByte(Control.NUL),
        Garbage(h("01 08")),
        ControlByte(Control.ACK),
    ]


def test_incomplete_packet_waits_and_reset_drops_it() -> None:
    decoder = PacketDecoder()
    assert decoder.feed(h("03 00 04 00 02")) == []
    assert decoder.pending == 5 and decoder.in_packet
    assert decoder.reset() == h("03 00 04 00 02")
    assert decoder.feed(h("06")) == [ControlByte(Control.ACK)]


def test_encoders_reject_oversize() -> None:
    with pytest.raises(ValueError):
        encode_data(bytes(MAX_DATA + 1))
    with pytest.raises(ValueError):
        encode_set_var(29, bytes(MAX_DATA - 1))
    with pytest.raises(ValueError):
        split_data(b"x", 0)
    assert split_data(b"") == [b""]
    assert encode_data_packets(b"") == [h("03 00 00 00 00 00")]


def test_negative_int_is_twos_complement() -> None:
    assert encode_set_int(32, -1)[6:10] == h("ff ff ff ff")


@settings(deadline=None)  # the machine is shared: no per-example time limit
@given(st.binary(max_size=6000), st.lists(st.integers(1, 64), min_size=1, max_size=50))
def test_round_trip_any_split(payload: bytes, cuts: list[int]) -> None:
    stream = b"".join(encode_data_packets(payload))
    decoder = PacketDecoder()
    items = []
    pos = 0
    i = 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        items += decoder.feed(stream[pos : pos + step])
        pos += step
        i += 1
    assert all(isinstance(item, Packet) for item in items)
    assert b"".join(item.data for item in items) == payload
    assert [item.seq for item in items] == list(range(len(items)))
    assert items[-1].is_last and not any(item.is_last for item in items[:-1])


@settings(deadline=None)
@given(st.binary(max_size=3000))
def test_decoder_never_raises_on_garbage(data: bytes) -> None:
    decoder = PacketDecoder()
    items = decoder.feed(data)
    consumed = 0
    for item in items:
        if isinstance(item, Packet | BadChecksum):
            consumed += 6 + len(item.data)
        elif isinstance(item, Garbage):
            consumed += len(item.data)
        else:
            consumed += 1
    assert consumed + decoder.pending == len(data)
