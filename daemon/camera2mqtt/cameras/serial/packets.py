"""Bytes of the photopc/Sierra serial protocol: packets, checksums and control bytes.

Shared by the serial driver (host side) and the serial simulator (camera side). Pure
functions and values, no I/O: :class:`PacketDecoder` turns a byte stream into
:class:`Packet`, :class:`BadChecksum`, :class:`ControlByte` and :class:`Garbage` items and
never raises on what it is fed.

Layout (all numbers little-endian)::

    packet  = type(1) seq_or_subtype(1) length(2) data(length) checksum(2)
    command = 1b (53|43) length cmd reg [argument...] checksum
    data    = (02|03) seq length data checksum        02: more follows, 03: last

The checksum is the 16-bit sum of the data bytes only.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "HEADER_SIZE",
    "MAX_DATA",
    "TRAILER_SIZE",
    "BadChecksum",
    "Command",
    "CommandSubtype",
    "Control",
    "ControlByte",
    "DecodedItem",
    "Garbage",
    "Opcode",
    "Packet",
    "PacketDecoder",
    "PacketType",
    "checksum",
    "encode_action",
    "encode_command",
    "encode_data",
    "encode_data_packets",
    "encode_get_int",
    "encode_get_var",
    "encode_packet",
    "encode_set_int",
    "encode_set_var",
    "split_data",
]

MAX_DATA = 2048
"""Largest data field of one packet (2054 bytes on the wire with header and checksum)."""
HEADER_SIZE = 4
TRAILER_SIZE = 2


class Control(enum.IntEnum):
    """Single bytes exchanged outside packets."""

    NUL = 0x00  # host: initialisation byte
    ENQ = 0x05  # camera: action complete
    ACK = 0x06
    DC1 = 0x11  # camera: cannot execute / unsupported register
    NAK = 0x15  # resend; also the camera's answer to NUL (its signature)
    CAN = 0x18  # camera: rejected (some Epson models answer this instead of DC1)
    WRONG_SPEED = 0x8C  # camera (gphoto2's name): session must be re-initialised
    SESSION_ERROR = 0xFC  # camera (gphoto2's name): session must be re-initialised
    END = 0xFF  # camera: session ended (idle timeout), line back at 19200


class PacketType(enum.IntEnum):
    DATA_MORE = 0x02
    DATA_LAST = 0x03
    COMMAND = 0x1B


class CommandSubtype(enum.IntEnum):
    FIRST = 0x53  # first command of a session and speed changes
    NEXT = 0x43


class Opcode(enum.IntEnum):
    """First byte of a command's data field."""

    SET_INT = 0  # int32 argument, answered with ACK
    GET_INT = 1  # answered with one data packet of 4 bytes
    ACTION = 2  # action code in place of the register, answered with ACK then ENQ
    SET_VAR = 3  # bytes argument, answered with ACK
    GET_VAR = 4  # answered with a sequence of data packets


_LENGTH = struct.Struct("<H")
_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")


def checksum(data: bytes | bytearray | memoryview) -> int:
    """The 16-bit arithmetic sum of ``data``."""
    return sum(data) & 0xFFFF


# ---------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Packet:
    """One packet with a good checksum. ``seq`` is the subtype for command packets."""

    type: int
    seq: int
    data: bytes

    def __post_init__(self) -> None:
        if self.type not in _PACKET_TYPES:
            raise ValueError(f"packet type {self.type:#04x} is not 0x02, 0x03 or 0x1b")
        if not 0 <= self.seq <= 0xFF:
            raise ValueError(f"packet sequence {self.seq} is not a byte")
        if len(self.data) > MAX_DATA:
            raise ValueError(f"packet data of {len(self.data)} bytes exceeds {MAX_DATA}")

    @property
    def is_command(self) -> bool:
        return self.type == PacketType.COMMAND

    @property
    def is_data(self) -> bool:
        return self.type in (PacketType.DATA_MORE, PacketType.DATA_LAST)

    @property
    def is_last(self) -> bool:
        return self.type == PacketType.DATA_LAST

    @property
    def is_first_of_session(self) -> bool:
        return self.type == PacketType.COMMAND and self.seq == CommandSubtype.FIRST

    def command(self) -> Command:
        """The command this packet carries (``ValueError`` if it is no command packet)."""
        if not self.is_command:
            raise ValueError(f"packet type {self.type:#04x} carries no command")
        return Command.from_data(self.data)

    def encode(self) -> bytes:
        return encode_packet(self.type, self.seq, self.data)


@dataclass(frozen=True)
class Command:
    """The data field of a command packet: opcode, register (or action code), argument."""

    opcode: int
    register: int
    argument: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.opcode <= 0xFF or not 0 <= self.register <= 0xFF:
            raise ValueError("command opcode and register must be bytes")
        if len(self.argument) > MAX_DATA - 2:
            raise ValueError(f"command argument longer than {MAX_DATA - 2} bytes")

    @classmethod
    def from_data(cls, data: bytes) -> Command:
        if len(data) < 2:
            raise ValueError(f"a command needs at least 2 bytes, got {len(data)}")
        return cls(data[0], data[1], bytes(data[2:]))

    @property
    def int_argument(self) -> int | None:
        """The int32 argument of a SET_INT, or None when it has no 4-byte argument."""
        if len(self.argument) != _INT32.size:
            return None
        return _UINT32.unpack(self.argument)[0]

    def to_data(self) -> bytes:
        return bytes((self.opcode, self.register)) + self.argument


@dataclass(frozen=True)
class BadChecksum:
    """A complete packet whose checksum does not match its data (answer it with NAK)."""

    type: int
    seq: int
    data: bytes
    received: int
    computed: int


@dataclass(frozen=True)
class ControlByte:
    """A single protocol byte outside a packet (see :class:`Control`)."""

    value: Control


@dataclass(frozen=True)
class Garbage:
    """Bytes that are neither a known control byte nor the start of a valid packet."""

    data: bytes


DecodedItem = Packet | BadChecksum | ControlByte | Garbage

_PACKET_TYPES = frozenset(int(t) for t in PacketType)
_CONTROL_VALUES = frozenset(int(c) for c in Control)
_COMMAND_SUBTYPES = frozenset(int(s) for s in CommandSubtype)


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_packet(packet_type: int, seq: int, data: bytes) -> bytes:
    """Frame ``data`` as one packet of ``packet_type`` with ``seq`` (or subtype)."""
    if len(data) > MAX_DATA:
        raise ValueError(f"packet data of {len(data)} bytes exceeds {MAX_DATA}")
    return (
        bytes((packet_type, seq))
        + _LENGTH.pack(len(data))
        + bytes(data)
        + _LENGTH.pack(checksum(data))
    )


def encode_command(
    opcode: int, register: int, argument: bytes = b"", *, first: bool = False
) -> bytes:
    """A command packet; ``first`` for the first command of a session or a speed change."""
    subtype = CommandSubtype.FIRST if first else CommandSubtype.NEXT
    return encode_packet(PacketType.COMMAND, subtype, Command(opcode, register, argument).to_data())


def encode_set_int(register: int, value: int, *, first: bool = False) -> bytes:
    """SET_INT ``register`` = ``value`` (int32, negative values as two's complement)."""
    return encode_command(Opcode.SET_INT, register, _UINT32.pack(value & 0xFFFFFFFF), first=first)


def encode_get_int(register: int, *, first: bool = False) -> bytes:
    return encode_command(Opcode.GET_INT, register, first=first)


def encode_action(action: int, argument: int = 0, *, first: bool = False) -> bytes:
    """ACTION ``action`` with its one-byte argument (usually zero)."""
    return encode_command(Opcode.ACTION, action, bytes((argument,)), first=first)


def encode_set_var(register: int, value: bytes, *, first: bool = False) -> bytes:
    """SET_VAR ``register`` with a value that fits in one command packet (2046 bytes)."""
    return encode_command(Opcode.SET_VAR, register, value, first=first)


def encode_get_var(register: int, *, first: bool = False) -> bytes:
    return encode_command(Opcode.GET_VAR, register, first=first)


def encode_data(data: bytes, seq: int = 0, *, last: bool = True) -> bytes:
    """One data packet: type 0x03 if ``last``, else 0x02."""
    packet_type = PacketType.DATA_LAST if last else PacketType.DATA_MORE
    return encode_packet(packet_type, seq & 0xFF, data)


def split_data(payload: bytes, max_data: int = MAX_DATA) -> list[bytes]:
    """``payload`` cut into packet-sized pieces (one empty piece for an empty payload)."""
    if not 1 <= max_data <= MAX_DATA:
        raise ValueError(f"max_data must be between 1 and {MAX_DATA}")
    if not payload:
        return [b""]
    return [payload[i : i + max_data] for i in range(0, len(payload), max_data)]


def encode_data_packets(payload: bytes, max_data: int = MAX_DATA) -> list[bytes]:
    """The data packets of a multi-packet reply, numbered from zero, the last one 0x03."""
    pieces = split_data(payload, max_data)
    return [
        encode_data(piece, seq, last=seq == len(pieces) - 1) for seq, piece in enumerate(pieces)
    ]


# ---------------------------------------------------------------------------------------------
# Decoding


class PacketDecoder:
    """Incremental decoder: ``feed`` bytes as they arrive, get complete items back.

    Bytes of an unfinished packet stay buffered until the rest arrives; the caller owns
    the timeouts and calls :meth:`reset` to drop a half packet. A header with an unknown
    command subtype or a length above :data:`MAX_DATA` is not a packet: its first byte is
    reported as :class:`Garbage` and decoding resumes at the next byte.

    ``accept_checksums`` lists checksum values taken as good whatever the data (the
    Nikon CoolPix 880 always sends 0xffff, the Toshiba PDR-M6x 0x0000).
    """

    def __init__(self, *, accept_checksums: Iterable[int] = ()) -> None:
        self._buffer = bytearray()
        self._accept = frozenset(accept_checksums)

    @property
    def pending(self) -> int:
        """Bytes held for a packet that is not complete yet."""
        return len(self._buffer)

    @property
    def in_packet(self) -> bool:
        return bool(self._buffer)

    def reset(self) -> bytes:
        """Drop and return the buffered bytes of an unfinished packet."""
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return dropped

    def feed(self, data: bytes | bytearray | memoryview) -> list[DecodedItem]:
        self._buffer += data
        items: list[DecodedItem] = []
        garbage = bytearray()
        buf = self._buffer
        pos = 0
        while pos < len(buf):
            first = buf[pos]
            if first not in _PACKET_TYPES:
                if first in _CONTROL_VALUES:
                    if garbage:
                        items.append(Garbage(bytes(garbage)))
                        garbage.clear()
                    items.append(ControlByte(Control(first)))
                else:
                    garbage.append(first)
                pos += 1
                continue
            available = len(buf) - pos
            bad_subtype = (
                available >= 2
                and first == PacketType.COMMAND
                and buf[pos + 1] not in _COMMAND_SUBTYPES
            )
            if not bad_subtype and available < HEADER_SIZE:
                break
            if bad_subtype or _LENGTH.unpack_from(buf, pos + 2)[0] > MAX_DATA:
                garbage.append(first)
                pos += 1
                continue
            seq = buf[pos + 1]
            (length,) = _LENGTH.unpack_from(buf, pos + 2)
            end = pos + HEADER_SIZE + length + TRAILER_SIZE
            if len(buf) < end:
                break
            if garbage:
                items.append(Garbage(bytes(garbage)))
                garbage.clear()
            data = bytes(buf[pos + HEADER_SIZE : end - TRAILER_SIZE])
            (received,) = _LENGTH.unpack_from(buf, end - TRAILER_SIZE)
            computed = checksum(data)
            if received == computed or received in self._accept:
                items.append(Packet(first, seq, data))
            else:
                items.append(BadChecksum(first, seq, data, received, computed))
            pos = end
        if garbage:
            items.append(Garbage(bytes(garbage)))
        del buf[:pos]
        return items
