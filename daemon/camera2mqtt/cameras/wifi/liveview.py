"""Live view: RTP packets over UDP -> whole JPEG frames -> the latest good frame.

Three layers: :class:`FrameAssembler` (datagrams in, verified frames out, no I/O),
:func:`pump` (the receive loop on a socket) and :class:`LiveView` (the session: binds the
UDP port, asks the camera to stream to it, keeps the latest frame, stops cleanly).

A frame is only ever emitted whole: every packet from the X=1 first packet to the M=1 last
one present exactly once, the JPEG starting FFD8 and ending FFD9, and its length equal to
the frame-size TLV when the camera sends one. Packets that merely arrive out of order are
put back in order; a frame with a missing or damaged packet is dropped and counted.
"""

from __future__ import annotations

import array
import collections
import contextlib
import logging
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from camera2mqtt.cameras.base import CameraError, CameraTimeout
from camera2mqtt.cameras.wifi.rtp import (
    HEADER_SIZE,
    SEQUENCE_MODULO,
    FrameInfo,
    MalformedPacket,
    announced_frame_size,
    decode_frame_info,
    parse_packet,
)
from camera2mqtt.cameras.wifi.udp import (
    ANY_ADDRESS,
    DatagramBatch,
    accept_only,
    datagram_source,
    local_address_towards,
    split_datagrams,
)
from camera2mqtt.lifecycle import StartStop

__all__ = [
    "DEFAULT_FIRST_FRAME_TIMEOUT",
    "Frame",
    "FrameAssembler",
    "LiveView",
    "LiveViewControl",
    "LiveViewCounters",
    "pump",
]

log = logging.getLogger(__name__)

DEFAULT_FIRST_FRAME_TIMEOUT = 5.0
RECEIVE_BUFFER_BYTES = 4 << 20
"""SO_RCVBUF asked for (Linux caps it at net.core.rmem_max and doubles it)."""
MAX_DATAGRAM = 65536
POLL_INTERVAL = 0.2
"""How often the receive loop looks at the stop flag while no datagram arrives."""
STOP_JOIN_TIMEOUT = 2.0
MAX_PENDING_FRAMES = 3
"""Incomplete frames kept at once while their late packets may still come."""
SEQUENCE_WINDOW = 2048
"""How far back (in packets) duplicates are recognised; older packets count as late."""
SSRC_SWITCH_PACKETS = 64
"""Packets in a row from another source after which the receiver follows the new stream."""
FINISHED_KEPT = MAX_PENDING_FRAMES * 4
"""Frames remembered after they were emitted or given up, so their late packets are ignored."""
MAX_FRAME_PACKETS = 4096
"""A frame with more packets than this (about 5.6 MB) is given up, so memory stays bounded."""
FRAME_QUEUE = 16
"""Frames kept for a slow :meth:`LiveView.frames` reader before the oldest are skipped."""

JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"
_HALF = SEQUENCE_MODULO // 2
_FAST_HEADER = struct.Struct("!BBHQ")  # timestamp and SSRC read as one 64-bit number
_EXTENSION_HEADER = struct.Struct("!HH")  # profile/version, length in 32-bit words
_PLAIN = 0x80  # first byte of any other packet: V=2, no padding, extension or CSRCs
_OPENING = 0x90  # first byte of a frame's first packet: V=2, X=1, no padding or CSRCs
_TIMESTAMP_MASK = 0xFFFFFFFF
MAX_RUN = 256
"""Packets checked at once by the in-order path (:meth:`FrameAssembler._take_run`)."""
_MARKER_BITS = bytes(byte >> 7 for byte in range(256))
"""Maps a header's second byte to its M bit."""


def _sequence_bytes() -> tuple[bytes, bytes]:
    """The high and the low bytes of every 16-bit sequence number in order, then of the
    first MAX_RUN again: those of any run of up to MAX_RUN packets are one slice of each."""
    numbers = array.array("H", range(SEQUENCE_MODULO))
    numbers.extend(range(MAX_RUN))
    if sys.byteorder == "little":
        numbers.byteswap()
    table = numbers.tobytes()
    return table[0::2], table[1::2]


_SEQUENCE_HIGH, _SEQUENCE_LOW = _sequence_bytes()

# How a packet's sequence number relates to those seen before (_track_sequence).
_NEWEST, _GAP, _DUPLICATE, _LATE = 1, 0, -1, -2


class Frame(NamedTuple):
    """One verified live-view JPEG. ``timestamp`` is the camera's frame counter.

    A NamedTuple rather than a frozen dataclass: as immutable, and made several times
    faster, which counts at a few thousand frames a second.
    """

    jpeg: bytes
    timestamp: int
    extension: bytes
    """The TLVs of the frame's first packet, decoded by :attr:`info`."""
    received_at: float
    """``time.monotonic()`` when the last packet arrived."""

    @property
    def info(self) -> FrameInfo:
        """What the camera said about this frame (decoded on each access, not per frame)."""
        return decode_frame_info(self.extension)


@dataclass(frozen=True, slots=True)
class LiveViewCounters:
    """What the receiver saw so far."""

    frames_ok: int = 0
    frames_dropped: int = 0
    """Frames given up: a packet missing, damaged, or the JPEG failing its checks."""
    frames_invalid: int = 0
    """Of the dropped, those whose packets were all there but the JPEG failed a check."""
    frames_skipped: int = 0
    """Good frames a slow :meth:`LiveView.frames` reader never saw."""
    datagrams: int = 0
    malformed: int = 0
    packets_lost: int = 0
    reordered: int = 0
    duplicates: int = 0
    late: int = 0
    foreign: int = 0
    """Packets from another RTP source (SSRC) than the stream being followed."""

    def summary(self) -> str:
        return ", ".join(f"{name.replace('_', ' ')} {getattr(self, name)}" for name in _COUNTERS)


_COUNTERS = tuple(LiveViewCounters.__dataclass_fields__)


@dataclass(slots=True)
class _PendingFrame:
    timestamp: int
    template: bytes
    """The 12-byte header every middle packet of this frame has, its sequence number
    zeroed (:meth:`FrameAssembler._take_run` fills it in)."""
    parts: dict[int, bytes | memoryview] = field(default_factory=dict)
    """Packets by sequence number: those that did not come through the in-order path."""
    run: list[bytes | memoryview] = field(default_factory=list)
    """Then the packets that came in sequence from ``run_first`` on, none of them in
    ``parts`` (only the frame being assembled has one; :meth:`settle` folds it in)."""
    run_first: int = 0
    first: int | None = None
    last: int | None = None
    extension: bytes | memoryview | None = None
    damaged: bool = False
    in_order: bool = True
    """No packet of this frame arrived after a later one: ``parts`` is in sequence order."""

    @property
    def packets(self) -> int:
        return len(self.parts) + len(self.run)

    def join(self, expected: int) -> bytes:
        """The JPEG: the payloads from the first packet to the last, ``expected`` of them.
        KeyError when one of them is missing."""
        first = self.first
        if not self.parts and self.run_first == first:
            return b"".join(self.run)  # every packet, first..last, came in sequence
        self.settle()
        parts = self.parts
        # Packets that all came in rising order, the first being ``first`` and the last
        # ``last``, are exactly first..last: dicts keep that insertion order.
        if self.in_order and next(iter(parts)) == first and next(reversed(parts)) == self.last:
            return b"".join(parts.values())
        return b"".join([parts[(first + i) & 0xFFFF] for i in range(expected)])

    def settle(self) -> None:
        """Move the in-order run into ``parts``, for the packet-by-packet path."""
        if self.run:
            first = self.run_first
            sequences = [(first + offset) & 0xFFFF for offset in range(len(self.run))]
            self.parts.update(zip(sequences, self.run, strict=True))
            self.run = []


class FrameAssembler:
    """Turns live-view datagrams into verified JPEG frames; never raises on bad input.

    Not thread-safe: one receive loop feeds it. Counters are plain attributes, read with
    :meth:`counters`.
    """

    def __init__(self) -> None:
        self.frames_ok = 0
        self.frames_dropped = 0
        self.frames_invalid = 0
        self.datagrams = 0
        self.malformed = 0
        self.reordered = 0
        self.duplicates = 0
        self.late = 0
        self.foreign = 0
        self._unique = 0
        self._lost_before = 0  # packets lost in streams from an earlier source
        self._ssrc: int | None = None
        self._other_ssrc: int | None = None
        self._other_count = 0
        # Extended sequence numbers (16-bit numbers plus the wrap count): the first and the
        # highest seen, and those in between that have not come (yet).
        self._base = 0
        self._highest = -1
        self._missing: set[int] = set()
        self._next_sequence = -1
        self._current: _PendingFrame | None = None
        """The frame the newest packet belongs to, while it is still incomplete."""
        self._pending: dict[int, _PendingFrame] = {}
        self._finished: dict[int, None] = {}
        """Frame counters of the latest frames emitted or given up, oldest first."""

    # -- counters ------------------------------------------------------------------------------

    @property
    def packets_lost(self) -> int:
        if self._highest < 0:
            return self._lost_before
        return self._lost_before + max(0, self._highest - self._base + 1 - self._unique)

    def counters(self, *, frames_skipped: int = 0) -> LiveViewCounters:
        return LiveViewCounters(
            frames_ok=self.frames_ok,
            frames_dropped=self.frames_dropped,
            frames_invalid=self.frames_invalid,
            frames_skipped=frames_skipped,
            datagrams=self.datagrams,
            malformed=self.malformed,
            packets_lost=self.packets_lost,
            reordered=self.reordered,
            duplicates=self.duplicates,
            late=self.late,
            foreign=self.foreign,
        )

    # -- input ---------------------------------------------------------------------------------

    def push(self, datagram: bytes) -> Frame | None:
        """Feed one datagram; return the frame it completes, if any."""
        frames: list[Frame] = []
        self.feed((datagram,), frames.append)
        return frames[0] if frames else None

    def feed(self, datagrams: Iterable[bytes], deliver: Callable[[Frame], object]) -> None:
        """Feed every datagram, handing each completed frame to ``deliver``."""
        batch = split_datagrams(datagrams, HEADER_SIZE)
        self.consume(iter((batch,)).__next__, deliver)

    def consume(
        self,
        next_batch: Callable[[], DatagramBatch],
        deliver: Callable[[Frame], object],
        *,
        stop: threading.Event | None = None,
    ) -> None:
        """Take datagrams, a batch at a time, from ``next_batch()`` until it raises
        StopIteration or ``stop`` is set; hand each completed frame to ``deliver``. Each
        datagram comes split after its 12-byte RTP header (:func:`datagram_source` with
        ``head_size=HEADER_SIZE``).

        ``next_batch`` may raise TimeoutError when nothing arrives (a socket's ``recv``
        does); ``stop`` is looked at then, and after every run of in-order packets and
        every other datagram (so at least once a frame, and after every delivered frame).
        """
        while True:
            try:
                batch = next_batch()
            except TimeoutError:
                if stop is not None and stop.is_set():
                    return
                continue
            except StopIteration:
                return
            if self._take(batch, deliver, stop):
                return

    def _take(
        self,
        batch: DatagramBatch,
        deliver: Callable[[Frame], object],
        stop: threading.Event | None,
    ) -> bool:
        """Assemble one batch; True when ``stop`` was set on the way."""
        heads, bodies = batch
        if not bodies:  # every datagram came from another address
            return stop is not None and stop.is_set()
        markers = heads[1::HEADER_SIZE].translate(_MARKER_BITS)
        index, count = 0, len(bodies)
        while index < count:
            taken, frame = self._take_run(heads, bodies, markers, index)
            if not taken:
                frame = self._take_other(heads, bodies[index], index)
                taken = 1
            index += taken
            if frame is not None:
                deliver(frame)
            if stop is not None and stop.is_set():
                return True
        return False

    def _take_run(
        self, heads: bytes, bodies: list[bytes], markers: bytes, index: int
    ) -> tuple[int, Frame | None]:
        """The in-order path, which most packets take: from ``index`` on, the packets that
        are exactly what the frame being assembled expects next, up to and including its
        last packet (M=1). Each must have first byte 0x80 (V=2, no padding, extension or
        CSRCs), the frame's payload type, frame counter and SSRC, and the next sequence
        number. When no frame is being assembled, the next frame's first packet (X=1), next
        in sequence, opens it and the run goes on after it. A frame whose last packet (M=1)
        came early is left to the full parse, which completes it with any packet.

        The run's headers are compared with the expected ones in one go, and its payloads
        are stored without looking at each. Returns how many packets were taken (0: the one
        at ``index`` is for the packet-by-packet path) and the frame they completed.
        """
        frame = self._current
        start = index
        if frame is None:
            frame = self._open_in_order(heads, bodies[index], index)
            if frame is None:
                return 0, None
            start += 1
        elif frame.last is not None:
            return 0, None  # its last packet came early: each packet may complete it now
        end = markers.find(1, start)
        stop = len(bodies) if end < 0 else end + 1
        stop = min(stop, start + MAX_RUN, start + MAX_FRAME_PACKETS - frame.packets)
        if stop <= start:
            return start - index, None
        size = HEADER_SIZE
        sequence = self._next_sequence
        actual = heads[start * size : stop * size]
        expected = bytearray(frame.template) * (stop - start)
        expected[2::size] = _SEQUENCE_HIGH[sequence : sequence + stop - start]
        expected[3::size] = _SEQUENCE_LOW[sequence : sequence + stop - start]
        if stop - 1 == end:
            expected[-11] |= 0x80  # M=1 on the frame's last packet
        if actual == expected:
            taken = stop - start
        else:
            # Those before the first differing byte match: XOR leaves it the highest bit.
            difference = int.from_bytes(actual) ^ int.from_bytes(expected)
            taken = (len(actual) - (difference.bit_length() + 7) // 8) // size
            if not taken:
                return start - index, None
        if not frame.run:
            frame.run_first = sequence
        frame.run += bodies[start : start + taken]
        last = (sequence + taken - 1) & 0xFFFF
        self._absorb(taken, (last + 1) & 0xFFFF)
        if markers[start + taken - 1]:
            return start + taken - index, self._end_current(frame, last)
        return start + taken - index, None

    def _open_in_order(self, heads: bytes, payload: bytes, index: int) -> _PendingFrame | None:
        """Open the next frame if the datagram at ``index`` is its first packet (X=1, M=0),
        next in sequence, from the source being followed, of a frame not seen before, with an
        extension that fits; booked exactly as :meth:`_push_slow` would. None otherwise."""
        first, second, sequence, stream = _FAST_HEADER.unpack_from(heads, index * HEADER_SIZE)
        timestamp, ssrc = stream >> 32, stream & _TIMESTAMP_MASK
        if (
            first != _OPENING
            or second >= 0x80
            or sequence != self._next_sequence
            or ssrc != self._ssrc
            or timestamp in self._pending
            or timestamp in self._finished
        ):
            return None
        try:
            _, words = _EXTENSION_HEADER.unpack_from(payload)
        except struct.error:
            return None
        start = _EXTENSION_HEADER.size + 4 * words
        if start > len(payload):
            return None
        frame = self._open(timestamp, second)
        frame.first = frame.run_first = sequence
        frame.extension = payload[_EXTENSION_HEADER.size : start]
        frame.run.append(payload[start:])
        self._current = frame
        self._absorb(1, (sequence + 1) & 0xFFFF)
        return frame

    def _take_other(self, heads: bytes, payload: bytes, index: int) -> Frame | None:
        """Any other datagram goes through the full parse (:meth:`_push_slow`)."""
        if self._current is not None:
            self._current.settle()
        # The datagram whole again; a short one's zero head fails as RTP version 0.
        head = heads[index * HEADER_SIZE : (index + 1) * HEADER_SIZE]
        return self._push_slow(head + payload)

    def _absorb(self, count: int, next_sequence: int) -> None:
        """Book ``count`` packets that came next in sequence."""
        self.datagrams += count
        self._unique += count
        self._highest += count
        self._next_sequence = next_sequence
        self._other_count = 0

    def _end_current(self, frame: _PendingFrame, sequence: int) -> Frame | None:
        """The in-order path's frame end: ``frame``'s last packet came in order (and the
        in-order path never runs once a frame's last packet is known)."""
        frame.last = sequence
        if frame.first is None:
            return None
        expected = (sequence - frame.first) % SEQUENCE_MODULO + 1
        if frame.packets >= expected or frame.damaged:
            return self._complete(frame, expected)
        return None

    def _push_slow(self, datagram: bytes) -> Frame | None:
        self.datagrams += 1
        try:
            packet = parse_packet(datagram)
        except MalformedPacket:
            self.malformed += 1
            return None
        sequence, timestamp, ssrc, marker, payload_type, payload, extension = packet[:7]
        if ssrc == self._ssrc:
            self._other_count = 0
        elif not self._follow(ssrc):
            self.foreign += 1
            return None
        arrival = self._track_sequence(sequence)
        if arrival < _GAP:
            if arrival == _DUPLICATE:
                self._check_duplicate(timestamp, sequence, payload)
            return None
        newest = arrival == _NEWEST

        if timestamp in self._finished:
            return None  # a straggler of a frame already emitted or given up
        frame = self._pending.get(timestamp)
        if frame is None:
            frame = self._open(timestamp, payload_type)
        if not newest:
            frame.in_order = False
        if extension is not None:
            if frame.first is not None:
                frame.damaged = True
            frame.first = sequence
            frame.extension = extension
        if marker:
            if frame.last is not None:
                frame.damaged = True
            frame.last = sequence
        frame.parts[sequence] = payload
        if len(frame.parts) > MAX_FRAME_PACKETS:
            self._give_up(timestamp)  # no marker for too long: never keep growing
            return None
        if frame.first is not None and frame.last is not None:
            expected = (frame.last - frame.first) % SEQUENCE_MODULO + 1
            if len(frame.parts) >= expected or frame.damaged:
                return self._complete(frame, expected)
        if newest:
            self._current = frame
        return None

    def _check_duplicate(self, timestamp: int, sequence: int, payload: memoryview) -> None:
        """A second packet with a sequence number already seen must say the same thing."""
        frame = self._pending.get(timestamp)
        if frame is not None:
            stored = frame.parts.get(sequence)
            if stored is not None and stored != payload:
                frame.damaged = True

    def _track_sequence(self, sequence: int) -> int:
        """Book a packet's sequence number (RFC 3550 A.1 style extended numbers).

        Returns :data:`_NEWEST` for the newest packet so far, :data:`_GAP` for one that fills
        a gap, :data:`_DUPLICATE` or :data:`_LATE` (older than the window) for one to ignore.
        """
        highest = self._highest
        if highest < 0:
            self._base = self._highest = sequence
            self._next_sequence = (sequence + 1) % SEQUENCE_MODULO
            self._unique += 1
            return _NEWEST
        delta = (sequence - highest) % SEQUENCE_MODULO
        extended = highest + (delta if delta < _HALF else delta - SEQUENCE_MODULO)
        missing = self._missing
        if extended > highest:
            if extended > highest + 1:
                missing.update(range(max(highest + 1, extended - SEQUENCE_WINDOW), extended))
                if len(missing) > SEQUENCE_WINDOW:
                    floor = extended - SEQUENCE_WINDOW
                    self._missing = {m for m in missing if m > floor}
            self._highest = extended
            self._next_sequence = (sequence + 1) % SEQUENCE_MODULO
            self._unique += 1
            return _NEWEST
        if extended in missing:
            missing.discard(extended)
        elif extended <= highest - SEQUENCE_WINDOW:
            self.late += 1
            return _LATE
        elif extended < self._base:
            missing.update(range(extended + 1, self._base))
            self._base = extended
        else:
            self.duplicates += 1
            return _DUPLICATE
        self.reordered += 1
        self._unique += 1
        return _GAP

    def flush(self) -> None:
        """Give up every incomplete frame (at the end of a session)."""
        for timestamp in list(self._pending):
            self._give_up(timestamp)

    # -- internals -------------------------------------------------------------------------------

    def _follow(self, ssrc: int) -> bool:
        """Whether to accept a packet from ``ssrc`` (locking onto the first source seen)."""
        if self._ssrc is None:
            self._ssrc = ssrc
            return True
        if ssrc != self._other_ssrc:
            self._other_ssrc = ssrc
            self._other_count = 0
        self._other_count += 1
        if self._other_count < SSRC_SWITCH_PACKETS:
            return False
        log.info("The live-view stream changed source (SSRC %08x); following it.", ssrc)
        self.flush()
        self._lost_before = self.packets_lost
        self._ssrc = ssrc
        self._other_ssrc = None
        self._highest = -1
        self._missing = set()
        self._unique = 0
        self._next_sequence = -1
        self._finished.clear()
        return True

    def _open(self, timestamp: int, payload_type: int) -> _PendingFrame:
        pending = self._pending
        while len(pending) >= MAX_PENDING_FRAMES:
            self._give_up(next(iter(pending)))
        stream = timestamp << 32 | (self._ssrc or 0)
        template = _FAST_HEADER.pack(_PLAIN, payload_type, 0, stream)
        frame = pending[timestamp] = _PendingFrame(timestamp, template)
        return frame

    def _finish(self, timestamp: int) -> None:
        del self._pending[timestamp]
        if self._current is not None and self._current.timestamp == timestamp:
            self._current = None
        finished = self._finished
        finished[timestamp] = None
        if len(finished) > FINISHED_KEPT:
            del finished[next(iter(finished))]

    def _give_up(self, timestamp: int) -> None:
        self._finish(timestamp)
        self.frames_dropped += 1

    def _complete(self, frame: _PendingFrame, expected: int) -> Frame | None:
        # Older frames still waiting for packets are stale once a newer one is whole.
        if len(self._pending) > 1:
            for timestamp in list(self._pending):
                if timestamp != frame.timestamp and _is_older(timestamp, frame.timestamp):
                    self._give_up(timestamp)
        self._finish(frame.timestamp)
        if frame.damaged or frame.packets != expected:
            self.frames_dropped += 1
            return None
        try:
            jpeg = frame.join(expected)
        except KeyError:
            # A packet between the first and the last is missing: one from outside them
            # (a stray after the last) made up the count.
            self.frames_dropped += 1
            return None
        extension = bytes(frame.extension) if frame.extension is not None else b""
        try:
            frame_size = announced_frame_size(extension)
        except MalformedPacket:
            self.frames_dropped += 1
            self.frames_invalid += 1
            return None
        if (
            not jpeg.startswith(JPEG_START)
            or not jpeg.endswith(JPEG_END)
            or (frame_size is not None and frame_size != len(jpeg))
        ):
            self.frames_dropped += 1
            self.frames_invalid += 1
            return None
        self.frames_ok += 1
        return Frame(jpeg, frame.timestamp, extension, time.monotonic())


def _is_older(timestamp: int, than: int) -> bool:
    """Serial-number comparison of 32-bit frame counters (they wrap too)."""
    return 0 < (than - timestamp) & _TIMESTAMP_MASK < 0x80000000


# ---------------------------------------------------------------------------------------------
# The receive loop


def pump(
    sock: socket.socket,
    assembler: FrameAssembler,
    deliver: Callable[[Frame], object],
    stop: threading.Event,
    *,
    source: str | None = None,
) -> None:
    """Receive datagrams from ``sock`` into ``assembler`` until ``stop`` is set.

    ``sock`` must have a timeout: it bounds how long a stop takes to be noticed while no
    frame arrives. Returns as well when the socket is closed under it after ``stop`` was set.
    With ``source``, datagrams from any other IPv4 address are dropped unseen.
    """
    try:
        next_batch = datagram_source(sock, MAX_DATAGRAM, head_size=HEADER_SIZE, source=source)
        assembler.consume(next_batch, deliver, stop=stop)
    except OSError:
        if not stop.is_set():
            raise


# ---------------------------------------------------------------------------------------------
# The session


class LiveViewControl(Protocol):
    """What a live-view session needs from the camera driver."""

    def start_liveview(self, port: int, size: str | None = None) -> None: ...

    def stop_liveview(self) -> None: ...


class LiveView(StartStop):
    """One live-view session: ``with LiveView(camera) as lv: jpeg = lv.snapshot()``.

    The UDP socket is bound before the camera is asked to stream to it. Given the camera's
    address (``camera_host``), it binds the local address that routes to the camera (unless
    ``bind_host`` says otherwise) and takes datagrams from the camera's address only. Frames are
    assembled on a background thread; the latest good one is kept for :meth:`snapshot`,
    each one goes to ``on_frame`` (called on that thread: keep it quick) and to
    :meth:`frames`.
    """

    def __init__(
        self,
        control: LiveViewControl,
        *,
        port: int = 0,
        size: str | None = None,
        bind_host: str | None = None,
        camera_host: str | None = None,
        first_frame_timeout: float = DEFAULT_FIRST_FRAME_TIMEOUT,
        on_frame: Callable[[Frame], object] | None = None,
        receive_buffer: int = RECEIVE_BUFFER_BYTES,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"live-view port must be 0..65535, not {port}")
        if first_frame_timeout <= 0:
            raise ValueError("first_frame_timeout must be positive")
        self._control = control
        self._requested_port = port
        self._size = size
        self._bind_host = bind_host
        self._camera_host = camera_host
        self._source: str | None = None
        self._first_frame_timeout = first_frame_timeout
        self._on_frame = on_frame
        self._receive_buffer = receive_buffer
        self._assembler = FrameAssembler()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._latest: Frame | None = None
        self._queue: collections.deque[Frame] = collections.deque()
        self._skipped = 0
        self._readers = 0
        self._error: BaseException | None = None
        self._streaming = False
        self._port = 0

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The UDP port frames arrive on (0 before :meth:`start`)."""
        return self._port

    @property
    def address(self) -> tuple[str, int] | None:
        """The local address and port the session receives on (None when not running)."""
        sock = self._sock
        if sock is None:
            return None
        host, port = sock.getsockname()
        return host, port

    def start(self) -> LiveView:
        """Bind the UDP port, start receiving, then ask the camera to stream to it."""
        if self._sock is not None:
            raise CameraError("This live-view session is already running.")
        source = _camera_address(self._camera_host)
        bind_host = self._bind_host
        if bind_host is None:
            bind_host = ANY_ADDRESS if source is None else local_address_towards(source)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._receive_buffer)
            sock.bind((bind_host, self._requested_port))
            if source is not None and not accept_only(sock, source):
                log.debug("The kernel cannot filter live view by sender; the receiver does.")
        except OSError as error:
            sock.close()
            raise CameraError(
                f"Cannot open UDP port {self._requested_port} for live view ({error.strerror}); "
                "choose another port or 0 for any free one."
            ) from error
        sock.settimeout(POLL_INTERVAL)
        self._sock = sock
        self._source = source
        self._assembler = FrameAssembler()
        self._latest = None
        self._port = sock.getsockname()[1]
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"liveview-udp-{self._port}", daemon=True
        )
        self._thread.start()
        try:
            self._control.start_liveview(self._port, self._size)
        except BaseException:
            self._shutdown()
            raise
        self._streaming = True
        log.debug("Live view started on UDP port %d (size %s).", self._port, self._size)
        return self

    def stop(self) -> None:
        """Ask the camera to stop streaming and release the port; safe to call twice."""
        if self._sock is None:
            return
        try:
            if self._streaming:
                self._streaming = False
                try:
                    self._control.stop_liveview()
                except CameraError as error:
                    log.warning("The camera did not stop its live view cleanly: %s", error)
        finally:
            self._shutdown()
        log.debug("Live view stopped: %s", self.counters.summary())

    def _shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_JOIN_TIMEOUT)
            if self._thread.is_alive():
                log.warning("The live-view receiver did not stop within %.1f s.", STOP_JOIN_TIMEOUT)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._assembler.flush()
        with self._changed:
            self._changed.notify_all()

    # -- results -------------------------------------------------------------------------------

    @property
    def counters(self) -> LiveViewCounters:
        return self._assembler.counters(frames_skipped=self._skipped)

    @property
    def latest(self) -> Frame | None:
        """The newest good frame, or None before the first one."""
        return self._latest

    def latest_frame(self, timeout: float | None = None) -> Frame:
        """The newest good frame, waiting up to ``timeout`` s for the first one."""
        limit = self._first_frame_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._changed:
            self._raise_if_dead()
            while self._latest is None:
                self._raise_if_dead()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._no_frame_error(limit)
                self._changed.wait(remaining)
            return self._latest

    def snapshot(self, timeout: float | None = None) -> bytes:
        """The newest good JPEG, waiting up to ``timeout`` s (default: the session's first-frame
        timeout) for the first one; :class:`CameraTimeout` if none comes."""
        return self.latest_frame(timeout).jpeg

    def frames(self, timeout: float | None = None) -> Iterator[Frame]:
        """Every good frame in order, for one reader; ends when the session stops.

        Raises :class:`CameraTimeout` when no frame comes for ``timeout`` s (default: the
        session's first-frame timeout). A reader that falls more than a few frames behind
        skips the oldest (counted as ``frames_skipped``).
        """
        limit = self._first_frame_timeout if timeout is None else timeout
        with self._changed:
            self._readers += 1
        try:
            while True:
                deadline = time.monotonic() + limit
                with self._changed:
                    while not self._queue:
                        if self._stop.is_set():
                            return
                        self._raise_if_dead()
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise self._no_frame_error(limit)
                        self._changed.wait(remaining)
                    frame = self._queue.popleft()
                yield frame
        finally:
            with self._changed:
                self._readers -= 1
                if not self._readers:
                    self._queue.clear()

    # -- receiver thread -----------------------------------------------------------------------

    def _run(self) -> None:
        assert self._sock is not None
        try:
            pump(self._sock, self._assembler, self._deliver, self._stop, source=self._source)
        except Exception as error:  # the thread must not die silently
            log.exception("The live-view receiver failed.")
            self._error = error
            with self._changed:
                self._changed.notify_all()

    def _deliver(self, frame: Frame) -> None:
        with self._changed:
            self._latest = frame
            if self._readers:
                queue = self._queue
                if len(queue) >= FRAME_QUEUE:
                    queue.popleft()
                    self._skipped += 1
                queue.append(frame)
            self._changed.notify_all()
        if self._on_frame is not None:
            try:
                self._on_frame(frame)
            except Exception:
                log.exception("A live-view frame callback failed; the stream goes on.")

    # -- errors --------------------------------------------------------------------------------

    def _raise_if_dead(self) -> None:
        if self._error is not None:
            raise CameraError(f"The live-view receiver stopped: {self._error}") from self._error
        if self._sock is None:
            raise CameraError("The live-view session is not running; start it first.")

    def _no_frame_error(self, waited: float) -> CameraTimeout:
        counters = self.counters
        if counters.datagrams == 0:
            hint = (
                "nothing at all arrived: check that a firewall allows incoming UDP from the "
                f"camera to port {self._port}, that no other program uses that port, and that "
                "this computer is on the camera's Wi-Fi"
            )
        else:
            hint = (
                f"{counters.datagrams} datagrams arrived but no complete frame "
                f"({counters.summary()}): the link is losing packets or something else "
                f"sends to port {self._port}; try a smaller live-view size or another port"
            )
        return CameraTimeout(
            f"No live-view frame arrived on UDP port {self._port} within {waited:g} s; {hint}."
        )


def _camera_address(host: str | None) -> str | None:
    """The IPv4 address of ``host`` (None: no camera address to filter by)."""
    if host is None:
        return None
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as error:
        raise CameraError(
            f"Cannot resolve the camera's address {host!r} for live view ({error}); "
            "check the camera's host in the configuration."
        ) from None
    address: str = infos[0][4][0]
    return address
