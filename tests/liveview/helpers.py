"""Shared pieces of the live-view tests: a loopback control and expectations from a stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from camera2mqtt.cameras.wifi.liveview import FrameAssembler
from camera2mqtt.sim.wifi.liveview import RtpStreamer

WAIT_TIMEOUT = 30.0


class StreamerControl:
    """Stands in for the Wi-Fi driver: start/stop live view by driving an RtpStreamer."""

    def __init__(self, streamer: RtpStreamer | None, *, default_size: str = "0320x0240") -> None:
        self.streamer = streamer
        self.default_size = default_size
        self.calls: list[tuple] = []

    def start_liveview(self, port: int, size: str | None = None) -> None:
        self.calls.append(("start", port, size))
        if self.streamer is not None:
            self.streamer.start(("127.0.0.1", port), size or self.default_size)

    def stop_liveview(self) -> None:
        self.calls.append(("stop",))
        if self.streamer is not None:
            self.streamer.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@dataclass(frozen=True)
class Expected:
    frames_ok: frozenset[int]
    frames_seen: frozenset[int]
    malformed: int
    duplicates: int
    reordered: int
    packets_lost: int
    datagrams: int


def expected_from(streamer: RtpStreamer) -> Expected:
    """What a correct receiver must report for everything ``streamer`` really sent."""
    layout = streamer.frame_packets()
    index_of: dict[tuple[int, int], int] = {}
    frame_of_index: dict[int, int] = {}
    position = 0
    for timestamp in sorted(layout):
        first, count = layout[timestamp]
        for offset in range(count):
            index_of[(timestamp, (first + offset) % 65536)] = position
            frame_of_index[position] = timestamp
            position += 1
    records = streamer.datagrams()
    garbage = sum(1 for r in records if r.kind == "garbage")
    sent_once: dict[int, str] = {}
    duplicates = reordered = 0
    highest = -1
    for record in records:
        if record.kind == "garbage":
            continue
        index = index_of[(record.timestamp, record.sequence)]
        if index in sent_once:
            duplicates += 1
            continue
        sent_once[index] = record.kind
        if index < highest:
            reordered += 1
        highest = max(highest, index)
    lowest = min(sent_once)
    lost = sum(1 for i in range(lowest, highest + 1) if i not in sent_once)
    ok = set()
    for timestamp in layout:
        first, count = layout[timestamp]
        indices = [index_of[(timestamp, (first + o) % 65536)] for o in range(count)]
        if all(sent_once.get(i) == "packet" for i in indices):
            ok.add(timestamp)
    seen = {frame_of_index[i] for i in sent_once}
    return Expected(
        frames_ok=frozenset(ok),
        frames_seen=frozenset(seen),
        malformed=garbage,
        duplicates=duplicates,
        reordered=reordered,
        packets_lost=lost,
        datagrams=len(records),
    )


def full_parse_only(datagrams: list[bytes]) -> tuple[list[tuple[int, bytes]], FrameAssembler]:
    """The reference for the in-order path: every datagram through the assembler's full
    parse one at a time, none through the path that checks a run of packets at once.
    Returns the frames emitted, as (counter, JPEG), and the assembler."""
    assembler = FrameAssembler()
    frames = []
    for data in datagrams:
        frame = assembler._push_slow(data)
        if frame is not None:
            frames.append((frame.timestamp, frame.jpeg))
    return frames, assembler
