"""Live-view receiver throughput and CPU cost, against a bare UDP receive loop in the same run.

Usage: python bench/liveview.py [--frames N] [--seconds S]

1. Throughput: one recorded stream of 640x480 JPEG frames in ~1,400-byte RTP packets is sent
   over loopback UDP, a chunk at a time, into (a) a bare loop that only receives the
   datagrams one ``recv_into`` at a time, (a') a bare loop that receives them in batches
   exactly as our receiver does, and (b) our receiver (the batch receive and
   ``FrameAssembler.consume`` loop that ``pump`` runs on the LiveView thread). The three
   take turns chunk by chunk, so a change in the machine's speed hits them alike; (b+src)
   is (b) checking each datagram's sender, as a session given the camera's address does. Only the
   receiving is timed, and the sender never runs at the same time as a receiver, so
   nothing is lost and nothing competes for a core.
2. CPU share: a real LiveView session receives a paced 30 fps stream from an RtpStreamer in
   another process; process CPU time / wall time of this (receiving) process is printed.

Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import sys
import threading
import time

from camera2mqtt.cameras.wifi.liveview import (
    MAX_DATAGRAM,
    Frame,
    FrameAssembler,
    LiveView,
)
from camera2mqtt.cameras.wifi.rtp import HEADER_SIZE, FrameInfo
from camera2mqtt.cameras.wifi.udp import BATCH, DatagramBatch, datagram_source, split_datagrams
from camera2mqtt.sim.wifi.liveview import (
    DEFAULT_PACKET_SIZE,
    FramePictures,
    RtpStreamer,
    packetize,
)

HOST = "127.0.0.1"
WIDTH, HEIGHT = 640, 480
SIZE = "0640x0480"
RECEIVE_BUFFER = 8 << 20
TRUESIZE_ESTIMATE = 4096
"""Kernel bytes charged per queued 1,400-byte datagram (generous, so chunks never overflow)."""
WATCHDOG_SECONDS = 30.0
"""Ends a throughput batch that never completes (it would mean lost datagrams)."""
REAL_TIME_FPS = 30.0
TARGET_FPS = 1000
TARGET_RATIO = 0.6
TARGET_CPU = 0.05


def recorded_stream(frames: int) -> tuple[list[list[bytes]], int]:
    """The packets of ``frames`` distinct frames (one list per frame) and their JPEG bytes."""
    pictures = FramePictures()
    stream: list[list[bytes]] = []
    sequence = 0
    jpeg_bytes = 0
    for counter in range(frames):
        jpeg = pictures.picture(WIDTH, HEIGHT, counter)
        jpeg_bytes += len(jpeg)
        packets = packetize(
            jpeg,
            timestamp=counter,
            ssrc=0xC0FFEE,
            first_sequence=sequence,
            info=FrameInfo(frame_size=len(jpeg), rotation=1),
            packet_size=DEFAULT_PACKET_SIZE,
        )
        sequence += len(packets)
        stream.append(packets)
    return stream, jpeg_bytes


def open_pair() -> tuple[socket.socket, socket.socket, tuple[str, int], int]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    receiver.bind((HOST, 0))
    receiver.settimeout(2.0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    buffer = receiver.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    packets = max(1, min(512, buffer // TRUESIZE_ESTIMATE))
    return receiver, sender, receiver.getsockname(), packets


def chunks(stream: list[list[bytes]], packets: int) -> list[list[bytes]]:
    """Whole frames, as many as fit ``packets`` datagrams (at least one), per chunk."""
    per_chunk = max(1, packets // max(len(frame) for frame in stream))
    return [
        [packet for frame in stream[i : i + per_chunk] for packet in frame]
        for i in range(0, len(stream), per_chunk)
    ]


class Loop:
    """One receive loop on its own socket pair; :meth:`run` sends a chunk, then times
    receiving all of it."""

    name = ""

    def __init__(self) -> None:
        self.receiver, self.sender, self.destination, self.room = open_pair()
        self.spent = 0.0

    def run(self, chunk: list[bytes]) -> None:
        for packet in chunk:
            self.sender.sendto(packet, self.destination)
        began = time.perf_counter()
        self.receive(chunk)
        self.spent += time.perf_counter() - began

    def receive(self, chunk: list[bytes]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.receiver.close()
        self.sender.close()


class BareLoop(Loop):
    """(a) The barest loop Python allows: one ``recv_into`` a reused buffer per datagram."""

    name = "a"

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray(MAX_DATAGRAM)

    def receive(self, chunk: list[bytes]) -> None:
        receive, buffer = self.receiver.recv_into, self.buffer
        for _ in chunk:
            receive(buffer)


class BatchedBareLoop(Loop):
    """(a') The same, taking datagrams in batches the way our receiver does (recvmmsg on
    Linux, split after the header): the like-for-like reference for what assembly costs."""

    name = "a'"

    def __init__(self) -> None:
        super().__init__()
        self.next_batch = datagram_source(self.receiver, MAX_DATAGRAM, head_size=HEADER_SIZE)

    def receive(self, chunk: list[bytes]) -> None:
        received = 0
        while received < len(chunk):
            received += len(self.next_batch().bodies)


class OurReceiver(Loop):
    """(b) Our receive loop and assembler (what ``pump`` runs on the LiveView thread),
    until every frame of the chunk has been delivered; checks nothing was lost."""

    name = "b"

    source: str | None = None

    def __init__(self) -> None:
        super().__init__()
        self.assembler = FrameAssembler()
        # Made once per socket, as a LiveView session does (and as the batched bare loop does).
        self.next_batch = datagram_source(
            self.receiver, MAX_DATAGRAM, head_size=HEADER_SIZE, source=self.source
        )
        self.stop = threading.Event()
        self.wanted = 0
        self.frames = 0

    def _deliver(self, frame: Frame) -> None:
        if self.assembler.frames_ok >= self.wanted:
            self.stop.set()

    def run(self, chunk: list[bytes]) -> None:
        frames = sum(1 for packet in chunk if packet[1] & 0x80)  # M=1: one per frame
        self.wanted += frames
        self.frames += frames
        self.stop.clear()
        # Started before the clock, so that starting its thread is not timed as ours.
        watchdog = threading.Timer(WATCHDOG_SECONDS, self.stop.set)
        watchdog.start()
        super().run(chunk)
        watchdog.cancel()

    def receive(self, chunk: list[bytes]) -> None:
        self.assembler.consume(self.next_batch, self._deliver, stop=self.stop)

    def close(self) -> None:
        super().close()
        counters = self.assembler.counters()
        if counters.frames_ok != self.frames or counters.packets_lost:
            raise SystemExit(f"the receiver lost data during the bench: {counters.summary()}")


class OurCheckedReceiver(OurReceiver):
    """(b+src) Ours, dropping datagrams from any other address than the camera's."""

    name = "b+src"
    source = HOST


def one_round(stream: list[list[bytes]]) -> dict[str, float]:
    """Frames/s of each loop over the whole stream. The loops take turns chunk by chunk
    (in a rotating order), so a change in the machine's speed hits them all alike."""
    loops: list[Loop] = [BareLoop(), BatchedBareLoop(), OurReceiver(), OurCheckedReceiver()]
    try:
        room = min(loop.room for loop in loops)
        for number, chunk in enumerate(chunks(stream, room)):
            turn = number % len(loops)
            for loop in loops[turn:] + loops[:turn]:
                loop.run(chunk)
    finally:
        for loop in loops:
            loop.close()
    return {loop.name: len(stream) / loop.spent for loop in loops}


def assembly_alone(stream: list[list[bytes]], rounds: int) -> float:
    """Seconds a frame that ``FrameAssembler.consume`` spends on the stream's batches fed from
    memory (no socket), best of ``rounds``. Each batch's payloads are fresh copies, as a
    receive makes them; making those copies is timed apart and taken off."""
    packets = [packet for frame in stream for packet in frame]
    batches = [
        split_datagrams(packets[i : i + BATCH], HEADER_SIZE) for i in range(0, len(packets), BATCH)
    ]

    def fresh() -> list[DatagramBatch]:
        # bytes(memoryview(...)) copies; bytes(bytes) would hand back the same object.
        return [
            DatagramBatch(b.heads, [bytes(memoryview(body)) for body in b.bodies]) for b in batches
        ]

    def copying() -> float:
        began = time.perf_counter()
        fresh()
        return time.perf_counter() - began

    def assembling() -> float:
        assembler = FrameAssembler()
        began = time.perf_counter()
        # Each frame is dropped once delivered, as in the socket run (keeping 300 would
        # time the heap growing instead).
        assembler.consume(iter(fresh()).__next__, lambda frame: None)
        spent = time.perf_counter() - began
        if assembler.frames_ok != len(stream):
            raise SystemExit(f"assembly alone gave {assembler.frames_ok} of {len(stream)} frames")
        return spent

    copy = min(copying() for _ in range(rounds))
    return (min(assembling() for _ in range(rounds)) - copy) / len(stream)


def _stream_in_child(port: int, seconds: float, ready: multiprocessing.Event) -> None:
    pictures = FramePictures()
    for counter in range(30):
        pictures.picture(WIDTH, HEIGHT, counter)  # render before the clock starts
    streamer = RtpStreamer(
        fps=REAL_TIME_FPS, max_frames=int(seconds * REAL_TIME_FPS), pictures=pictures
    )
    ready.set()
    streamer.start((HOST, port), SIZE)
    streamer.wait_finished(seconds * 3 + 10)
    streamer.stop()


class _ChildControl:
    """Starts the paced sender in another process when the session asks for live view."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.process: multiprocessing.Process | None = None

    def start_liveview(self, port: int, size: str | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        self.process = context.Process(
            target=_stream_in_child, args=(port, self.seconds, ready), daemon=True
        )
        self.process.start()
        if not ready.wait(60):
            raise SystemExit("the sender process did not start")

    def stop_liveview(self) -> None:
        if self.process is not None:
            self.process.join(self.seconds * 3 + 10)
            if self.process.is_alive():
                self.process.terminate()


def cpu_share_real_time(seconds: float) -> tuple[float, int, str]:
    """Process CPU / wall time while a LiveView session receives a 30 fps stream."""
    control = _ChildControl(seconds)
    with LiveView(control, bind_host=HOST, size=SIZE, first_frame_timeout=60) as live:
        live.snapshot()  # the sender is running and warmed up
        cpu0, wall0 = time.process_time(), time.monotonic()
        frames0 = live.counters.frames_ok
        time.sleep(seconds * 0.8)  # the receiver works on its own thread meanwhile
        cpu1, wall1 = time.process_time(), time.monotonic()
        frames = live.counters.frames_ok - frames0
        summary = live.counters.summary()
    return (cpu1 - cpu0) / (wall1 - wall0), frames, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per throughput run")
    parser.add_argument("--rounds", type=int, default=9, help="throughput runs of each loop")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of the 30 fps run")
    args = parser.parse_args()

    stream, jpeg_bytes = recorded_stream(args.frames)
    packets = sum(len(frame) for frame in stream)
    print(
        f"stream: {args.frames} frames of {WIDTH}x{HEIGHT}, {jpeg_bytes // args.frames} bytes "
        f"of JPEG on average, {packets} packets (<= {DEFAULT_PACKET_SIZE} bytes), "
        f"{packets / args.frames:.1f} packets a frame"
    )
    rounds = [one_round(stream) for _ in range(args.rounds)]
    bare = [fps["a"] for fps in rounds]
    batched = [fps["a'"] for fps in rounds]
    ours = [fps["b"] for fps in rounds]
    ratios = [b / a for a, b in zip(bare, ours, strict=True)]
    like_ratios = [b / a for a, b in zip(batched, ours, strict=True)]
    bare_fps, batched_fps, our_fps = max(bare), max(batched), max(ours)
    ratio, like_ratio = our_fps / bare_fps, our_fps / batched_fps
    print(f"(a)  bare loop, one recv each : {bare_fps:9.0f} frames/s (best of {args.rounds})")
    print(f"(a') bare loop, batched recv  : {batched_fps:9.0f} frames/s (best of {args.rounds})")
    print(f"(b)  camera2mqtt receiver     : {our_fps:9.0f} frames/s (best of {args.rounds})")
    checked = [fps["b+src"] for fps in rounds]
    print(
        f"(b+src) ours, sender checked : {max(checked):9.0f} frames/s (best of {args.rounds}); "
        f"per-round b+src/b median "
        f"{statistics.median(c / b for c, b in zip(checked, ours, strict=True)):.2f}"
    )
    print(f"ratio b/a  (best / best)      : {ratio:9.2f}   (target >= {TARGET_RATIO})")
    print(f"ratio b/a' (like for like)    : {like_ratio:9.2f}   (target >= {TARGET_RATIO})")
    for name, values in (("b/a ", ratios), ("b/a'", like_ratios)):
        print(
            f"    per-round {name}            : {' '.join(f'{r:.2f}' for r in values)} "
            f"(median {statistics.median(values):.2f})"
        )
    print(
        f"b per core                    : {'met' if our_fps >= TARGET_FPS else 'NOT met'}"
        f" (target >= {TARGET_FPS} frames/s)"
    )
    alone = assembly_alone(stream, args.rounds)
    print(f"assembly alone (no socket)    : {alone * 1e6:9.1f} us a frame (best of {args.rounds})")
    share, frames, summary = cpu_share_real_time(args.seconds)
    print(
        f"CPU at {REAL_TIME_FPS:.0f} fps real time  : {share * 100:9.2f} % of a core over "
        f"{frames} frames (target < {TARGET_CPU * 100:.0f} %)"
    )
    print(f"    counters: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
