"""The relay end to end over loopback UDP: the Wi-Fi simulator's live view -> LiveFeed ->
StreamRelay -> a lossy, reordering forwarder -> StreamReceiver."""

from __future__ import annotations

import pytest

from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.sim.wifi.liveview import RtpStreamer
from camera2mqtt.stream.codec import Flags, decode
from camera2mqtt.stream.live import StreamRelay
from camera2mqtt.stream.receiver import StreamReceiver
from camera2mqtt.stream.sender import StreamSender, StreamTarget
from tests.stream.helpers import Collector, FeedPump, LossyForwarder

GOOD_FRAMES = 25


@pytest.mark.parametrize("packet_size", [1400, 300])
def test_relayed_frames_are_byte_identical_despite_loss_and_reordering(
    camera: WifiCamera, streamer: RtpStreamer, packet_size: int
) -> None:
    frames = Collector()
    with (
        StreamReceiver("127.0.0.1", 0, on_frame=frames) as receiver,
        LossyForwarder(("127.0.0.1", receiver.port), loss=0.05, reorder=0.05) as lossy,
        FeedPump(camera, liveview_size="0320x0240") as pump,
    ):
        sender = StreamSender([StreamTarget("127.0.0.1", lossy.port)], packet_size=packet_size)
        relay = StreamRelay(pump.feed.hub, sender)
        relay.start()
        try:
            assert frames.wait_for(lambda items: len(items) >= GOOD_FRAMES)
        finally:
            relay.stop()
        assert pump.errors == []
        counters = receiver.counters
    sent = streamer.sent_frames()
    camera_frames = set(sent.values())
    delivered = frames.items
    # Zero corrupt frames: each is exactly a JPEG the camera sent, in the order sent.
    assert all(frame.payload in camera_frames for frame in delivered)
    ids = [frame.frame_id for frame in delivered]
    assert ids == sorted(set(ids))
    order = {jpeg: counter for counter, jpeg in sent.items()}
    counters_seen = [order[frame.payload] for frame in delivered]
    assert counters_seen == sorted(counters_seen)
    assert all(frame.start.size_x == 320 and frame.start.size_y == 240 for frame in delivered)
    # The loss really happened and was counted, not silently repaired.
    assert lossy.dropped > 0 and lossy.reordered > 0
    assert counters.frames_incomplete > 0 and counters.packets_lost > 0
    assert counters.frames_ok == len(delivered) >= GOOD_FRAMES
    assert sender.frames_sent >= counters.frames_ok + counters.frames_incomplete - 4


def test_the_live_view_runs_only_while_the_relay_is_subscribed(
    camera: WifiCamera, streamer: RtpStreamer
) -> None:
    frames = Collector()
    with (
        StreamReceiver("127.0.0.1", 0, on_frame=frames) as receiver,
        FeedPump(camera, liveview_size="0320x0240") as pump,
    ):
        relay = StreamRelay(pump.feed.hub, StreamSender([StreamTarget("127.0.0.1", receiver.port)]))
        relay.start()
        assert frames.wait_for(lambda items: len(items) >= 3)
        assert streamer.running
        relay.stop()
        # The last subscriber leaving wakes the pump, which stops the session.
        assert pump.wait_for(lambda: not pump.feed.streaming)
        assert not streamer.running
    assert all(frame.payload in streamer.sent_frames().values() for frame in frames.items)


def test_the_previous_dropped_flag_reaches_the_start_of_frame() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(5)
        with StreamSender([StreamTarget("127.0.0.1", sink.getsockname()[1])]) as sender:
            sender.send_frame(b"\xff\xd8abc\xff\xd9", previous_dropped=True)
            first = decode(sink.recv(2048))
    assert first.flags == Flags.PREVIOUS_DROPPED
    assert first.header is not None and first.header > 0
