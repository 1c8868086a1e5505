"""Stream codec throughput against a bare UDP loop, and the relay's added latency.

Usage: python bench/stream.py [--frames N] [--rounds R] [--seconds S]

1. Codec alone (one core, no I/O): frames/s of ``packetize`` (encode) and of
   ``FrameReassembler.push`` (decode) over distinct 640x480 JPEG frames in 1,400-byte packets.
2. Against a bare UDP loop, side by side in the same run: (a) a bare loop sends the
   already-made datagrams of a chunk of frames over loopback and receives them with one
   ``recv`` each; (b) the same with our codec: ``packetize`` each frame, send, receive,
   ``FrameReassembler.push`` each datagram until every frame came out. The two run back to
   back on each chunk (alternating which goes first), so a change in the machine's speed hits
   both alike; the ratio is (a)'s time / (b)'s per chunk pair, median over all pairs (the
   ratio of the totals is printed too).
3. Relay latency: frames published to a :class:`FrameHub` at 30 fps (``captured_at`` = the
   moment of publishing) go through :class:`StreamRelay` -> loopback UDP ->
   :class:`StreamReceiver` (its own thread); latency = the receiver's completion time minus
   ``captured_at``, p50 and p99.

Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time

from camera2mqtt.sim.wifi.liveview import FramePictures
from camera2mqtt.stream.live import FrameHub, LiveFrame, StreamRelay
from camera2mqtt.stream.receiver import FrameReassembler, ReceivedFrame, StreamReceiver
from camera2mqtt.stream.sender import (
    DEFAULT_PACKET_SIZE,
    MAX_PACKET_SIZE,
    StreamSender,
    StreamTarget,
    jpeg_geometry,
    packetize,
)

HOST = "127.0.0.1"
WIDTH, HEIGHT = 640, 480
BUFFER = 4 << 20
TRUESIZE_ESTIMATE = 4096
"""Kernel bytes charged per queued datagram (generous, so chunks never overflow)."""
TARGET_FPS = 2000
TARGET_RATIO = 0.6
TARGET_P99_MS = 5.0
RELAY_FPS = 30.0
CHUNK_FRAMES = 6
"""Frames per chunk pair: small, so many pairs give a robust median on a busy machine."""


def recorded_frames(count: int) -> list[bytes]:
    pictures = FramePictures()
    return [pictures.picture(WIDTH, HEIGHT, index) for index in range(count)]


def encode_all(frames: list[bytes], first_id: int = 0) -> list[list[bytes]]:
    return [
        packetize(
            jpeg,
            frame_id=first_id + index,
            timestamp=index * 33_333,
            geometry=jpeg_geometry(jpeg),
            packet_size=DEFAULT_PACKET_SIZE,
        )
        for index, jpeg in enumerate(frames)
    ]


def codec_alone(frames: list[bytes], repeats: int) -> tuple[float, float]:
    """Frames/s of encoding and of decoding, best of ``repeats``."""
    encode_best = decode_best = 0.0
    for _ in range(repeats):
        began = time.perf_counter()
        packets = encode_all(frames)
        encode_best = max(encode_best, len(frames) / (time.perf_counter() - began))
        datagrams = [bytes(packet) for frame in packets for packet in frame]
        reassembler = FrameReassembler()
        push = reassembler.push
        began = time.perf_counter()
        for datagram in datagrams:
            push(datagram)
        decode_best = max(decode_best, len(frames) / (time.perf_counter() - began))
        if reassembler.frames_ok != len(frames):
            raise SystemExit(f"decoding lost frames: {reassembler.counters().summary()}")
    return encode_best, decode_best


def open_pair() -> tuple[socket.socket, socket.socket, tuple[str, int]]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
    receiver.bind((HOST, 0))
    receiver.settimeout(2.0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
    return receiver, sender, receiver.getsockname()


def against_bare_loop(frames: list[bytes], rounds: int) -> tuple[float, float, list[float]]:
    """Frames/s of the bare loop and of the codec loop, and the ratio of each chunk pair
    (the two run back to back on the same chunk, in alternating order)."""
    receiver_a, sender_a, dest_a = open_pair()
    receiver_b, sender_b, dest_b = open_pair()
    room = receiver_a.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // TRUESIZE_ESTIMATE
    encoded = [[bytes(p) for p in frame] for frame in encode_all(frames)]
    per_chunk = max(1, min(CHUNK_FRAMES, room // max(len(frame) for frame in encoded)))
    spent_a = spent_b = 0.0
    ratios = []
    next_id = 0
    reassembler = FrameReassembler()

    def bare(datagrams: list[bytes]) -> float:
        began = time.perf_counter()
        sendto = sender_a.sendto
        for datagram in datagrams:
            sendto(datagram, dest_a)
        recv = receiver_a.recv
        for _ in datagrams:
            recv(MAX_PACKET_SIZE)
        return time.perf_counter() - began

    def ours(chunk: list[bytes]) -> float:
        nonlocal next_id
        began = time.perf_counter()
        sendto = sender_b.sendto
        sent = 0
        for jpeg in chunk:
            datagrams = packetize(
                jpeg,
                frame_id=next_id,
                timestamp=next_id * 33_333,
                geometry=jpeg_geometry(jpeg),
                packet_size=DEFAULT_PACKET_SIZE,
            )
            for datagram in datagrams:
                sendto(datagram, dest_b)
            sent += len(datagrams)
            next_id += 1
        recv, push = receiver_b.recv, reassembler.push
        for _ in range(sent):
            push(recv(MAX_PACKET_SIZE))
        return time.perf_counter() - began

    try:
        turn = 0
        for _ in range(rounds):
            for start in range(0, len(frames), per_chunk):
                chunk = frames[start : start + per_chunk]
                datagrams = [p for frame in encoded[start : start + per_chunk] for p in frame]
                turn += 1
                if turn % 2:
                    took_a = bare(datagrams)
                    took_b = ours(chunk)
                else:
                    took_b = ours(chunk)
                    took_a = bare(datagrams)
                spent_a += took_a
                spent_b += took_b
                ratios.append(took_a / took_b)
    finally:
        for sock in (receiver_a, sender_a, receiver_b, sender_b):
            sock.close()
    total = len(frames) * rounds
    if reassembler.frames_ok != total:
        raise SystemExit(f"the codec loop lost frames: {reassembler.counters().summary()}")
    return total / spent_a, total / spent_b, ratios


def relay_latency(frames: list[bytes], seconds: float) -> list[float]:
    """Milliseconds from publishing a frame to the hub to its reassembly at the receiver."""
    hub = FrameHub()
    published: dict[bytes, float] = {}
    latencies: list[float] = []
    done = threading.Condition()

    def on_frame(frame: ReceivedFrame) -> None:
        captured = published.get(frame.payload)
        if captured is not None:
            with done:
                latencies.append((frame.received_at - captured) * 1000)
                done.notify_all()

    with StreamReceiver(HOST, 0, on_frame=on_frame) as receiver:
        relay = StreamRelay(hub, StreamSender([StreamTarget(HOST, receiver.port)]))
        relay.start()
        try:
            count = int(seconds * RELAY_FPS)
            began = time.monotonic()
            for index in range(count):
                jpeg = frames[index % len(frames)]
                target = began + index / RELAY_FPS
                time.sleep(max(0.0, target - time.monotonic()))
                captured = time.monotonic()
                published[jpeg] = captured
                hub.publish(LiveFrame(jpeg, captured))
                with done:
                    done.wait_for(lambda index=index: len(latencies) > index, 1.0)
        finally:
            relay.stop()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="distinct frames (default 60)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each test (default 5)")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="relay latency run (default 5 s)"
    )
    args = parser.parse_args()
    frames = recorded_frames(args.frames)
    size = statistics.mean(len(jpeg) for jpeg in frames)
    packets = len(encode_all(frames[:1])[0])
    print(
        f"{len(frames)} frames of {WIDTH}x{HEIGHT}, mean {size / 1000:.1f} kB, "
        f"{packets} datagrams each at {DEFAULT_PACKET_SIZE} bytes"
    )
    encode_fps, decode_fps = codec_alone(frames, args.rounds)
    print(f"1. codec alone: encode {encode_fps:,.0f} frames/s, decode {decode_fps:,.0f} frames/s")
    bare, ours, ratios = against_bare_loop(frames, args.rounds)
    ratio = statistics.median(ratios)
    quartiles = statistics.quantiles(ratios, n=4)
    print(
        f"2. (a) bare UDP send+recv {bare:,.0f} frames/s | (b) encode+send+recv+decode "
        f"{ours:,.0f} frames/s | b/a: totals {ours / bare:.2f}, median of {len(ratios)} chunk "
        f"pairs {ratio:.2f} (quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f})"
    )
    latencies = relay_latency(frames, args.seconds)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(
        f"3. relay latency over {len(latencies)} frames at {RELAY_FPS:g} fps: "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(latencies):.2f} ms"
    )
    checks = {
        f"encode >= {TARGET_FPS} frames/s": encode_fps >= TARGET_FPS,
        f"decode >= {TARGET_FPS} frames/s": decode_fps >= TARGET_FPS,
        f"b/a (median) >= {TARGET_RATIO}": ratio >= TARGET_RATIO,
        f"relay p99 < {TARGET_P99_MS} ms": p99 < TARGET_P99_MS,
    }
    for name, ok in checks.items():
        print(f"   {'ok  ' if ok else 'MISS'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
