"""The live-view session over real UDP on 127.0.0.1 against the simulator's RtpStreamer."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest
from PIL import Image

from camera2mqtt.cameras.base import CameraError, CameraTimeout
from camera2mqtt.cameras.wifi.liveview import Frame, LiveView
from camera2mqtt.sim.wifi.liveview import RtpStreamer, StreamFaults
from tests.liveview.helpers import StreamerControl, expected_from, wait_until


def open_liveview(control: StreamerControl, **options) -> LiveView:
    return LiveView(control, bind_host="127.0.0.1", **options)


def test_snapshot_returns_a_frame_the_camera_sent() -> None:
    streamer = RtpStreamer(fps=30)
    control = StreamerControl(streamer)
    with open_liveview(control, size="0640x0480") as live:
        jpeg = live.snapshot()
        assert live.port > 0
    assert jpeg in streamer.sent_frames().values()
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.size == (640, 480)
    assert control.calls[0] == ("start", live.port, "0640x0480")
    assert control.calls[-1] == ("stop",)
    assert not streamer.running


def test_the_port_is_bound_before_the_camera_is_asked_to_stream() -> None:
    seen = {}

    class Checking(StreamerControl):
        def start_liveview(self, port: int, size: str | None = None) -> None:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                with pytest.raises(OSError):
                    probe.bind(("127.0.0.1", port))
                seen["port"] = port
            finally:
                probe.close()
            super().start_liveview(port, size)

    with open_liveview(Checking(RtpStreamer(fps=50))) as live:
        live.snapshot()
    assert seen["port"] == live.port


def test_a_fixed_port_is_used_and_a_busy_one_is_a_clear_error(udp_port: int) -> None:
    control = StreamerControl(RtpStreamer(fps=50))
    with open_liveview(control, port=udp_port) as live:
        assert live.port == udp_port
        live.snapshot()
        with pytest.raises(CameraError, match="Cannot open UDP port"):
            open_liveview(StreamerControl(None), port=udp_port).start()


def test_no_frames_is_a_timeout_that_names_the_firewall() -> None:
    control = StreamerControl(None)
    started = time.monotonic()
    with (
        open_liveview(control, first_frame_timeout=0.5) as live,
        pytest.raises(CameraTimeout, match="firewall"),
    ):
        live.snapshot()
    assert time.monotonic() - started < 10


def test_garbage_only_is_a_timeout_that_says_packets_came() -> None:
    control = StreamerControl(None)
    with open_liveview(control, first_frame_timeout=0.5) as live:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"not rtp", ("127.0.0.1", live.port))
        assert wait_until(lambda: live.counters.datagrams == 1)
        with pytest.raises(CameraTimeout, match="datagrams arrived"):
            live.snapshot()


def test_start_failure_releases_the_port() -> None:
    class Refusing(StreamerControl):
        def start_liveview(self, port: int, size: str | None = None) -> None:
            self.port = port
            raise CameraError("the camera said no")

    control = Refusing(None)
    live = open_liveview(control)
    with pytest.raises(CameraError, match="said no"):
        live.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", control.port))  # free again


def test_stop_is_quick_and_tolerates_a_camera_that_fails_to_stop() -> None:
    class Failing(StreamerControl):
        def stop_liveview(self) -> None:
            super().stop_liveview()
            raise CameraError("gone")

    live = open_liveview(Failing(RtpStreamer(fps=30))).start()
    live.snapshot()
    started = time.monotonic()
    live.stop()
    live.stop()
    assert time.monotonic() - started < 5
    with pytest.raises(CameraError, match="not running"):
        live.snapshot(timeout=0.1)


def test_frames_iterator_and_callback_see_frames_in_order() -> None:
    streamer = RtpStreamer(fps=60, max_frames=20)
    called: list[int] = []

    def on_frame(frame: Frame) -> None:
        called.append(frame.timestamp)
        if frame.timestamp == 3:
            raise RuntimeError("a broken callback must not stop the stream")

    with open_liveview(StreamerControl(streamer), on_frame=on_frame) as live:
        got = []
        for frame in live.frames(timeout=10):
            got.append(frame.timestamp)
            if frame.timestamp == 19:
                break
    assert got == sorted(got) and got[-1] == 19
    assert called == list(range(20))


def test_frames_iterator_ends_when_the_session_stops() -> None:
    live = open_liveview(StreamerControl(RtpStreamer(fps=30))).start()
    result: list[int] = []

    def read() -> None:
        result.extend(frame.timestamp for frame in live.frames(timeout=20))

    reader = threading.Thread(target=read)
    reader.start()
    assert wait_until(lambda: len(result) >= 2)
    live.stop()
    reader.join(10)
    assert not reader.is_alive()


@pytest.mark.parametrize("first_sequence", [0, 65500])
def test_faulty_stream_yields_only_sent_frames_and_exact_counters(first_sequence: int) -> None:
    faults = StreamFaults(
        loss=0.05, reorder=0.05, duplicate=0.03, truncate=0.02, garbage=0.05, seed=7
    )
    streamer = RtpStreamer(fps=40, max_frames=120, faults=faults, first_sequence=first_sequence)
    emitted: list[Frame] = []
    live = open_liveview(StreamerControl(streamer), on_frame=emitted.append)
    with live:
        assert streamer.wait_finished(60)
        total = len(streamer.datagrams())
        assert wait_until(lambda: live.counters.datagrams >= total)
    expected = expected_from(streamer)
    counters = live.counters
    sent = streamer.sent_frames()

    assert {f.timestamp for f in emitted} == expected.frames_ok
    for frame in emitted:
        assert frame.jpeg == sent[frame.timestamp]
        with Image.open(io.BytesIO(frame.jpeg)) as image:
            image.load()
    assert counters.datagrams == expected.datagrams
    assert counters.frames_ok == len(expected.frames_ok)
    assert counters.frames_dropped == len(expected.frames_seen) - len(expected.frames_ok)
    assert counters.malformed == expected.malformed
    assert counters.duplicates == expected.duplicates
    assert counters.reordered == expected.reordered
    assert counters.packets_lost == expected.packets_lost
    # The faults really happened, so the test proves something.
    assert counters.packets_lost > 0 and counters.reordered > 0 and counters.malformed > 0
    assert counters.frames_dropped > 0 and counters.frames_invalid > 0


def test_stop_is_quick_even_if_the_camera_keeps_streaming() -> None:
    streamer = RtpStreamer(fps=60)

    class Deaf(StreamerControl):
        def stop_liveview(self) -> None:
            self.calls.append(("stop",))  # the camera ignores the request

    live = open_liveview(Deaf(streamer)).start()
    try:
        live.snapshot()
        started = time.monotonic()
        live.stop()
        assert time.monotonic() - started < 5
        assert live._thread is None
    finally:
        streamer.stop()


def test_the_streamer_only_sends_to_loopback() -> None:
    streamer = RtpStreamer()
    with pytest.raises(ValueError, match="loopback"):
        streamer.start(("192.168.0.10", 40000), "0640x0480")
    with pytest.raises(ValueError, match="loopback"):
        streamer.start(("camera.example", 40000), "0640x0480")
    with pytest.raises(ValueError, match="0640x0480"):
        streamer.start(("127.0.0.1", 40000), "640x480")
    assert not streamer.running
