"""Sending frames: one frame -> SoF + Data... + EoF datagrams -> every target.

:func:`packetize` is the pure part (bytes in, datagrams out); :class:`StreamSender` owns the
UDP socket, the frame counter and the targets (unicast or multicast ``udp://HOST:PORT``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.stream.codec import (
    JPEG_YUV422,
    NO_FLAGS,
    ColourSpace,
    EndOfFrame,
    Flags,
    HeaderSize,
    PayloadType,
    PixelFormat,
    StartOfFrame,
    StreamFormatError,
    data_header_size,
    encode,
    header_for_ids,
    packet_header,
)

__all__ = [
    "DEFAULT_PACKET_SIZE",
    "MAX_PACKET_SIZE",
    "MIN_PACKET_SIZE",
    "FrameGeometry",
    "StreamSender",
    "StreamTarget",
    "StreamTargetError",
    "jpeg_geometry",
    "packetize",
    "parse_target",
]

log = logging.getLogger(__name__)

DEFAULT_PACKET_SIZE = 1400
"""Datagram bytes (stream header included): fits a 1,500-byte Ethernet MTU with IP and UDP."""
MIN_PACKET_SIZE = 64
"""The largest header (52 bytes) plus some payload."""
MAX_PACKET_SIZE = 65507
"""The largest UDP payload over IPv4."""
MULTICAST_TTL = 1
"""Multicast stays on the local network segment."""
SEND_BUFFER_BYTES = 1 << 20

_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SEGMENT = struct.Struct("!BBH")
_SOF_BODY = struct.Struct("!BHHB")  # precision, height, width, components


class StreamTargetError(Camera2MqttError):
    """A stream target that is not ``udp://HOST:PORT`` with an IPv4 address or name."""


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """Where a stream goes: a host (unicast or an IPv4 multicast group) and a UDP port."""

    host: str
    port: int

    @property
    def multicast(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_multicast
        except ValueError:
            return False

    def __str__(self) -> str:
        return f"udp://{self.host}:{self.port}"


def parse_target(text: str) -> StreamTarget:
    """``udp://HOST:PORT`` -> :class:`StreamTarget`; :class:`StreamTargetError` otherwise."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if (
        parts is None
        or parts.scheme != "udp"
        or not parts.hostname
        or port is None
        or not 1 <= port <= 65535
        or parts.path not in ("", "/")
        or parts.query
        or parts.username
    ):
        raise StreamTargetError(
            f"{text!r} is not a stream target; write udp://HOST:PORT, e.g. udp://127.0.0.1:5004 "
            "or udp://239.0.0.1:5004 for a multicast group."
        )
    return StreamTarget(parts.hostname, port)


@dataclass(frozen=True, slots=True)
class FrameGeometry:
    """What a start-of-frame says of a frame besides its id and time."""

    pixel_format: PixelFormat
    size_x: int
    size_y: int


def jpeg_geometry(jpeg: bytes) -> FrameGeometry:
    """Width, height and colour sampling from a JPEG's SOFn segment; for a JPEG whose header
    cannot be read, 0x0 with 4:2:2 (what Olympus live view sends)."""
    position, end = 2, min(len(jpeg), 1 << 16)
    while position + 4 <= end:
        marker_start, marker, length = _SEGMENT.unpack_from(jpeg, position)
        if marker_start != 0xFF:
            break
        if marker in _JPEG_SOF_MARKERS and position + 4 + _SOF_BODY.size <= len(jpeg):
            _, height, width, components = _SOF_BODY.unpack_from(jpeg, position + 4)
            return FrameGeometry(_jpeg_format(jpeg, position + 10, components), width, height)
        position += 2 + length
    return FrameGeometry(JPEG_YUV422, 0, 0)


def _jpeg_format(jpeg: bytes, at: int, components: int) -> PixelFormat:
    if components == 1:
        return PixelFormat(PayloadType.JPEG, 8, ColourSpace.MONO)
    sampling = jpeg[at + 1] if at + 1 < len(jpeg) else 0x21
    horizontal, vertical = sampling >> 4, sampling & 0xF
    if (horizontal, vertical) == (1, 1):
        return PixelFormat(PayloadType.JPEG, 24, ColourSpace.YUV444)
    if (horizontal, vertical) == (2, 2):
        return PixelFormat(PayloadType.JPEG, 12, ColourSpace.YUV420)
    return JPEG_YUV422


def packetize(
    payload: bytes,
    *,
    frame_id: int,
    timestamp: int,
    geometry: FrameGeometry,
    packet_size: int = DEFAULT_PACKET_SIZE,
    min_header: HeaderSize = HeaderSize.SHORT,
    flags: Flags = NO_FLAGS,
) -> list[bytes]:
    """The datagrams of one frame: SoF (with ``flags``), Data 1..N, EoF N+1.

    Data and EoF packets share one header size, the smallest that holds the frame id (at
    least ``min_header``); no datagram is longer than ``packet_size``.
    """
    if not payload:
        raise StreamFormatError("A frame needs at least one byte.")
    if not MIN_PACKET_SIZE <= packet_size <= MAX_PACKET_SIZE:
        raise StreamFormatError(
            f"packet_size must be from {MIN_PACKET_SIZE} to {MAX_PACKET_SIZE}, not {packet_size}."
        )
    sof = StartOfFrame(
        frame_id, timestamp, geometry.pixel_format, geometry.size_x, geometry.size_y, flags=flags
    )
    size = max(min_header, header_for_ids(frame_id, 0))
    chunk = packet_size - data_header_size(size)
    view = memoryview(payload)
    count = -(-len(payload) // chunk)
    if size is HeaderSize.SHORT:
        # The common case, inlined: the format byte and frame id as one 32-bit word.
        head = (0x12 << 24 | frame_id).to_bytes(4, "big")
        datagrams = [encode(sof, min_header=min_header)]
        datagrams += [
            head + index.to_bytes(4, "big") + view[(index - 1) * chunk : index * chunk]
            for index in range(1, count + 1)
        ]
        datagrams.append(packet_header(False, size, frame_id, count + 1))
        return datagrams
    datagrams = [encode(sof, min_header=min_header)]
    for index in range(1, count + 1):
        header = packet_header(True, size, frame_id, index)
        datagrams.append(header + view[(index - 1) * chunk : index * chunk])
    datagrams.append(encode(EndOfFrame(frame_id, count + 1), min_header=size))
    return datagrams


class StreamSender:
    """Sends frames to the targets from one UDP socket; thread-safe.

    Frame ids count up from ``first_frame_id``. Timestamps are microseconds since the
    sender was made, on ``clock`` (default ``time.monotonic``), unless given per frame.
    """

    def __init__(
        self,
        targets: Sequence[StreamTarget],
        *,
        packet_size: int = DEFAULT_PACKET_SIZE,
        min_header: HeaderSize = HeaderSize.SHORT,
        first_frame_id: int = 0,
        clock: Callable[[], float] = time.monotonic,
        bind_host: str = "",
    ) -> None:
        if not targets:
            raise StreamTargetError("A stream needs at least one target (udp://HOST:PORT).")
        if not MIN_PACKET_SIZE <= packet_size <= MAX_PACKET_SIZE:
            raise StreamFormatError(
                f"packet_size must be from {MIN_PACKET_SIZE} to {MAX_PACKET_SIZE}, "
                f"not {packet_size}."
            )
        self.targets = tuple(targets)
        self.packet_size = packet_size
        self._min_header = min_header
        self._next_frame_id = first_frame_id
        self._clock = clock
        self._epoch = clock()
        self._lock = threading.Lock()
        self.frames_sent = 0
        self.datagrams_sent = 0
        self.send_errors = 0
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            if any(target.multicast for target in self.targets):
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, MULTICAST_TTL)
            if bind_host:
                sock.bind((bind_host, 0))
            self._addresses = [
                socket.getaddrinfo(t.host, t.port, socket.AF_INET, socket.SOCK_DGRAM)[0][4]
                for t in self.targets
            ]
        except OSError as error:
            sock.close()
            raise StreamTargetError(
                f"Cannot send to {', '.join(map(str, self.targets))}: {error}; check the "
                "target host names."
            ) from error
        self._sock = sock

    def timestamp(self, at: float | None = None) -> int:
        """Microseconds since the sender was made, at ``at`` (a ``clock`` reading) or now."""
        return max(0, round(((self._clock() if at is None else at) - self._epoch) * 1e6))

    def send_frame(
        self,
        payload: bytes,
        *,
        timestamp: int | None = None,
        geometry: FrameGeometry | None = None,
        previous_dropped: bool = False,
    ) -> int:
        """Send one frame (a JPEG unless ``geometry`` says otherwise) to every target;
        returns its frame id. A target that cannot be reached is logged, not raised."""
        with self._lock:
            frame_id = self._next_frame_id
            self._next_frame_id += 1
            datagrams = packetize(
                payload,
                frame_id=frame_id,
                timestamp=self.timestamp() if timestamp is None else timestamp,
                geometry=geometry or jpeg_geometry(payload),
                packet_size=self.packet_size,
                min_header=self._min_header,
                flags=Flags.PREVIOUS_DROPPED if previous_dropped else NO_FLAGS,
            )
            sendto = self._sock.sendto
            for address in self._addresses:
                try:
                    for datagram in datagrams:
                        sendto(datagram, address)
                except OSError as error:
                    self.send_errors += 1
                    log.debug("Stream to %s:%d failed: %s", *address[:2], error)
            self.frames_sent += 1
            self.datagrams_sent += len(datagrams) * len(self._addresses)
            return frame_id

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> StreamSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
