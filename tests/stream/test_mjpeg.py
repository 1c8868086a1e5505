"""The MJPEG endpoint read by a real HTTP client over a socket."""

from __future__ import annotations

import io
import threading
import urllib.error
import urllib.request

import pytest
from PIL import Image

from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.sim.wifi.liveview import RtpStreamer
from camera2mqtt.stream.live import FrameHub, LiveFrame
from camera2mqtt.stream.mjpeg import BOUNDARY, MjpegServer, MjpegServerError, parse_listen
from tests.stream.helpers import FeedPump

TIMEOUT = 20.0


def read_parts(response, count: int) -> list[bytes]:
    """``count`` JPEGs from a multipart/x-mixed-replace body, parsed by its headers."""
    parts = []
    while len(parts) < count:
        line = response.readline()
        if not line:
            break
        if line.strip() != f"--{BOUNDARY}".encode():
            continue
        headers = {}
        while (header := response.readline().strip()) != b"":
            name, _, value = header.decode().partition(":")
            headers[name.lower()] = value.strip()
        assert headers["content-type"] == "image/jpeg"
        parts.append(response.read(int(headers["content-length"])))
    return parts


def valid_jpeg(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
        assert image.format == "JPEG"
        return image.size


def test_live_mjpg_from_the_camera_yields_valid_jpegs_in_order(
    camera: WifiCamera, streamer: RtpStreamer
) -> None:
    with (
        FeedPump(camera, liveview_size="0320x0240") as pump,
        MjpegServer("127.0.0.1", 0, {"garden": pump.feed.hub}) as server,
    ):
        assert not streamer.running  # nobody watches yet
        url = f"http://127.0.0.1:{server.port}/cameras/garden/live.mjpg"
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            content_type = response.headers["Content-Type"]
            parts = read_parts(response, 12)
        assert content_type == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        # The viewer left: the live view stops.
        assert pump.wait_for(lambda: not pump.feed.streaming)
        assert not streamer.running
        assert pump.errors == []
    assert len(parts) == 12
    assert all(valid_jpeg(part) == (320, 240) for part in parts)
    sent = streamer.sent_frames()
    order = {jpeg: counter for counter, jpeg in sent.items()}
    counters = [order[part] for part in parts]  # each is a frame the camera sent
    assert counters == sorted(set(counters))


def test_snapshot_and_index(camera: WifiCamera, streamer: RtpStreamer) -> None:
    with (
        FeedPump(camera, liveview_size="0320x0240") as pump,
        MjpegServer("127.0.0.1", 0, {"garden": pump.feed.hub, "attic": FrameHub()}) as server,
    ):
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(f"{base}/", timeout=TIMEOUT) as response:
            index = response.read().decode()
        assert "/cameras/garden/live.mjpg" in index and "/cameras/attic/snapshot.jpg" in index
        with urllib.request.urlopen(f"{base}/cameras/garden/snapshot.jpg", timeout=TIMEOUT) as r:
            assert r.headers["Content-Type"] == "image/jpeg"
            jpeg = r.read()
        assert valid_jpeg(jpeg) == (320, 240)
        assert jpeg in streamer.sent_frames().values()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/cameras/nope/live.mjpg", timeout=TIMEOUT)
        assert missing.value.code == 404
        assert pump.wait_for(lambda: not pump.feed.streaming)


def test_a_snapshot_without_frames_is_a_503() -> None:
    with MjpegServer("127.0.0.1", 0, {"dark": FrameHub()}, frame_timeout=0.2) as server:
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(
                f"http://127.0.0.1:{server.port}/cameras/dark/snapshot.jpg", timeout=TIMEOUT
            )
        assert error.value.code == 503


def test_two_viewers_share_one_hub_and_each_gets_the_frames() -> None:
    hub = FrameHub()
    jpegs = []
    for shade in range(6):
        out = io.BytesIO()
        Image.new("RGB", (32, 24), (shade * 40, 0, 0)).save(out, "JPEG")
        jpegs.append(out.getvalue())
    with MjpegServer("127.0.0.1", 0, {"cam": hub}) as server:
        url = f"http://127.0.0.1:{server.port}/cameras/cam/live.mjpg"
        results: dict[int, list[bytes]] = {0: [], 1: []}
        step = threading.Barrier(3, timeout=TIMEOUT)

        def view(index: int) -> None:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
                step.wait()  # headers read: this viewer is subscribed
                for _ in range(3):
                    results[index] += read_parts(response, 1)
                    step.wait()  # both have this frame: the next may come

        viewers = [threading.Thread(target=view, args=(i,)) for i in range(2)]
        for viewer in viewers:
            viewer.start()
        step.wait()
        for jpeg in jpegs[:3]:
            hub.publish(LiveFrame(jpeg, 0.0))
            step.wait()
        for viewer in viewers:
            viewer.join(TIMEOUT)
        assert not hub.watched or all(not viewer.is_alive() for viewer in viewers)
    assert results[0] == results[1] == jpegs[:3]
    assert all(valid_jpeg(jpeg) == (32, 24) for jpeg in results[0])


def test_listen_addresses_are_checked() -> None:
    assert parse_listen("127.0.0.1:8090") == ("127.0.0.1", 8090)
    for bad in ("8090", "host:", "host:port", "h:70000"):
        with pytest.raises(MjpegServerError, match="HOST:PORT"):
            parse_listen(bad)
