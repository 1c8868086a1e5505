"""The daemon's stream relay and MJPEG server, driven through MQTT and HTTP only, with the
Wi-Fi and serial simulators behind the real drivers and a real mosquitto."""

from __future__ import annotations

import io
import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from camera2mqtt.config import parse_config
from camera2mqtt.service import Service
from camera2mqtt.sim.wifi import WifiSimulator
from camera2mqtt.sim.wifi.liveview import RtpStreamer
from camera2mqtt.stream.receiver import StreamReceiver
from tests.conftest import WIFI_MODEL, free_port
from tests.mqtt.recorder import Recorder
from tests.stream.helpers import Collector
from tests.stream.test_mjpeg import read_parts, valid_jpeg

WAIT = 60.0


class Daemon:
    def __init__(self, recorder: Recorder, base: str, camera: str, service: Service) -> None:
        self.recorder, self.base, self.camera, self.service = recorder, base, camera, service

    def command(self, action: str) -> dict:
        mark = self.recorder.mark()
        transaction = uuid.uuid4().hex
        body = json.dumps({"action": action, "transaction": transaction})
        self.recorder.publish(f"{self.base}/{self.camera}/set", body)
        reply = self.recorder.wait_for(
            f"{self.base}/{self.camera}/response",
            lambda m: json.loads(m.payload)["transaction"] == transaction,
            after=mark,
            timeout=WAIT,
        )
        return json.loads(reply.payload)

    def state(self, predicate) -> dict:
        message = self.recorder.wait_for(
            f"{self.base}/{self.camera}/state",
            lambda m: predicate(json.loads(m.payload)),
            timeout=WAIT,
        )
        return json.loads(message.payload)


def run_daemon(broker, tmp_path: Path, camera: str, camera_yaml: str, http_port: int):
    base = f"t{uuid.uuid4().hex[:8]}"
    config = parse_config(
        f"""
mqtt: {{host: 127.0.0.1, port: {broker.port}, base_topic: {base}, client_id: {base}-d,
        discovery_prefix: {base}-ha}}
state_dir: {tmp_path / "state"}
photos_dir: {tmp_path / "photos"}
http: {{listen: "127.0.0.1:{http_port}"}}
cameras:
  {camera}:
{camera_yaml}"""
    )
    recorder = Recorder(broker.port)
    service = Service(config)
    service.start()
    recorder.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"online")
    recorder.wait_for(
        f"{base}/{camera}/availability", lambda m: m.payload == b"online", timeout=WAIT
    )
    return Daemon(recorder, base, camera, service)


@pytest.fixture
def streamer() -> RtpStreamer:
    return RtpStreamer(fps=30)


@pytest.fixture
def receiver() -> Iterator[tuple[StreamReceiver, Collector]]:
    frames = Collector()
    with StreamReceiver("127.0.0.1", 0, on_frame=frames) as running:
        yield running, frames


@pytest.fixture
def wifi_daemon(broker, streamer, receiver, tmp_path: Path) -> Iterator[Daemon]:
    stream_receiver, _ = receiver
    with WifiSimulator(WIFI_MODEL, liveview=streamer) as simulator:
        daemon = run_daemon(
            broker,
            tmp_path,
            "garden",
            f"""    type: wifi
    host: 127.0.0.1
    port: {simulator.port}
    poll_interval: 1
    liveview: {{size: "0320x0240"}}
    stream: {{targets: ["udp://127.0.0.1:{stream_receiver.port}"], packet_size: 1000}}
""",
            free_port(),
        )
        try:
            yield daemon
        finally:
            daemon.service.stop()
            daemon.recorder.close()


def test_stream_start_relays_the_wifi_live_view_until_stream_stop(
    wifi_daemon: Daemon, streamer: RtpStreamer, receiver
) -> None:
    stream_receiver, frames = receiver
    discovery = wifi_daemon.recorder.wait_for(
        f"{wifi_daemon.base}-ha/device/{wifi_daemon.base}_garden/config",
        lambda m: b'"stream"' in m.payload,
        timeout=WAIT,
    )
    switch = json.loads(discovery.payload)["components"]["stream"]
    assert switch["platform"] == "switch"
    assert json.loads(switch["payload_on"]) == {"action": "stream_start"}
    assert json.loads(switch["payload_off"]) == {"action": "stream_stop"}

    reply = wifi_daemon.command("stream_start")
    assert reply["status"] == "ok", reply
    assert reply["result"]["streaming"] is True
    wifi_daemon.state(lambda state: state["streaming"] is True)
    assert frames.wait_for(lambda items: len(items) >= 10, WAIT)
    # A snapshot while streaming comes from the running live view and does not stop it.
    assert wifi_daemon.command("snapshot")["status"] == "ok"
    count = len(frames.items)
    assert frames.wait_for(lambda items: len(items) >= count + 5, WAIT)
    # So does a shot: the live view goes on (restarted by the worker if the shot stopped it).
    assert wifi_daemon.command("shoot")["status"] == "ok"
    count = len(frames.items)
    assert frames.wait_for(lambda items: len(items) >= count + 5, WAIT)

    reply = wifi_daemon.command("stream_stop")
    assert reply["status"] == "ok", reply
    assert reply["result"]["frames_sent"] >= 15
    wifi_daemon.state(lambda state: state["streaming"] is False)
    sent = streamer.sent_frames()
    assert all(frame.payload in sent.values() for frame in frames.items)
    assert all(frame.start.size_x == 320 for frame in frames.items)
    assert stream_receiver.counters.frames_incomplete == 0


def test_the_daemon_serves_mjpeg_while_someone_watches(wifi_daemon: Daemon, streamer) -> None:
    http = wifi_daemon.service.http
    assert http is not None
    base = f"http://127.0.0.1:{http.port}"
    with urllib.request.urlopen(f"{base}/", timeout=WAIT) as response:
        assert "/cameras/garden/live.mjpg" in response.read().decode()
    with urllib.request.urlopen(f"{base}/cameras/garden/live.mjpg", timeout=WAIT) as response:
        parts = read_parts(response, 5)
    assert len(parts) == 5 and all(valid_jpeg(part) == (320, 240) for part in parts)
    order = {jpeg: counter for counter, jpeg in streamer.sent_frames().items()}
    counters = [order[part] for part in parts]
    assert counters == sorted(set(counters))


def test_stream_start_without_targets_is_an_error_reply(broker, tmp_path: Path) -> None:
    with WifiSimulator(WIFI_MODEL, liveview=RtpStreamer()) as simulator:
        daemon = run_daemon(
            broker,
            tmp_path,
            "garden",
            f"    type: wifi\n    host: 127.0.0.1\n    port: {simulator.port}\n",
            free_port(),
        )
        try:
            reply = daemon.command("stream_start")
            assert reply["status"] == "error"
            assert "stream: {targets:" in reply["error"]
            assert daemon.command("status")["status"] == "ok"  # still up
        finally:
            daemon.service.stop()
            daemon.recorder.close()


def test_a_serial_camera_streams_its_preview_frames(broker, serial_sim, receiver, tmp_path):
    stream_receiver, frames = receiver
    daemon = run_daemon(
        broker,
        tmp_path,
        "attic",
        f"""    type: serial
    port: {serial_sim.slave_path}
    poll_interval: 5
    stream: {{targets: ["udp://127.0.0.1:{stream_receiver.port}"]}}
""",
        free_port(),
    )
    try:
        assert daemon.command("stream_start")["status"] == "ok"
        assert frames.wait_for(lambda items: len(items) >= 2, WAIT * 2)
        # Commands still run between preview frames.
        assert daemon.command("status")["status"] == "ok"
        assert daemon.command("stream_stop")["status"] == "ok"
    finally:
        daemon.service.stop()
        daemon.recorder.close()
    for frame in frames.items[:2]:
        with Image.open(io.BytesIO(frame.payload)) as image:
            image.verify()
            assert image.format == "JPEG"
