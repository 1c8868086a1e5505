"""Receiving a stream: datagrams -> whole frames, safe against loss, duplicates, reordering.

:class:`FrameReassembler` is the pure part (no I/O, never raises on bad bytes);
:class:`StreamReceiver` binds a UDP port (joining a multicast group when asked) and feeds it
from a background thread. A frame is delivered only when its SoF, every Data packet 1..N and
its EoF (N+1) arrived; a frame missing anything is dropped whole. Frames are delivered in
frame-id order: once a frame is delivered, older incomplete ones are given up.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.lifecycle import StartStop
from camera2mqtt.stream.codec import (
    PacketKind,
    StartOfFrame,
    StreamFormatError,
    decode,
    read_ids,
)
from camera2mqtt.stream.sender import MAX_PACKET_SIZE

__all__ = [
    "FrameReassembler",
    "ReceivedFrame",
    "ReceiverCounters",
    "StreamReceiver",
    "StreamReceiverError",
]

log = logging.getLogger(__name__)

MAX_PENDING_FRAMES = 4
"""Incomplete frames kept at once while their late packets may still come."""
MAX_FRAME_PACKETS = 16384
"""A frame announcing more data packets than this (about 22 MB at 1,400 bytes) is refused."""
NEW_STREAM_DISTANCE = 1024
"""A frame id this far behind the newest finished frame, or ahead of it, starts a new
stream (the sender restarted), rather than counting as late or as a thousand lost frames."""
POLL_INTERVAL = 0.2
RECEIVE_BUFFER_BYTES = 4 << 20
STOP_JOIN_TIMEOUT = 2.0
_DATA_SHORT = b"\x12"
_SHORT_LENGTH = 8
_ID_SHORT = struct.Struct("!II")  # format<<24 | frame id, packet id


class StreamReceiverError(Camera2MqttError):
    """The receiver cannot listen where it was asked to."""


class ReceivedFrame(NamedTuple):
    """One complete frame: its bytes and what its start-of-frame said."""

    frame_id: int
    payload: bytes
    start: StartOfFrame
    received_at: float
    """``clock()`` when its last packet arrived."""


@dataclass(frozen=True, slots=True)
class ReceiverCounters:
    frames_ok: int = 0
    frames_incomplete: int = 0
    """Frames given up (a packet missing or inconsistent) or never seen at all."""
    packets_lost: int = 0
    """Packets missing from the frames given up (those of frames never seen are not known)."""
    datagrams: int = 0
    malformed: int = 0
    duplicates: int = 0
    late: int = 0
    """Packets of frames already delivered or given up."""
    streams: int = 0
    """Streams followed (a sender restart starts a new one)."""

    def summary(self) -> str:
        return ", ".join(
            f"{name.replace('_', ' ')} {getattr(self, name)}"
            for name in ReceiverCounters.__dataclass_fields__
        )


class _Pending:
    __slots__ = ("bad", "last", "parts", "start")

    def __init__(self) -> None:
        self.start: StartOfFrame | None = None
        self.parts: dict[int, bytes] = {}
        self.last: int | None = None  # N, from the EoF's packet id N+1
        self.bad = False

    def received(self) -> int:
        return len(self.parts) + (self.start is not None) + (self.last is not None)

    def expected(self) -> int:
        if self.last is not None:
            return self.last + 2
        return max(self.parts, default=0) + 2


class FrameReassembler:
    """Turns stream datagrams into :class:`ReceivedFrame` objects; not thread-safe."""

    def __init__(
        self,
        *,
        max_pending: int = MAX_PENDING_FRAMES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_pending = max_pending
        self._clock = clock
        self._pending: dict[int, _Pending] = {}
        self._first: int | None = None  # first frame id of the stream being followed
        self._resolved = -1  # highest frame id delivered or given up
        self._ok_in_stream = 0
        self._incomplete_before = 0
        self.frames_ok = 0
        self.packets_lost = 0
        self.datagrams = 0
        self.malformed = 0
        self.duplicates = 0
        self.late = 0
        self.streams = 0

    @property
    def frames_incomplete(self) -> int:
        if self._first is None or self._resolved < self._first:
            return self._incomplete_before
        span = self._resolved - self._first + 1
        return self._incomplete_before + max(0, span - self._ok_in_stream)

    def counters(self) -> ReceiverCounters:
        return ReceiverCounters(
            frames_ok=self.frames_ok,
            frames_incomplete=self.frames_incomplete,
            packets_lost=self.packets_lost,
            datagrams=self.datagrams,
            malformed=self.malformed,
            duplicates=self.duplicates,
            late=self.late,
            streams=self.streams,
        )

    def push(self, datagram: bytes) -> ReceivedFrame | None:
        """Take one datagram; return the frame it completes, if any."""
        self.datagrams += 1
        if datagram[:1] == _DATA_SHORT and len(datagram) > _SHORT_LENGTH:
            # The common case, inlined: a short data packet of a frame being assembled
            # whose end is not known yet, so it cannot complete or contradict it.
            first, packet_id = _ID_SHORT.unpack_from(datagram)
            frame = self._pending.get(first & 0xFFFFFF)
            if (
                frame is not None
                and frame.last is None
                and 0 < packet_id <= MAX_FRAME_PACKETS
                and packet_id not in frame.parts
            ):
                frame.parts[packet_id] = datagram[_SHORT_LENGTH:]
                return None
        try:
            kind, _, frame_id, packet_id, _, length = read_ids(datagram)
        except StreamFormatError:
            self.malformed += 1
            return None
        if self._first is None or self._is_new_stream(frame_id):
            self._new_stream(frame_id)
        elif frame_id <= self._resolved:
            self.late += 1
            return None
        frame = self._pending.get(frame_id)
        if frame is None:
            frame = self._open(frame_id)
        if kind is PacketKind.DATA:
            if packet_id in frame.parts:
                self.duplicates += 1
                return None
            if len(datagram) == length or packet_id < 1 or packet_id > MAX_FRAME_PACKETS:
                self.malformed += 1
                return None
            if frame.last is not None and packet_id > frame.last:
                frame.bad = True
            frame.parts[packet_id] = datagram[length:]
        elif kind is PacketKind.SOF:
            if frame.start is not None:
                self.duplicates += 1
                return None
            try:
                start = decode(datagram)
            except StreamFormatError:
                self.malformed += 1
                return None
            assert isinstance(start, StartOfFrame)
            frame.start = start
        else:
            if len(datagram) != length or packet_id < 2 or packet_id - 1 > MAX_FRAME_PACKETS:
                self.malformed += 1
                return None
            if frame.last is not None:
                self.duplicates += 1
                frame.bad = frame.bad or frame.last != packet_id - 1
                return None
            frame.last = packet_id - 1
            if frame.parts and max(frame.parts) > frame.last:
                frame.bad = True
        if frame.bad:
            self._give_up(frame_id)
            return None
        if frame.start is None or frame.last is None or len(frame.parts) != frame.last:
            return None
        return self._complete(frame_id, frame)

    def flush(self) -> None:
        """Give up every incomplete frame (at the end of a session)."""
        for frame_id in sorted(self._pending):
            self._give_up(frame_id)

    # -- internals -------------------------------------------------------------------------------

    def _is_new_stream(self, frame_id: int) -> bool:
        resolved = max(self._resolved, max(self._pending, default=-1))
        return (
            frame_id < self._resolved - NEW_STREAM_DISTANCE
            or frame_id > resolved + NEW_STREAM_DISTANCE
        )

    def _new_stream(self, frame_id: int) -> None:
        if self._first is not None:
            self.flush()
            self._incomplete_before = self.frames_incomplete
            log.info("The stream restarted at frame %d; following it.", frame_id)
        self._pending.clear()
        self._first = frame_id
        self._resolved = frame_id - 1
        self._ok_in_stream = 0
        self.streams += 1

    def _open(self, frame_id: int) -> _Pending:
        pending = self._pending
        while len(pending) >= self._max_pending:
            self._give_up(min(pending))
        frame = pending[frame_id] = _Pending()
        return frame

    def _give_up(self, frame_id: int) -> None:
        frame = self._pending.pop(frame_id)
        self.packets_lost += max(0, frame.expected() - frame.received())
        self._resolved = max(self._resolved, frame_id)

    def _complete(self, frame_id: int, frame: _Pending) -> ReceivedFrame:
        for older in [other for other in self._pending if other < frame_id]:
            self._give_up(older)
        del self._pending[frame_id]
        self._resolved = frame_id
        parts = frame.parts
        payload = b"".join([parts[index] for index in range(1, len(parts) + 1)])
        self.frames_ok += 1
        self._ok_in_stream += 1
        assert frame.start is not None
        return ReceivedFrame(frame_id, payload, frame.start, self._clock())


def _is_multicast(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_multicast
    except ValueError:
        return False


class StreamReceiver(StartStop):
    """Listens on ``host:port`` (a multicast group is joined) and hands each complete frame
    to ``on_frame`` on its own thread (keep it quick)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        on_frame: Callable[[ReceivedFrame], object],
        receive_buffer: int = RECEIVE_BUFFER_BYTES,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._on_frame = on_frame
        self._receive_buffer = receive_buffer
        self.reassembler = FrameReassembler()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.port = 0

    def start(self) -> StreamReceiver:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
            if _is_multicast(self._host):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((self._host, self._requested_port))
                membership = struct.pack(
                    "4s4s", socket.inet_aton(self._host), socket.inet_aton("0.0.0.0")
                )
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            else:
                sock.bind((self._host, self._requested_port))
        except OSError as error:
            sock.close()
            raise StreamReceiverError(
                f"Cannot listen on UDP {self._host}:{self._requested_port} "
                f"({error.strerror or error}); choose a free port and an address of this machine."
            ) from error
        sock.settimeout(POLL_INTERVAL)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"stream-receiver-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_JOIN_TIMEOUT)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def counters(self) -> ReceiverCounters:
        with self._lock:
            return self.reassembler.counters()

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        recv, push, stop = sock.recv, self.reassembler.push, self._stop
        while not stop.is_set():
            try:
                datagram = recv(MAX_PACKET_SIZE)
            except TimeoutError:
                continue
            except OSError:
                if not stop.is_set():
                    log.exception("The stream receiver stopped.")
                return
            with self._lock:
                frame = push(datagram)
            if frame is not None:
                try:
                    self._on_frame(frame)
                except Exception:
                    log.exception("A stream frame callback failed; the stream goes on.")
