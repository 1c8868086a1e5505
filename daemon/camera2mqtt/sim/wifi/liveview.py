"""The simulated camera's live view: JPEG frames as RTP packets over UDP, with faults on demand.

:class:`RtpStreamer` is what the Wi-Fi simulator calls on ``exec_takemisc`` ``startliveview``
and ``stopliveview``. It packetizes like the camera (first packet X=1 with the extension
TLVs, last packet M=1, about 1,400 bytes a packet, random SSRC, wrapping sequence numbers,
the frame counter as timestamp) and can lose, reorder, duplicate and truncate packets and
send garbage, from a seeded RNG, recording what it really sent so tests can compute what a
receiver must report.
"""

from __future__ import annotations

import collections
import io
import ipaddress
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter

from camera2mqtt.cameras.wifi.rtp import (
    HEADER_SIZE,
    SEQUENCE_MODULO,
    Exposure,
    FrameInfo,
    Iso,
    Level,
    MediaInfo,
    ShutterSpeed,
    Zoom,
    build_packet,
    encode_frame_info,
)

__all__ = [
    "DEFAULT_PACKET_SIZE",
    "FramePictures",
    "RtpStreamer",
    "SentDatagram",
    "StreamFaults",
    "packetize",
    "parse_size",
]

log = logging.getLogger(__name__)

DEFAULT_PACKET_SIZE = 1400
DEFAULT_FPS = 30.0
DEFAULT_SIZE = "0640x0480"
PICTURE_RING = 30
"""Distinct pictures rendered per size; frame k shows picture k mod this (rendered once)."""
RECORD_LIMIT = 2000
"""Frames (and 100x as many datagrams) remembered for tests; older ones are forgotten."""
GARBAGE_MAX_BYTES = 200
_SIZE_PATTERN = re.compile(r"^(\d{4})x(\d{4})$")
_JOIN_TIMEOUT = 2.0


def parse_size(size: str) -> tuple[int, int]:
    """``"0640x0480"`` -> ``(640, 480)``; ValueError naming the expected form otherwise."""
    match = _SIZE_PATTERN.match(size)
    if not match or not all(int(part) for part in match.groups()):
        raise ValueError(f"live-view size {size!r} must look like 0640x0480")
    return int(match[1]), int(match[2])


@dataclass(frozen=True, slots=True)
class StreamFaults:
    """Per-datagram fault probabilities (0..1), drawn from an RNG seeded with ``seed``.

    ``loss`` drops a packet, ``duplicate`` sends it twice, ``reorder`` holds it back until
    after the next one, ``truncate`` cuts the tail off a packet that has no extension (so it
    still parses but its frame is short), ``garbage`` sends a non-RTP datagram before it.
    """

    loss: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    truncate: float = 0.0
    garbage: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("loss", "reorder", "duplicate", "truncate", "garbage"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault rate {name}={value} must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class SentDatagram:
    """One datagram the streamer really sent (``sequence``/``timestamp`` None for garbage)."""

    kind: str
    """``packet``, ``truncated`` or ``garbage``."""
    sequence: int | None
    timestamp: int | None
    size: int


def packetize(
    jpeg: bytes,
    *,
    timestamp: int,
    ssrc: int,
    first_sequence: int,
    info: FrameInfo,
    packet_size: int = DEFAULT_PACKET_SIZE,
) -> list[bytes]:
    """One JPEG frame as RTP packets of at most ``packet_size`` bytes, like the camera sends."""
    extension = encode_frame_info(info)
    room = packet_size - HEADER_SIZE
    first_room = room - 4 - len(extension)
    if first_room <= 0:
        raise ValueError(f"packet size {packet_size} leaves no room after the extension")
    chunks = [jpeg[:first_room]]
    chunks.extend(jpeg[offset : offset + room] for offset in range(first_room, len(jpeg), room))
    last = len(chunks) - 1
    return [
        build_packet(
            sequence=(first_sequence + index) % SEQUENCE_MODULO,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=chunk,
            marker=index == last,
            extension=extension if index == 0 else None,
        )
        for index, chunk in enumerate(chunks)
    ]


class FramePictures:
    """Live-view pictures per size: a textured colour field with a frame number on it.

    Each size's background is rendered once, and each of :data:`PICTURE_RING` numbered
    pictures the first time it is needed, so streaming costs no JPEG encoding after warm-up.
    """

    def __init__(self, *, quality: int = 75, ring: int = PICTURE_RING, seed: int = 0) -> None:
        self._quality = quality
        self._ring = ring
        self._seed = seed
        self._backgrounds: dict[tuple[int, int], Image.Image] = {}
        self._cache: dict[tuple[int, int, int], bytes] = {}
        self._lock = threading.Lock()

    def picture(self, width: int, height: int, counter: int) -> bytes:
        """Frame ``counter``: a cached picture with the counter in a JPEG comment segment, so
        that every frame's bytes differ without encoding a new picture."""
        key = (width, height, counter % self._ring)
        with self._lock:
            jpeg = self._cache.get(key)
            if jpeg is None:
                jpeg = self._cache[key] = self._render(width, height, key[2])
        comment = b"frame %d" % counter
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        return jpeg[:2] + segment + jpeg[2:]

    def _render(self, width: int, height: int, number: int) -> bytes:
        background = self._backgrounds.get((width, height))
        if background is None:
            background = self._backgrounds[(width, height)] = self._background(width, height)
        image = background.copy()
        draw = ImageDraw.Draw(image)
        bar = number * width // self._ring
        draw.rectangle((bar, height - 12, bar + width // self._ring, height - 4), fill=(255, 60, 0))
        draw.text((12, 12), f"camera2mqtt live view  {width}x{height}  #{number}", fill=(255,) * 3)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=self._quality)
        return out.getvalue()

    def _background(self, width: int, height: int) -> Image.Image:
        rng = random.Random(self._seed)
        across = Image.linear_gradient("L").rotate(90).resize((width, height))
        down = Image.linear_gradient("L").resize((width, height))
        flat = Image.new("L", (width, height), rng.randrange(256))
        colour = Image.merge("RGB", (across, down, flat))
        # Blurred noise makes the JPEG about as big as a real live-view frame (~40 kB at VGA).
        noise = Image.frombytes("L", (width, height), rng.randbytes(width * height))
        noise = noise.filter(ImageFilter.GaussianBlur(1))
        return Image.blend(colour, Image.merge("RGB", (noise, noise, noise)), 0.3)


def _frame_info(jpeg: bytes, counter: int) -> FrameInfo:
    """Plausible camera state for frame ``counter`` (the values drift so they are visible)."""
    return FrameInfo(
        frame_size=len(jpeg),
        media=MediaInfo(
            mounted=1, not_full=True, write_protected=False, error=False, writing=False
        ),
        rotation=1,
        max_take_num=999,
        shutter=ShutterSpeed(minimum=(60, 1), maximum=(1, 8000), current=(1, 125)),
        aperture=Exposure(minimum=3.5, maximum=22.0, current=5.6),
        exposure_compensation=Exposure(minimum=-5.0, maximum=5.0, current=0.0),
        iso=Iso(value=200, auto=True, warning=False),
        focus_mode="S-AF",
        zoom=Zoom(wide=14, current=14 + counter % 29, tele=42),
        level=Level(roll=(counter % 21 - 10) / 10, pitch=0.5),
    )


class RtpStreamer:
    """Streams live-view frames to a client over UDP from a background thread.

    ``start(dest, size)`` / ``stop()`` is the interface the Wi-Fi simulator calls. The
    destination must be a loopback address unless ``allow_remote`` is set, so a test or a
    demo can never spray UDP at the network. ``source_host`` sends from that local address
    (e.g. ``127.0.0.2``, to play someone on the network spoofing the camera's stream).
    """

    def __init__(
        self,
        *,
        fps: float = DEFAULT_FPS,
        faults: StreamFaults | None = None,
        packet_size: int = DEFAULT_PACKET_SIZE,
        max_frames: int | None = None,
        ssrc: int | None = None,
        first_sequence: int | None = None,
        first_timestamp: int = 0,
        pictures: FramePictures | None = None,
        picture: Callable[[int, int, int], bytes] | None = None,
        allow_remote: bool = False,
        source_host: str | None = None,
        seed: int = 0,
    ) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self._interval = 1.0 / fps
        self._faults = faults or StreamFaults()
        self._packet_size = packet_size
        self._max_frames = max_frames
        rng = random.Random(seed)
        self._ssrc = rng.getrandbits(32) if ssrc is None else ssrc
        self._next_sequence = (
            rng.randrange(SEQUENCE_MODULO)
            if first_sequence is None
            else (first_sequence % SEQUENCE_MODULO)
        )
        self._next_timestamp = first_timestamp
        self._picture = picture or (pictures or FramePictures(seed=seed)).picture
        self._allow_remote = allow_remote
        self._source_host = source_host
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._sent_frames: collections.OrderedDict[int, bytes] = collections.OrderedDict()
        self._frame_packets: collections.OrderedDict[int, tuple[int, int]] = (
            collections.OrderedDict()
        )
        self._datagrams: collections.deque[SentDatagram] = collections.deque(
            maxlen=RECORD_LIMIT * 100
        )
        self._error: BaseException | None = None

    # -- the simulator's interface ---------------------------------------------------------------

    def start(self, dest: tuple[str, int], size: str) -> None:
        """Begin streaming ``size`` frames (``"0640x0480"``, empty for the default) to ``dest``;
        restarts if running."""
        width, height = parse_size(size or DEFAULT_SIZE)
        host, port = dest
        if not self._allow_remote and not _is_loopback(host):
            raise ValueError(
                f"refusing to stream live view to {host}: the simulator only sends to loopback "
                "addresses unless allow_remote is set"
            )
        self.stop()
        self._stop.clear()
        self._finished.clear()
        self._thread = threading.Thread(
            target=self._run,
            args=((host, port), width, height),
            name=f"sim-liveview-{port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop streaming (returns within a frame interval); safe to call when not running."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(_JOIN_TIMEOUT + self._interval)

    # -- for tests -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def ssrc(self) -> int:
        return self._ssrc

    def sent_frames(self) -> dict[int, bytes]:
        """Frame counter -> JPEG bytes of each frame sent (the newest :data:`RECORD_LIMIT`)."""
        with self._lock:
            return dict(self._sent_frames)

    def frame_packets(self) -> dict[int, tuple[int, int]]:
        """Frame counter -> (first sequence number, packet count) before faults."""
        with self._lock:
            return dict(self._frame_packets)

    def datagrams(self) -> list[SentDatagram]:
        """Every datagram really sent, in order, after faults were applied."""
        with self._lock:
            return list(self._datagrams)

    def wait_finished(self, timeout: float) -> bool:
        """Wait until ``max_frames`` were sent (or the stream stopped); True if it did."""
        return self._finished.wait(timeout)

    # -- streaming -----------------------------------------------------------------------------

    def _run(self, dest: tuple[str, int], width: int, height: int) -> None:
        faults = self._faults
        rng = random.Random(faults.seed)
        held: list[tuple[bytes, SentDatagram]] = []
        sent = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                if self._source_host is not None:
                    sock.bind((self._source_host, 0))
                start = time.monotonic()
                slot = 0
                while not self._stop.is_set():
                    if self._max_frames is not None and sent >= self._max_frames:
                        break
                    self._send_frame(sock, dest, width, height, rng, held)
                    sent += 1
                    slot += 1
                    # Absolute targets on the monotonic clock; a late sender skips slots.
                    now = time.monotonic()
                    target = start + slot * self._interval
                    if target < now:
                        slot = int((now - start) / self._interval) + 1
                        target = start + slot * self._interval
                    if self._stop.wait(target - now):
                        break
                for data, record in held:
                    self._send(sock, dest, data, record)
            except OSError as error:
                log.warning("The simulated live view stopped sending: %s", error)
                self._error = error
            finally:
                self._finished.set()

    def _send_frame(
        self,
        sock: socket.socket,
        dest: tuple[str, int],
        width: int,
        height: int,
        rng: random.Random,
        held: list[tuple[bytes, SentDatagram]],
    ) -> None:
        timestamp = self._next_timestamp
        jpeg = self._picture(width, height, timestamp)
        packets_first = self._next_sequence
        packets = packetize(
            jpeg,
            timestamp=timestamp,
            ssrc=self._ssrc,
            first_sequence=packets_first,
            info=_frame_info(jpeg, timestamp),
            packet_size=self._packet_size,
        )
        self._next_sequence = (self._next_sequence + len(packets)) % SEQUENCE_MODULO
        self._next_timestamp = (timestamp + 1) & 0xFFFFFFFF
        with self._lock:
            self._sent_frames[timestamp] = jpeg
            self._frame_packets[timestamp] = (packets_first, len(packets))
            while len(self._sent_frames) > RECORD_LIMIT:
                self._sent_frames.popitem(last=False)
                self._frame_packets.popitem(last=False)
        faults = self._faults
        for index, packet in enumerate(packets):
            sequence = (packets_first + index) % SEQUENCE_MODULO
            if faults.garbage and rng.random() < faults.garbage:
                garbage = _garbage(rng)
                self._send(sock, dest, garbage, SentDatagram("garbage", None, None, len(garbage)))
            if faults.loss and rng.random() < faults.loss:
                continue
            kind = "packet"
            if faults.truncate and index > 0 and rng.random() < faults.truncate:
                packet = packet[: rng.randrange(HEADER_SIZE + 1, len(packet))]
                kind = "truncated"
            copies = 2 if faults.duplicate and rng.random() < faults.duplicate else 1
            group = [(packet, SentDatagram(kind, sequence, timestamp, len(packet)))] * copies
            if not held and faults.reorder and rng.random() < faults.reorder:
                held.extend(group)
                continue
            for data, record in group:
                self._send(sock, dest, data, record)
            for data, record in held:
                self._send(sock, dest, data, record)
            held.clear()

    def _send(
        self, sock: socket.socket, dest: tuple[str, int], data: bytes, record: SentDatagram
    ) -> None:
        sock.sendto(data, dest)
        with self._lock:
            self._datagrams.append(record)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address
        return host == "localhost"


def _garbage(rng: random.Random) -> bytes:
    """A datagram no receiver may take for RTP: too short, or a version other than 2."""
    size = rng.randrange(GARBAGE_MAX_BYTES)
    data = bytearray(rng.randbytes(size))
    if data:
        data[0] = (data[0] & 0x3F) | (rng.choice((0, 1, 3)) << 6)
    return bytes(data)
