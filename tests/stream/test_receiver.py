"""Reassembly without sockets: loss, duplicates, reordering, restarts, hostile packets."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from camera2mqtt.stream.codec import JPEG_YUV422, EndOfFrame, StartOfFrame, encode
from camera2mqtt.stream.receiver import MAX_FRAME_PACKETS, FrameReassembler
from camera2mqtt.stream.sender import FrameGeometry, jpeg_geometry, packetize

GEOMETRY = FrameGeometry(JPEG_YUV422, 64, 48)


def frame_bytes(index: int, size: int = 3000) -> bytes:
    rng = random.Random(index)
    return bytes(rng.getrandbits(8) for _ in range(size))


def datagrams(frame_id: int, payload: bytes, packet_size: int = 500) -> list[bytes]:
    return packetize(
        payload,
        frame_id=frame_id,
        timestamp=frame_id * 1000,
        geometry=GEOMETRY,
        packet_size=packet_size,
    )


def feed(reassembler: FrameReassembler, packets) -> list:
    out = []
    for packet in packets:
        frame = reassembler.push(bytes(packet))
        if frame is not None:
            out.append(frame)
    return out


def test_in_order_frames_are_delivered_whole() -> None:
    r = FrameReassembler()
    payloads = [frame_bytes(i) for i in range(5)]
    out = feed(r, [d for i, p in enumerate(payloads) for d in datagrams(i, p)])
    assert [f.payload for f in out] == payloads
    assert [f.frame_id for f in out] == list(range(5))
    assert out[2].start.timestamp == 2000 and out[2].start.size_x == 64
    c = r.counters()
    assert (c.frames_ok, c.frames_incomplete, c.packets_lost, c.malformed) == (5, 0, 0, 0)


def test_reordered_and_duplicated_packets_within_a_frame() -> None:
    r = FrameReassembler()
    packets = datagrams(0, frame_bytes(0))
    shuffled = list(reversed(packets)) + packets[:3]
    out = feed(r, shuffled)
    assert [f.payload for f in out] == [frame_bytes(0)]
    assert r.counters().late == 3  # duplicates of a frame already delivered


def test_duplicates_before_completion_are_counted() -> None:
    r = FrameReassembler()
    packets = datagrams(0, frame_bytes(0))
    out = feed(r, [packets[0], packets[0], packets[1], packets[1], *packets[2:]])
    assert len(out) == 1
    assert r.counters().duplicates == 2


def test_a_frame_missing_one_packet_is_dropped_whole_and_counted() -> None:
    r = FrameReassembler()
    first = datagrams(0, frame_bytes(0))
    second = datagrams(1, frame_bytes(1))
    out = feed(r, first[:3] + first[4:] + second)
    assert [f.frame_id for f in out] == [1]
    c = r.counters()
    assert (c.frames_ok, c.frames_incomplete, c.packets_lost) == (1, 1, 1)


def test_missing_sof_or_eof_drops_the_frame() -> None:
    for cut in (0, -1):
        r = FrameReassembler()
        packets = datagrams(0, frame_bytes(0))
        del packets[cut]
        out = feed(r, packets + datagrams(1, frame_bytes(1)))
        assert [f.frame_id for f in out] == [1]
        assert r.counters().frames_incomplete == 1


def test_a_frame_never_seen_counts_as_incomplete() -> None:
    r = FrameReassembler()
    out = feed(r, datagrams(0, frame_bytes(0)) + datagrams(3, frame_bytes(3)))
    assert [f.frame_id for f in out] == [0, 3]
    assert r.counters().frames_incomplete == 2


def test_late_packets_of_a_finished_frame_are_ignored() -> None:
    r = FrameReassembler()
    first = datagrams(0, frame_bytes(0))
    out = feed(r, first[:-2] + datagrams(1, frame_bytes(1)) + first[-2:])
    assert [f.frame_id for f in out] == [1]
    c = r.counters()
    assert c.late == 2 and c.frames_incomplete == 1


def test_an_eof_that_disagrees_with_the_data_drops_the_frame() -> None:
    r = FrameReassembler()
    packets = datagrams(0, frame_bytes(0))  # SoF, data 1..7, EoF 8
    wrong_end = encode(EndOfFrame(0, 5))  # claims 4 data packets
    assert feed(r, [*packets[:-1], wrong_end]) == []
    assert r.counters().frames_incomplete == 1


def test_an_absurd_packet_count_is_refused() -> None:
    r = FrameReassembler()
    huge_end = encode(EndOfFrame(0, MAX_FRAME_PACKETS + 5))
    assert feed(r, [huge_end]) == []
    assert r.counters().malformed == 1


def test_a_restarted_sender_is_followed() -> None:
    r = FrameReassembler()
    feed(r, [d for i in range(2000, 2003) for d in datagrams(i, frame_bytes(i))])
    out = feed(r, [d for i in range(3) for d in datagrams(i, frame_bytes(i))])
    assert [f.frame_id for f in out] == [0, 1, 2]
    c = r.counters()
    assert c.streams == 2 and c.frames_ok == 6 and c.frames_incomplete == 0


def test_pending_frames_are_bounded() -> None:
    r = FrameReassembler(max_pending=2)
    starts = [encode(StartOfFrame(i, 0, JPEG_YUV422, 1, 1)) for i in range(10)]
    feed(r, starts)
    assert len(r._pending) == 2
    assert r.counters().frames_incomplete == 8


def test_jpeg_geometry_reads_the_sof_segment() -> None:
    from camera2mqtt.sim.wifi.liveview import FramePictures

    jpeg = FramePictures().picture(640, 480, 0)
    geometry = jpeg_geometry(jpeg)
    assert (geometry.size_x, geometry.size_y) == (640, 480)
    assert jpeg_geometry(b"not a jpeg").size_x == 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 7), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
    st.floats(0, 0.3),
    st.floats(0, 0.3),
)
def test_whatever_the_network_does_only_sent_frames_come_out_in_order(
    frames, rng, loss, duplicate
) -> None:
    payloads = {i: frame_bytes(seed, 700 + 300 * seed) for i, seed in enumerate(frames)}
    sent = []
    for frame_id, payload in payloads.items():
        for packet in datagrams(frame_id, payload, packet_size=200):
            if rng.random() < loss:
                continue
            sent.append(packet)
            if rng.random() < duplicate:
                sent.append(packet)
    # Local reordering: swap neighbours now and then.
    for index in range(len(sent) - 1):
        if rng.random() < 0.1:
            sent[index], sent[index + 1] = sent[index + 1], sent[index]
    r = FrameReassembler()
    out = feed(r, sent)
    assert all(frame.payload == payloads[frame.frame_id] for frame in out)
    assert [f.frame_id for f in out] == sorted({f.frame_id for f in out})
    r.flush()
    c = r.counters()
    assert c.frames_ok == len(out)
    assert c.frames_ok + c.frames_incomplete <= len(payloads)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=30))
def test_garbage_never_raises_and_never_makes_a_frame(garbage) -> None:
    r = FrameReassembler()
    out = feed(r, garbage)
    assert r.counters().frames_ok == len(out)
    assert r.counters().datagrams == len(garbage)
