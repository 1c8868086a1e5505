"""Live view takes datagrams from the camera's address only, on the address that routes to it.

The spoofer is the simulator's streamer sending from 127.0.0.2 while the camera is 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera2mqtt.cameras.base import CameraTimeout
from camera2mqtt.cameras.wifi import WifiCamera, udp
from camera2mqtt.cameras.wifi.liveview import LiveView
from camera2mqtt.config import WifiCameraConfig
from camera2mqtt.mqtt.commands import parse_command
from camera2mqtt.mqtt.topics import Topics
from camera2mqtt.sim.wifi import WifiSimulator
from camera2mqtt.sim.wifi.liveview import RtpStreamer
from camera2mqtt.worker import CameraWorker
from tests.hostile.conftest import Published
from tests.liveview.helpers import StreamerControl

CAMERA = "127.0.0.1"
SPOOFER = "127.0.0.2"
NO_FRAME_WITHIN = 1.0


def test_a_stream_from_another_address_is_never_seen() -> None:
    streamer = RtpStreamer(fps=50, source_host=SPOOFER)
    with LiveView(StreamerControl(streamer), camera_host=CAMERA) as live:
        assert live.address == (CAMERA, live.port)
        with pytest.raises(CameraTimeout, match="nothing at all arrived"):
            live.snapshot(timeout=NO_FRAME_WITHIN)
        assert live.counters.datagrams == 0
        assert live.latest is None
    assert streamer.sent_frames(), "the spoofer sent nothing: the test proves nothing"


def test_the_same_stream_from_the_camera_address_is_taken() -> None:
    streamer = RtpStreamer(fps=50, source_host=CAMERA)
    with LiveView(StreamerControl(streamer), camera_host=CAMERA) as live:
        jpeg = live.snapshot()
    assert jpeg in streamer.sent_frames().values()


@pytest.fixture(params=["batched", "one at a time"])
def receiver_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "one at a time":
        monkeypatch.setattr(udp, "_recvmmsg", lambda: None)
    return request.param


def test_the_receiver_drops_other_senders_without_the_kernel_filter(receiver_path: str) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as camera,
    ):
        receiver.bind((CAMERA, 0))  # not connected: only the receiver's own check applies
        receiver.settimeout(NO_FRAME_WITHIN)
        spoofer.bind((SPOOFER, 0))
        camera.bind((CAMERA, 0))
        target = receiver.getsockname()
        for number in range(5):
            spoofer.sendto(b"S" * 12 + b"spoofed %d" % number, target)
        camera.sendto(b"C" * 12 + b"genuine", target)
        next_batch = udp.datagram_source(receiver, 65536, head_size=12, source=CAMERA)
        bodies: list[bytes] = []
        while b"genuine" not in bodies:
            bodies += next_batch().bodies  # TimeoutError if the genuine one were lost
        assert bodies == [b"genuine"]


def test_the_kernel_filter_drops_other_senders() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as spoofer,
    ):
        receiver.bind((udp.local_address_towards(CAMERA), 0))
        assert receiver.getsockname()[0] == CAMERA
        assert udp.accept_only(receiver, CAMERA)
        spoofer.bind((SPOOFER, 0))
        spoofer.sendto(b"spoofed", receiver.getsockname())
        receiver.settimeout(0.2)
        with pytest.raises(TimeoutError):
            receiver.recv(100)


@pytest.fixture
def spoofed_camera() -> Iterator[WifiSimulator]:
    """A simulated camera whose live view arrives from another address than its own."""
    with WifiSimulator("e-m1-iii", liveview=RtpStreamer(source_host=SPOOFER)) as simulator:
        yield simulator


def test_no_snapshot_made_of_spoofed_packets_is_published(
    spoofed_camera: WifiSimulator, tmp_path: Path
) -> None:
    published = Published()
    config = WifiCameraConfig(
        name="cam", host=CAMERA, port=spoofed_camera.port, download_dir=tmp_path
    )
    worker = CameraWorker(
        config,
        Topics("t", "ha").camera("cam"),
        published,
        camera_factory=lambda c: WifiCamera(c.host, c.port, liveview_timeout=NO_FRAME_WITHIN),
    )
    worker.start()
    try:
        published.wait_for(worker.topics.availability, lambda p: p == b"online")
        mark = published.mark()
        assert worker.submit(parse_command(b'{"action": "snapshot", "transaction": "s1"}'))
        reply = json.loads(published.wait_for(worker.topics.response, after=mark))
        assert reply["status"] == "error"
        assert "No live-view frame arrived" in reply["error"]
        assert spoofed_camera.state.liveview_dest is None  # stopped again
        assert published.on(worker.topics.snapshot) == []
    finally:
        worker.request_stop()
        assert worker.join(5)
