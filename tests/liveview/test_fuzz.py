"""Random datagrams never make the parser or the assembler raise or emit a bad frame."""

from __future__ import annotations

import contextlib
import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from camera2mqtt.cameras.wifi.liveview import FrameAssembler
from camera2mqtt.cameras.wifi.rtp import FrameInfo, MalformedPacket, parse_packet
from camera2mqtt.sim.wifi.liveview import FramePictures, packetize
from tests.liveview.helpers import full_parse_only

PICTURES = FramePictures()
SSRC = 0x1234


def stream(frames: int = 3) -> tuple[list[bytes], dict[int, bytes]]:
    packets: list[bytes] = []
    sent = {}
    sequence = 65530
    for counter in range(frames):
        jpeg = PICTURES.picture(96, 64, counter)
        sent[counter] = jpeg
        chunk = packetize(
            jpeg,
            timestamp=counter,
            ssrc=SSRC,
            first_sequence=sequence,
            info=FrameInfo(frame_size=len(jpeg)),
            packet_size=256,
        )
        sequence += len(chunk)
        packets += chunk
    return packets, sent


PACKETS, SENT = stream()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=40))
def test_random_datagrams_never_raise(datagrams: list[bytes]) -> None:
    assembler = FrameAssembler()
    for data in datagrams:
        with contextlib.suppress(MalformedPacket):
            parse_packet(data)
        assembler.push(data)
    assembler.flush()
    counters = assembler.counters()
    assert counters.datagrams == len(datagrams)


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    mutations=st.lists(
        st.tuples(
            st.sampled_from(["drop", "dup", "swap", "cut", "junk"]),
            st.integers(0, 10_000),
            st.integers(0, 255),
        ),
        max_size=12,
    ),
)
def test_mutated_streams_only_ever_emit_frames_that_were_sent(
    seed: int, mutations: list[tuple[str, int, int]]
) -> None:
    datagrams = list(PACKETS)
    rng = random.Random(seed)
    for action, where, value in mutations:
        if not datagrams:
            break
        i = where % len(datagrams)
        if action == "drop":
            del datagrams[i]
        elif action == "dup":
            datagrams.insert(i, datagrams[i])
        elif action == "swap" and i + 1 < len(datagrams):
            datagrams[i], datagrams[i + 1] = datagrams[i + 1], datagrams[i]
        elif action == "cut":
            datagrams[i] = datagrams[i][: value % max(1, len(datagrams[i]))]
        elif action == "junk":
            datagrams.insert(i, rng.randbytes(value))
    one_by_one = FrameAssembler()
    pushed = []
    for data in datagrams:
        frame = one_by_one.push(data)
        if frame is not None:
            # A header bit flip may move a frame to another counter; its bytes must still be
            # exactly one of the frames sent.
            assert frame.jpeg in SENT.values()
            pushed.append((frame.timestamp, frame.jpeg))
    one_by_one.flush()
    # Feeding everything in one call (the receive loop's way: in-order runs checked at once)
    # must give the same frames and counters.
    at_once = FrameAssembler()
    fed: list = []
    at_once.feed(datagrams, fed.append)
    at_once.flush()
    assert [(f.timestamp, f.jpeg) for f in fed] == pushed
    assert at_once.counters() == one_by_one.counters()
    reference_frames, reference = full_parse_only(datagrams)
    reference.flush()
    assert pushed == reference_frames
    assert one_by_one.counters() == reference.counters()


@settings(max_examples=300, deadline=None)
@given(
    flips=st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 11), st.integers(1, 255)), max_size=8
    ),
    swaps=st.lists(st.integers(0, 10_000), max_size=4),
)
# X set on a middle packet (malformed, so lost) and M on the next: the frame's last packet is
# known early and the packets after it must not complete it in any way of feeding.
@example(flips=[(1, 0, 0x10), (2, 1, 0x80)], swaps=[])
def test_corrupted_headers_never_raise_and_frames_keep_their_markers(
    flips: list[tuple[int, int, int]], swaps: list[int]
) -> None:
    # RTP carries no checksum (UDP's catches corruption on a real link), so a packet whose
    # sequence number is corrupted can stand in for a lost one undetected. What must hold:
    # nothing raises, every frame is framed as a JPEG, and both ways of feeding agree.
    datagrams = list(PACKETS)
    for where, byte, mask in flips:
        i = where % len(datagrams)
        data = bytearray(datagrams[i])
        data[byte] ^= mask
        datagrams[i] = bytes(data)
    for where in swaps:
        i = where % (len(datagrams) - 1)
        datagrams[i], datagrams[i + 1] = datagrams[i + 1], datagrams[i]
    one_by_one = FrameAssembler()
    pushed = [frame for data in datagrams if (frame := one_by_one.push(data)) is not None]
    at_once = FrameAssembler()
    fed: list = []
    at_once.feed(datagrams, fed.append)
    for frame in pushed:
        assert frame.jpeg.startswith(b"\xff\xd8") and frame.jpeg.endswith(b"\xff\xd9")
    assert [f.jpeg for f in fed] == [f.jpeg for f in pushed]
    assert at_once.counters() == one_by_one.counters()
    reference_frames, reference = full_parse_only(datagrams)
    assert [(f.timestamp, f.jpeg) for f in pushed] == reference_frames
    assert one_by_one.counters() == reference.counters()
