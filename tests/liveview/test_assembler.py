"""Frame assembly from datagrams: ordering, loss, damage, wrap-around, counters."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from camera2mqtt.cameras.wifi.liveview import FrameAssembler
from camera2mqtt.cameras.wifi.rtp import FrameInfo, build_packet
from camera2mqtt.cameras.wifi.udp import split_datagrams
from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.wifi.liveview import FramePictures, packetize
from tests.liveview.helpers import full_parse_only

SSRC = 0x5EED
PICTURES = FramePictures()


def frame_packets(
    counter: int, first_sequence: int, *, size: bool = True, ssrc: int = SSRC
) -> list[bytes]:
    jpeg = PICTURES.picture(160, 120, counter)
    info = FrameInfo(frame_size=len(jpeg) if size else None)
    return packetize(
        jpeg,
        timestamp=counter,
        ssrc=ssrc,
        first_sequence=first_sequence,
        info=info,
        packet_size=400,
    )


def stream_packets(
    counters: range, first_sequence: int, *, size: bool = True, ssrc: int = SSRC
) -> list[bytes]:
    """The packets of consecutive frames, their sequence numbers running on."""
    packets: list[bytes] = []
    for counter in counters:
        packets += frame_packets(counter, first_sequence + len(packets), size=size, ssrc=ssrc)
    return packets


def feed(assembler: FrameAssembler, datagrams: list[bytes]) -> list:
    return [frame for d in datagrams if (frame := assembler.push(d)) is not None]


def test_in_order_stream_gives_every_frame_intact() -> None:
    assembler = FrameAssembler()
    frames = feed(assembler, stream_packets(range(5), 100))
    assert [f.timestamp for f in frames] == [0, 1, 2, 3, 4]
    for frame in frames:
        assert frame.jpeg == PICTURES.picture(160, 120, frame.timestamp)
        assert frame.info.frame_size == len(frame.jpeg)
        Image.open(io.BytesIO(frame.jpeg)).load()
    counters = assembler.counters()
    assert counters.frames_ok == 5
    assert counters.frames_dropped == counters.packets_lost == counters.malformed == 0


def test_sequence_wraps_around_inside_a_frame() -> None:
    first = frame_packets(0, 65534)
    assert len(first) > 3
    packets = first + frame_packets(1, (65534 + len(first)) % 65536)
    assembler = FrameAssembler()
    frames = feed(assembler, packets)
    assert [f.timestamp for f in frames] == [0, 1]
    assert assembler.packets_lost == 0


def test_reordered_packets_are_put_back_in_order() -> None:
    packets = frame_packets(0, 0)
    swapped = [packets[0], packets[2], packets[1], *packets[3:]]
    assembler = FrameAssembler()
    frames = feed(assembler, swapped + frame_packets(1, len(packets)))
    assert [f.timestamp for f in frames] == [0, 1]
    assert assembler.reordered == 1
    assert assembler.packets_lost == 0


def test_last_packet_arriving_after_the_next_frame_starts() -> None:
    one = frame_packets(0, 0)
    two = frame_packets(1, len(one))
    order = [*one[:-1], two[0], one[-1], *two[1:]]
    frames = feed(FrameAssembler(), order)
    assert [f.timestamp for f in frames] == [0, 1]


def test_a_missing_packet_drops_only_its_frame() -> None:
    one = frame_packets(0, 0)
    two = frame_packets(1, len(one))
    three = frame_packets(2, len(one) + len(two))
    assembler = FrameAssembler()
    frames = feed(assembler, one + two[:2] + two[3:] + three)
    assert [f.timestamp for f in frames] == [0, 2]
    assert assembler.frames_dropped == 1
    assert assembler.packets_lost == 1


def test_identical_duplicates_are_ignored_and_conflicting_ones_drop_the_frame() -> None:
    packets = frame_packets(0, 0)
    assembler = FrameAssembler()
    frames = feed(assembler, [packets[0], packets[1], packets[1], *packets[2:]])
    assert len(frames) == 1
    assert assembler.duplicates == 1
    # Two different "first" packets for one frame: ambiguous, so the frame is dropped.
    again = frame_packets(5, 50)
    impostor = build_packet(sequence=51, timestamp=5, ssrc=SSRC, payload=b"\xff\xd8", extension=b"")
    assembler = FrameAssembler()
    assert feed(assembler, [again[0], impostor, *again[2:]]) == []
    assert assembler.frames_dropped == 1


def test_a_truncated_middle_packet_fails_the_frame_size_check() -> None:
    packets = frame_packets(0, 0)
    packets[2] = packets[2][:-10]
    assembler = FrameAssembler()
    assert feed(assembler, packets) == []
    assert assembler.frames_invalid == 1 and assembler.frames_dropped == 1


@pytest.mark.parametrize("damage", ["start", "end"])
def test_frames_without_jpeg_markers_are_dropped(damage: str) -> None:
    jpeg = make_jpeg(64, 48, "x")
    jpeg = jpeg[2:] if damage == "start" else jpeg[:-2]
    packets = packetize(
        jpeg, timestamp=0, ssrc=SSRC, first_sequence=0, info=FrameInfo(), packet_size=300
    )
    assembler = FrameAssembler()
    assert feed(assembler, packets) == []
    assert assembler.frames_invalid == 1


def test_single_packet_frame_with_both_x_and_m() -> None:
    jpeg = make_jpeg(16, 16, "")
    packets = packetize(
        jpeg, timestamp=9, ssrc=SSRC, first_sequence=3, info=FrameInfo(frame_size=len(jpeg))
    )
    assert len(packets) == 1
    frames = feed(FrameAssembler(), packets)
    assert frames[0].jpeg == jpeg


def test_malformed_and_foreign_datagrams_are_counted_and_skipped() -> None:
    packets = frame_packets(0, 0)
    stranger = build_packet(sequence=7, timestamp=0, ssrc=0xBAD, payload=b"\xff\xd9")
    datagrams = [b"", b"junk", bytes(40), packets[0], stranger, *packets[1:]]
    assembler = FrameAssembler()
    assert len(feed(assembler, datagrams)) == 1
    assert assembler.malformed == 3
    assert assembler.foreign == 1


def test_a_new_source_is_followed_after_a_run_of_its_packets() -> None:
    assembler = FrameAssembler()
    feed(assembler, frame_packets(0, 0))
    other = stream_packets(range(100, 130), 30000, size=False, ssrc=0xFEED)
    frames = feed(assembler, other)
    assert frames, "the receiver never followed the restarted stream"
    assert frames[-1].timestamp == 129


def test_flush_counts_incomplete_frames_as_dropped() -> None:
    assembler = FrameAssembler()
    feed(assembler, frame_packets(0, 0)[:-1])
    assembler.flush()
    assert assembler.frames_dropped == 1


def test_a_restarted_stream_may_reuse_frame_counters() -> None:
    assembler = FrameAssembler()
    assert len(feed(assembler, stream_packets(range(20), 0))) == 20
    # The new source counts frames from 0 again.
    restarted = stream_packets(range(40), 5000, size=False, ssrc=0xFEED)
    frames = [f.timestamp for f in feed(assembler, restarted)]
    assert frames == list(range(frames[0], 40))
    assert frames[0] < 12  # the switch happens after 64 packets, within the first frames


@pytest.mark.parametrize("lost", ["first", "last"])
def test_a_lost_first_or_last_packet_drops_only_its_frame(lost: str) -> None:
    one = frame_packets(0, 0)
    two = frame_packets(1, len(one))
    three = frame_packets(2, len(one) + len(two))
    two = two[1:] if lost == "first" else two[:-1]
    assembler = FrameAssembler()
    frames = feed(assembler, one + two + three)
    assert [f.timestamp for f in frames] == [0, 2]
    assert assembler.frames_dropped == 1
    assert assembler.packets_lost == 1


def test_a_frame_that_never_ends_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from camera2mqtt.cameras.wifi import liveview

    monkeypatch.setattr(liveview, "MAX_FRAME_PACKETS", 50)
    start = build_packet(sequence=0, timestamp=1, ssrc=SSRC, payload=b"\xff\xd8", extension=b"")
    endless = [
        build_packet(sequence=i, timestamp=1, ssrc=SSRC, payload=b"x") for i in range(1, 500)
    ]
    assembler = FrameAssembler()
    assert feed(assembler, [start, *endless]) == []
    assert assembler.frames_dropped == 1
    assert all(frame.packets <= 60 for frame in assembler._pending.values())


def test_a_stray_packet_after_the_last_cannot_stand_in_for_a_lost_one() -> None:
    packets = frame_packets(0, 0, size=False)  # no frame-size TLV to catch it
    last = len(packets) - 1
    stray = build_packet(sequence=last + 1, timestamp=0, ssrc=SSRC, payload=b"\xff\xd9")
    info_less = [*packets[:2], *packets[3:], stray]  # packet 2 lost, a stray after the end
    assembler = FrameAssembler()
    assert feed(assembler, info_less) == []
    assembler.flush()
    assert assembler.frames_ok == 0
    # Dropped for the missing packet, not counted as a JPEG that failed its checks.
    assert assembler.frames_dropped == 1 and assembler.frames_invalid == 0


def test_an_interleaved_foreign_source_never_takes_over() -> None:
    assembler = FrameAssembler()
    ours = stream_packets(range(30), 0)
    mixed = []
    for index, packet in enumerate(ours):
        mixed.append(packet)
        mixed.append(build_packet(sequence=index, timestamp=index, ssrc=0xBAD, payload=b"x"))
    frames = feed(assembler, mixed)
    assert [f.timestamp for f in frames] == list(range(30))
    assert assembler.foreign == len(ours)


def test_a_duplicate_that_differs_from_the_first_copy_drops_the_frame() -> None:
    packets = frame_packets(0, 0, size=False)
    forged = bytearray(packets[1])
    forged[3] += 1  # packet 1's payload under packet 2's sequence number
    assembler = FrameAssembler()
    frames = feed(assembler, [packets[0], bytes(forged), packets[1], *packets[2:]])
    assert frames == []
    assert assembler.duplicates == 1 and assembler.frames_dropped == 1


# The in-order path checks a whole run of packets at once; feeding a stream in batches of
# any size, or with any one header changed, must end exactly as the full parse of each
# packet on its own does.


def feed_in_batches(datagrams: list[bytes], size: int) -> tuple[list, FrameAssembler]:
    assembler = FrameAssembler()
    frames: list = []
    batches = [split_datagrams(datagrams[i : i + size], 12) for i in range(0, len(datagrams), size)]
    assembler.consume(iter(batches).__next__, frames.append)
    return frames, assembler


def test_batches_of_any_size_give_the_same_frames_and_counters() -> None:
    packets = stream_packets(range(4), 65530)  # the sequence numbers wrap in the first frame
    expected, reference = full_parse_only(packets)
    assert len(expected) == 4
    for size in range(1, len(packets) + 1):
        frames, assembler = feed_in_batches(packets, size)
        assert [(f.timestamp, f.jpeg) for f in frames] == expected, size
        assert assembler.counters() == reference.counters(), size


@pytest.mark.parametrize(
    ("byte", "change", "frame_kept"),
    [
        (0, 0x20, False),  # P=1: the last byte is taken as a padding count
        (1, 0x80, False),  # M=1 in the middle: the frame ends short
        (1, 0x01, True),  # payload type: not checked, as the packet-by-packet path
        (3, 0x01, False),  # sequence number: it now repeats a neighbour's
        (7, 0x01, False),  # frame counter: it is counted in another frame (which it spoils)
        (11, 0x01, False),  # SSRC: from another source
    ],
    ids=["padding", "marker", "payload type", "sequence", "frame counter", "ssrc"],
)
def test_a_changed_header_anywhere_in_a_run(byte: int, change: int, frame_kept: bool) -> None:
    packets = stream_packets(range(3), 300)
    for index in range(len(packets)):
        changed = list(packets)
        header = bytearray(changed[index])
        header[byte] ^= change
        changed[index] = bytes(header)
        expected, reference = full_parse_only(changed)
        for size in (1, len(changed)):
            frames, assembler = feed_in_batches(changed, size)
            assert [(f.timestamp, f.jpeg) for f in frames] == expected, (index, size)
            assert assembler.counters() == reference.counters(), (index, size)
        owner, position = frame_of(packets, index)
        if 0 < position < len(frame_packets(owner, 0)) - 1:  # a middle packet
            assert (owner in {f.timestamp for f in frames}) == frame_kept, index


def frame_of(packets: list[bytes], index: int) -> tuple[int, int]:
    """The frame counter of ``packets[index]`` and its place in that frame."""
    counter = int.from_bytes(packets[index][4:8])
    first = next(i for i, p in enumerate(packets) if int.from_bytes(p[4:8]) == counter)
    return counter, index - first


def test_a_middle_packet_with_another_payload_type_still_completes_its_frame() -> None:
    packets = frame_packets(0, 0)
    changed = bytearray(packets[2])
    changed[1] ^= 0x01
    frames, assembler = feed_in_batches([*packets[:2], bytes(changed), *packets[3:]], 64)
    assert [f.jpeg for f in frames] == [PICTURES.picture(160, 120, 0)]
    assert assembler.frames_dropped == 0


def test_a_run_longer_than_max_run_is_checked_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    from camera2mqtt.cameras.wifi import liveview

    monkeypatch.setattr(liveview, "MAX_RUN", 3)
    packets = stream_packets(range(3), 65530)
    frames, assembler = feed_in_batches(packets, len(packets))
    assert [f.timestamp for f in frames] == [0, 1, 2]
    assert assembler.counters().frames_ok == 3 and assembler.packets_lost == 0
