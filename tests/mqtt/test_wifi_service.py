"""The daemon with the Wi-Fi simulator behind the real driver, driven only through MQTT."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from camera2mqtt.config import parse_config
from camera2mqtt.service import Service
from tests.mqtt.recorder import Recorder


def config_text(
    mqtt_port: int, wifi_port: int, base: str, root: Path, *, timeout: float = 5
) -> str:
    return f"""
mqtt:
  host: 127.0.0.1
  port: {mqtt_port}
  base_topic: {base}
  client_id: {base}-daemon
  discovery_prefix: {base}-ha
  keepalive: 10
state_dir: {root / "state"}
photos_dir: {root / "photos"}
cameras:
  tg:
    type: wifi
    host: 127.0.0.1
    port: {wifi_port}
    timeout: {timeout}
    poll_interval: 0.25
    snapshot: {{size: 320, max_bytes: 30000}}
    allow: {{power_off: true}}
"""


class Client:
    def __init__(self, recorder: Recorder, base: str) -> None:
        self.recorder = recorder
        self.base = base

    def command(self, body: dict) -> dict:
        mark = self.recorder.mark()
        transaction = uuid.uuid4().hex
        payload = json.dumps({**body, "transaction": transaction})
        self.recorder.publish(f"{self.base}/tg/set", payload)
        reply = self.recorder.wait_for(
            f"{self.base}/tg/response",
            lambda m: json.loads(m.payload)["transaction"] == transaction,
            after=mark,
            timeout=60,
        )
        return json.loads(reply.payload)


@pytest.fixture
def daemon(request: pytest.FixtureRequest, broker, wifi_sim, tmp_path: Path) -> Iterator[Client]:
    """The daemon on the simulator; parametrize indirectly with config_text options."""
    base = f"t{uuid.uuid4().hex[:8]}"
    options = getattr(request, "param", {})
    config = parse_config(config_text(broker.port, wifi_sim.port, base, tmp_path, **options))
    recorder = Recorder(broker.port)
    service = Service(config)
    service.start()
    try:
        recorder.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"online")
        recorder.wait_for(f"{base}/tg/availability", lambda m: m.payload == b"online", timeout=60)
        yield Client(recorder, base)
    finally:
        service.stop()
        recorder.close()


def test_shoot_publishes_files_event_and_thumbnail(daemon: Client, wifi_sim) -> None:
    mark = daemon.recorder.mark()
    reply = daemon.command({"action": "shoot"})
    assert reply["status"] == "ok", reply
    assert reply["result"]["files"]
    thumb = daemon.recorder.wait_for(f"{daemon.base}/tg/last_photo", after=mark)
    assert thumb.payload.startswith(b"\xff\xd8")
    assert len(thumb.payload) <= 30000
    state = daemon.recorder.wait_for(
        f"{daemon.base}/tg/state",
        lambda m: json.loads(m.payload)["counters"]["shots"] == 1,
        after=mark,
    )
    assert json.loads(state.payload)["last_photo"] == reply["result"]["files"][-1]["path"]


def test_discovery_has_take_mode_select(daemon: Client) -> None:
    topic = f"{daemon.base}-ha/device/{daemon.base}_tg/config"
    message = daemon.recorder.wait_for(topic, lambda m: b"select_takemode" in m.payload)
    components = json.loads(message.payload)["components"]
    assert "P" in components["select_takemode"]["options"]
    assert components["live_view"]["topic"] == f"{daemon.base}/tg/snapshot"
    reply = daemon.command({"action": "set_property", "name": "takemode", "value": "A"})
    assert reply["status"] == "ok", reply
    reply = daemon.command({"action": "get_property", "name": "takemode"})
    assert reply["result"]["value"] == "A"


def test_snapshot_fits_limits(daemon: Client) -> None:
    mark = daemon.recorder.mark()
    reply = daemon.command({"action": "snapshot"})
    assert reply["status"] == "ok", reply
    message = daemon.recorder.wait_for(f"{daemon.base}/tg/snapshot", after=mark)
    assert len(message.payload) <= 30000
    with Image.open(io.BytesIO(message.payload)) as image:
        assert max(image.size) <= 320


def test_download_latest_goes_to_download_dir(daemon: Client, tmp_path: Path) -> None:
    assert daemon.command({"action": "shoot"})["status"] == "ok"
    reply = daemon.command({"action": "download", "which": "latest"})
    assert reply["status"] == "ok", reply
    [file] = reply["result"]["files"]
    local = Path(file["local_path"])
    taken = datetime.fromisoformat(file["timestamp"])
    assert local.parent == tmp_path / "photos" / "tg" / f"{taken:%Y/%m/%d}"
    assert local.stat().st_size == file["size"]


@pytest.mark.parametrize("daemon", [{"timeout": 1.5}], indirect=True, ids=["timeout-1.5s"])
def test_availability_follows_the_camera(daemon: Client, wifi_sim) -> None:
    mark = daemon.recorder.mark()
    wifi_sim.faults.delay_s = 4.0  # longer than the driver's status timeout
    try:
        daemon.recorder.wait_for(
            f"{daemon.base}/tg/availability",
            lambda m: m.payload == b"offline",
            after=mark,
            timeout=60,
        )
    finally:
        wifi_sim.faults.delay_s = 0.0
    mark = daemon.recorder.mark()
    daemon.recorder.wait_for(
        f"{daemon.base}/tg/availability",
        lambda m: m.payload == b"online",
        after=mark,
        timeout=60,
    )
    assert daemon.command({"action": "shoot"})["status"] == "ok"


def test_power_off_then_on_again(daemon: Client, wifi_sim) -> None:
    mark = daemon.recorder.mark()
    reply = daemon.command({"action": "power_off"})
    assert reply["status"] == "ok", reply
    daemon.recorder.wait_for(
        f"{daemon.base}/tg/availability", lambda m: m.payload == b"offline", after=mark
    )
    mark = daemon.recorder.mark()
    wifi_sim.power_on()
    daemon.recorder.wait_for(
        f"{daemon.base}/tg/availability",
        lambda m: m.payload == b"online",
        after=mark,
        timeout=60,
    )
    assert daemon.command({"action": "shoot"})["status"] == "ok"


def test_slow_download_reports_progress(daemon: Client, wifi_sim) -> None:
    reply = daemon.command({"action": "shoot"})
    size = reply["result"]["files"][-1]["size"]
    mark = daemon.recorder.mark()
    # About 1.5 s, in 4 kB pieces: past the first progress event, which comes after 1 s.
    wifi_sim.faults.throttle_bytes_per_s = max(1, size * 2 // 3)
    try:
        reply = daemon.command({"action": "download", "which": "latest"})
    finally:
        wifi_sim.faults.throttle_bytes_per_s = None
    assert reply["status"] == "ok", reply
    events = [
        json.loads(m.payload)
        for m in daemon.recorder.messages[mark:]
        if m.topic == f"{daemon.base}/tg/event"
    ]
    progress = [e for e in events if e["event"] == "download_progress"]
    assert progress, events
    assert all(0 < e["bytes"] < e["total"] == size for e in progress)
