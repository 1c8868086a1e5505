"""The stream protocol of seed 003: Start-of-Frame, Data and End-of-Frame packets.

Every packet starts with a format byte naming its kind and header size (short, medium or
long). All fields are big-endian at the offsets of the seed's layout tables; the decisions on
the seed's open points, and a field-by-field table, are in ``docs/stream-protocol.md``.

A frame is ``SoF (packet id 0)``, ``Data (packet ids 1..N)``, ``EoF (packet id N+1)``, all
with the same frame id. :func:`encode` picks the smallest header that holds a packet's
values (``min_header`` raises the floor); :func:`decode` takes any bytes and returns a packet
or raises :class:`StreamFormatError`, never anything else.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from typing import NamedTuple

from camera2mqtt.errors import Camera2MqttError

__all__ = [
    "FORMATS",
    "JPEG_YUV422",
    "MAX_FRAME_ID",
    "MAX_PACKET_ID",
    "NO_FLAGS",
    "ColourSpace",
    "DataPacket",
    "EndOfFrame",
    "Flags",
    "HeaderSize",
    "Packet",
    "PacketKind",
    "PayloadType",
    "PixelFormat",
    "StartOfFrame",
    "StreamFormatError",
    "data_header_size",
    "decode",
    "encode",
    "header_for_ids",
    "packet_header",
    "read_ids",
]


class StreamFormatError(Camera2MqttError):
    """Bytes that are not a valid stream packet (or values no packet can carry)."""


class HeaderSize(enum.IntEnum):
    """The three header sizes, ordered from smallest to largest."""

    SHORT = 0
    MEDIUM = 1
    LONG = 2


class Flags(enum.IntFlag):
    """The flag bits, in the first flag byte (byte 1) of medium and long headers.

    The seed numbers bits from the left (bit 0 = most significant), so its first flag is the
    top bit. Short headers carry no flags.
    """

    RESEND = 0x80
    PREVIOUS_DROPPED = 0x40
    DEVICE_SPECIFIC = 0x20
    TRANSMIT = 0x10


NO_FLAGS = Flags(0)
_FLAG_BITS = int(Flags.RESEND | Flags.PREVIOUS_DROPPED | Flags.DEVICE_SPECIFIC | Flags.TRANSMIT)


class PayloadType(enum.IntEnum):
    """What a frame's bytes are (the pixel format's high byte)."""

    PIXELS = 0
    """Uncompressed pixels, laid out as the pixel format and geometry say."""
    JPEG = 1
    """One baseline or progressive JPEG (JFIF/EXIF) file."""


class ColourSpace(enum.IntEnum):
    """The pixel format's colour-space nibble (0-4; 5-15 are reserved)."""

    MONO = 0
    RGB = 1
    YUV444 = 2
    YUV422 = 3
    YUV420 = 4


class PixelFormat(NamedTuple):
    """Payload type, bits per pixel (2-32, even) and colour space, as one 16-bit value."""

    payload: PayloadType
    bits_per_pixel: int
    colour_space: ColourSpace

    def pack(self) -> int:
        if not (2 <= self.bits_per_pixel <= 32 and self.bits_per_pixel % 2 == 0):
            raise StreamFormatError(
                f"Bits per pixel must be an even number from 2 to 32, not {self.bits_per_pixel}."
            )
        code = self.bits_per_pixel // 2 - 1
        return int(self.payload) << 8 | code << 4 | int(self.colour_space)

    @classmethod
    def unpack(cls, value: int) -> PixelFormat:
        if value >> 16:
            raise StreamFormatError(
                f"Pixel format 0x{value:08x} sets reserved bits 16-31; they must be zero."
            )
        payload, code, space = value >> 8, value >> 4 & 0xF, value & 0xF
        try:
            return cls(PayloadType(payload), (code + 1) * 2, ColourSpace(space))
        except ValueError:
            raise StreamFormatError(
                f"Pixel format 0x{value:04x} names an unknown payload type ({payload}, known: "
                f"0 pixels, 1 JPEG) or colour space ({space}, known: 0-4)."
            ) from None


JPEG_YUV422 = PixelFormat(PayloadType.JPEG, 16, ColourSpace.YUV422)


class StartOfFrame(NamedTuple):
    """The first packet of a frame: its timestamp, pixel format and geometry.

    NamedTuples rather than frozen dataclasses: as immutable, several times cheaper to make,
    which counts at tens of thousands of packets a second. ``header`` is the size the packet
    came in (set by :func:`decode`); :func:`encode` ignores it.
    """

    frame_id: int
    timestamp: int
    """Microseconds on the sender's clock (see docs/stream-protocol.md)."""
    pixel_format: PixelFormat
    size_x: int
    size_y: int
    offset_x: int = 0
    offset_y: int = 0
    padding_x: int = 0
    padding_y: int = 0
    flags: Flags = NO_FLAGS
    packet_id: int = 0
    header: HeaderSize | None = None


class DataPacket(NamedTuple):
    """A piece of a frame's bytes; packet ids 1..N in order of the bytes."""

    frame_id: int
    packet_id: int
    payload: bytes
    flags: Flags = NO_FLAGS
    header: HeaderSize | None = None


class EndOfFrame(NamedTuple):
    """The last packet of a frame; its packet id is N+1 for N data packets."""

    frame_id: int
    packet_id: int
    flags: Flags = NO_FLAGS
    header: HeaderSize | None = None


Packet = StartOfFrame | DataPacket | EndOfFrame

# -- limits ------------------------------------------------------------------------------------

_FRAME_ID_BITS = {HeaderSize.SHORT: 24, HeaderSize.MEDIUM: 48, HeaderSize.LONG: 64}
_PACKET_ID_BITS = {HeaderSize.SHORT: 32, HeaderSize.MEDIUM: 64, HeaderSize.LONG: 64}
MAX_FRAME_ID = (1 << 64) - 1
MAX_PACKET_ID = (1 << 64) - 1
_U16, _U32, _U48, _U64 = 0xFFFF, 0xFFFFFFFF, (1 << 48) - 1, (1 << 64) - 1


# -- format bytes and layouts ------------------------------------------------------------------


class PacketKind(enum.IntEnum):
    """Start of frame, data or end of frame."""

    SOF = 0
    DATA = 1
    EOF = 2


# Format byte -> (kind, size, header length). The low nibble is the header length in 32-bit
# words, the high nibble 1 for data and 0 otherwise (docs/stream-protocol.md).
FORMATS: dict[int, tuple[PacketKind, HeaderSize, int]] = {
    0x06: (PacketKind.SOF, HeaderSize.SHORT, 24),
    0x0A: (PacketKind.SOF, HeaderSize.MEDIUM, 40),
    0x0D: (PacketKind.SOF, HeaderSize.LONG, 52),
    0x12: (PacketKind.DATA, HeaderSize.SHORT, 8),
    0x14: (PacketKind.DATA, HeaderSize.MEDIUM, 16),
    0x15: (PacketKind.DATA, HeaderSize.LONG, 20),
    0x02: (PacketKind.EOF, HeaderSize.SHORT, 8),
    0x04: (PacketKind.EOF, HeaderSize.MEDIUM, 16),
    0x05: (PacketKind.EOF, HeaderSize.LONG, 20),
}
_FORMAT_OF = {(kind, size): fmt for fmt, (kind, size, _) in FORMATS.items()}
_SHOWN_FORMATS = ", ".join(f"0x{fmt:02X}" for fmt in FORMATS)

# Data and EoF headers: the ids after the format byte.
_ID_SHORT = struct.Struct("!II")  # format<<24 | frame id (24), packet id (32)
_ID_MEDIUM = struct.Struct("!BBHIQ")  # format, flags, frame id high 16 and low 32, packet id
_ID_LONG = struct.Struct("!IQQ")  # format<<24 | flags (24), frame id, packet id
_HEADER_LENGTH = {HeaderSize.SHORT: 8, HeaderSize.MEDIUM: 16, HeaderSize.LONG: 20}

# SoF: the ids, then timestamp, pixel format, padding, size and offset at the table's offsets.
_SOF_SHORT = struct.Struct("!IIIHHHHHH")  # ... timestamp high 32, low 16, pixfmt, size, offset
_SOF_MEDIUM = struct.Struct("!BBHIQQHBBIIHH")  # ... timestamp, pixfmt, pad x/y, size, offset
_SOF_LONG = struct.Struct("!IQQQIBBHIIII")  # ... timestamp, pixfmt, pad x/y, reserved, ...


def header_for_ids(frame_id: int, packet_id: int, flags: int = 0) -> HeaderSize:
    """The smallest header size whose fields hold these ids (and flags: short has none)."""
    if not (0 <= frame_id <= MAX_FRAME_ID and 0 <= packet_id <= MAX_PACKET_ID):
        raise StreamFormatError(
            f"Frame id {frame_id} and packet id {packet_id} must be from 0 to 2^64-1."
        )
    if flags & ~_FLAG_BITS:
        raise StreamFormatError(f"Flags 0x{flags:x} set bits that are not defined.")
    if not flags and frame_id < 1 << 24 and packet_id < 1 << 32:
        return HeaderSize.SHORT
    if frame_id < 1 << 48:
        return HeaderSize.MEDIUM
    return HeaderSize.LONG


def data_header_size(size: HeaderSize) -> int:
    """Bytes of a Data (or EoF) header of ``size``."""
    return _HEADER_LENGTH[size]


def packet_header(
    kind_data: bool, size: HeaderSize, frame_id: int, packet_id: int, flags: int = 0
) -> bytes:
    """The header of a Data (``kind_data``) or EoF packet at ``size``; values not checked."""
    fmt = _FORMAT_OF[PacketKind.DATA if kind_data else PacketKind.EOF, size]
    if size is HeaderSize.SHORT:
        return _ID_SHORT.pack(fmt << 24 | frame_id, packet_id)
    if size is HeaderSize.MEDIUM:
        return _ID_MEDIUM.pack(fmt, flags, frame_id >> 32, frame_id & _U32, packet_id)
    return _ID_LONG.pack(fmt << 24 | flags << 16, frame_id, packet_id)


def _sof_header(packet: StartOfFrame) -> HeaderSize:
    size = header_for_ids(packet.frame_id, packet.packet_id, packet.flags)
    values = (packet.timestamp, packet.size_x, packet.size_y, packet.offset_x, packet.offset_y)
    values += (packet.padding_x, packet.padding_y)
    if any(not isinstance(value, int) or value < 0 for value in values):
        raise StreamFormatError("Start-of-frame values must be non-negative integers.")
    timestamp, size_x, size_y, offset_x, offset_y, padding_x, padding_y = values
    if timestamp > _U64 or max(size_x, size_y, offset_x, offset_y) > _U32:
        raise StreamFormatError(
            "A start-of-frame timestamp must fit 64 bits and sizes and offsets 32 bits."
        )
    if max(padding_x, padding_y) > 0xFF:
        raise StreamFormatError("Start-of-frame padding must be from 0 to 255.")
    if size is HeaderSize.SHORT and (
        timestamp > _U48 or max(size_x, size_y, offset_x, offset_y) > _U16 or padding_x or padding_y
    ):
        size = HeaderSize.MEDIUM
    if size is HeaderSize.MEDIUM and max(offset_x, offset_y) > _U16:
        size = HeaderSize.LONG
    return size


def encode(packet: Packet, *, min_header: HeaderSize = HeaderSize.SHORT) -> bytes:
    """The bytes of ``packet`` in the smallest header that holds it, at least ``min_header``."""
    if isinstance(packet, StartOfFrame):
        return _encode_sof(packet, max(min_header, _sof_header(packet)))
    if isinstance(packet, DataPacket):
        if packet.packet_id < 1 or not packet.payload:
            raise StreamFormatError("A data packet needs a packet id from 1 and some payload.")
        size = max(min_header, header_for_ids(packet.frame_id, packet.packet_id, packet.flags))
        return packet_header(True, size, packet.frame_id, packet.packet_id, packet.flags) + bytes(
            packet.payload
        )
    if isinstance(packet, EndOfFrame):
        if packet.packet_id < 2:
            raise StreamFormatError(
                "An end-of-frame packet id is the data packet count + 1, so at least 2."
            )
        size = max(min_header, header_for_ids(packet.frame_id, packet.packet_id, packet.flags))
        return packet_header(False, size, packet.frame_id, packet.packet_id, packet.flags)
    raise StreamFormatError(f"Cannot encode a {type(packet).__name__}; give a stream packet.")


def _encode_sof(p: StartOfFrame, size: HeaderSize) -> bytes:
    if p.packet_id != 0:
        raise StreamFormatError("A start-of-frame packet has packet id 0.")
    pixel_format = PixelFormat(*p.pixel_format).pack()
    fmt = _FORMAT_OF[PacketKind.SOF, size]
    if size is HeaderSize.SHORT:
        return _SOF_SHORT.pack(
            fmt << 24 | p.frame_id,
            p.packet_id,
            p.timestamp >> 16,
            p.timestamp & _U16,
            pixel_format,
            p.size_x,
            p.size_y,
            p.offset_x,
            p.offset_y,
        )
    if size is HeaderSize.MEDIUM:
        return _SOF_MEDIUM.pack(
            fmt,
            p.flags,
            p.frame_id >> 32,
            p.frame_id & _U32,
            p.packet_id,
            p.timestamp,
            pixel_format,
            p.padding_x,
            p.padding_y,
            p.size_x,
            p.size_y,
            p.offset_x,
            p.offset_y,
        )
    return _SOF_LONG.pack(
        fmt << 24 | p.flags << 16,
        p.frame_id,
        p.packet_id,
        p.timestamp,
        pixel_format,
        p.padding_x,
        p.padding_y,
        0,
        p.size_x,
        p.size_y,
        p.offset_x,
        p.offset_y,
    )


# -- decoding ----------------------------------------------------------------------------------


def _flags(value: int, reserved: int = 0) -> Flags:
    if value & ~_FLAG_BITS or reserved:
        raise StreamFormatError(
            f"The flags set reserved bits (0x{value:02x}, then 0x{reserved:04x}); only the top "
            "four bits of the first flag byte are defined."
        )
    return Flags(value)


def read_ids(datagram: bytes) -> tuple[PacketKind, HeaderSize, int, int, Flags, int]:
    """Kind, header size, frame id, packet id, flags and header length of a packet's header;
    the rest of a start-of-frame is not read."""
    if not datagram:
        raise StreamFormatError("An empty datagram is not a stream packet.")
    fmt = datagram[0]
    entry = FORMATS.get(fmt)
    if entry is None:
        raise StreamFormatError(
            f"Unknown packet format 0x{fmt:02X}; known formats: {_SHOWN_FORMATS}."
        )
    kind, size, length = entry
    if len(datagram) < length:
        raise StreamFormatError(
            f"A packet of format 0x{fmt:02X} needs a {length}-byte header; got {len(datagram)} "
            "bytes."
        )
    if size is HeaderSize.SHORT:
        first, packet_id = _ID_SHORT.unpack_from(datagram)
        return kind, size, first & 0xFFFFFF, packet_id, Flags(0), length
    if size is HeaderSize.MEDIUM:
        _, flags, high, low, packet_id = _ID_MEDIUM.unpack_from(datagram)
        return kind, size, high << 32 | low, packet_id, _flags(flags), length
    first, frame_id, packet_id = _ID_LONG.unpack_from(datagram)
    return kind, size, frame_id, packet_id, _flags(first >> 16 & 0xFF, first & 0xFFFF), length


def decode(datagram: bytes) -> Packet:
    """The packet in ``datagram``; :class:`StreamFormatError` for anything that is not one."""
    if not isinstance(datagram, bytes | bytearray | memoryview):
        raise StreamFormatError("A stream packet must be bytes.")
    data = bytes(datagram)
    kind, size, frame_id, packet_id, flags, length = read_ids(data)
    if kind is PacketKind.DATA:
        if packet_id < 1:
            raise StreamFormatError("A data packet's id must be 1 or more (0 is the SoF's).")
        if len(data) == length:
            raise StreamFormatError("A data packet must carry at least one byte of payload.")
        return DataPacket(frame_id, packet_id, data[length:], flags, size)
    if len(data) != length:
        what = "start-of-frame" if kind is PacketKind.SOF else "end-of-frame"
        raise StreamFormatError(
            f"A {what} packet of format 0x{data[0]:02X} is exactly {length} bytes; got {len(data)}."
        )
    if kind is PacketKind.EOF:
        if packet_id < 2:
            raise StreamFormatError(
                "An end-of-frame packet id is the data packet count + 1, so at least 2."
            )
        return EndOfFrame(frame_id, packet_id, flags, size)
    if packet_id != 0:
        raise StreamFormatError(f"A start-of-frame packet has packet id 0, not {packet_id}.")
    return _SOF_READERS[size](data, frame_id, flags)


def _sof_short(data: bytes, frame_id: int, flags: Flags) -> StartOfFrame:
    _, _, high, low, pixfmt, size_x, size_y, offset_x, offset_y = _SOF_SHORT.unpack(data)
    return StartOfFrame(
        frame_id,
        high << 16 | low,
        PixelFormat.unpack(pixfmt),
        size_x,
        size_y,
        offset_x,
        offset_y,
        0,
        0,
        flags,
        0,
        HeaderSize.SHORT,
    )


def _sof_medium(data: bytes, frame_id: int, flags: Flags) -> StartOfFrame:
    fields = _SOF_MEDIUM.unpack(data)
    timestamp, pixfmt, pad_x, pad_y, size_x, size_y, offset_x, offset_y = fields[5:]
    return StartOfFrame(
        frame_id,
        timestamp,
        PixelFormat.unpack(pixfmt),
        size_x,
        size_y,
        offset_x,
        offset_y,
        pad_x,
        pad_y,
        flags,
        0,
        HeaderSize.MEDIUM,
    )


def _sof_long(data: bytes, frame_id: int, flags: Flags) -> StartOfFrame:
    fields = _SOF_LONG.unpack(data)
    timestamp, pixfmt, pad_x, pad_y, reserved, size_x, size_y, offset_x, offset_y = fields[3:]
    if reserved:
        raise StreamFormatError(
            f"Bytes 34-35 of a long start-of-frame are reserved and must be zero, not "
            f"0x{reserved:04x}."
        )
    return StartOfFrame(
        frame_id,
        timestamp,
        PixelFormat.unpack(pixfmt),
        size_x,
        size_y,
        offset_x,
        offset_y,
        pad_x,
        pad_y,
        flags,
        0,
        HeaderSize.LONG,
    )


_SOF_READERS: dict[HeaderSize, Callable[[bytes, int, Flags], StartOfFrame]] = {
    HeaderSize.SHORT: _sof_short,
    HeaderSize.MEDIUM: _sof_medium,
    HeaderSize.LONG: _sof_long,
}
