"""The service wired to a real broker and in-process fake cameras, driven only over MQTT."""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from camera2mqtt.cameras.base import ImageRef
from camera2mqtt.config import parse_config
from camera2mqtt.homeassistant import HomeAssistantStore
from camera2mqtt.service import Service
from camera2mqtt.statedb import StateDB
from camera2mqtt.worker import next_target
from tests.daemon_config import mqtt_and_folders
from tests.mqtt.fake_camera import PHOTO, FakeWorld
from tests.mqtt.recorder import Recorder


def config_text(
    port: int,
    base: str,
    root: Path,
    *,
    cameras: tuple[str, ...] = ("cam",),
    extra: tuple[str, ...] = (),
) -> str:
    lines = [*mqtt_and_folders(port=port, base=base, root=root), "cameras:"]
    for number, name in enumerate(cameras):
        lines += [
            f"  {name}:",
            "    type: wifi",
            "    host: 127.0.0.1",
            f"    port: {9000 + number}",  # never contacted: the cameras are fakes
            "    poll_interval: 0.25",
            "    snapshot: {size: 320, max_bytes: 20000}",
            "    allow: {power_off: true}",
            *extra,
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Stack:
    service: Service
    world: FakeWorld
    recorder: Recorder
    base: str

    def command(self, camera: str, body: dict | bytes, *, retain: bool = False) -> dict:
        """Send a command and return its reply (matched by a fresh transaction)."""
        mark = self.recorder.mark()
        if isinstance(body, dict):
            transaction = uuid.uuid4().hex
            body = json.dumps({**body, "transaction": transaction}).encode()
        self.recorder.publish(f"{self.base}/{camera}/set", body, retain=retain)
        reply = self.recorder.wait_for(f"{self.base}/{camera}/response", after=mark)
        return json.loads(reply.payload)


def start_stack(
    broker,
    tmp_path: Path,
    cameras: tuple[str, ...] = ("cam",),
    *,
    extra: tuple[str, ...] = (),
    world: FakeWorld | None = None,
) -> Stack:
    base = f"t{uuid.uuid4().hex[:8]}"
    config = parse_config(config_text(broker.port, base, tmp_path, cameras=cameras, extra=extra))
    world = world or FakeWorld()
    recorder = Recorder(broker.port)
    service = Service(config, camera_factory=world.factory)
    service.start()
    return Stack(service, world, recorder, base)


@pytest.fixture
def stack(broker, tmp_path: Path) -> Iterator[Stack]:
    running = start_stack(broker, tmp_path)
    try:
        running.recorder.wait_for(f"{running.base}/bridge/state", lambda m: m.payload == b"online")
        running.recorder.wait_for(
            f"{running.base}/cam/availability", lambda m: m.payload == b"online"
        )
        yield running
    finally:
        running.service.stop()
        running.recorder.close()


def test_shoot_round_trip(stack: Stack) -> None:
    mark = stack.recorder.mark()
    reply = stack.command("cam", {"action": "shoot"})
    assert reply["status"] == "ok", reply
    assert reply["action"] == "shoot"
    [file] = reply["result"]["files"]
    assert file["path"] == "/DCIM/100FAKE/P0000001.JPG"
    event = stack.recorder.wait_for(f"{stack.base}/cam/event", after=mark)
    assert json.loads(event.payload)["event"] == "photo_taken"
    thumb = stack.recorder.wait_for(f"{stack.base}/cam/last_photo", after=mark)
    Image.open(io.BytesIO(thumb.payload)).verify()
    state = stack.recorder.wait_for(
        f"{stack.base}/cam/state",
        lambda m: json.loads(m.payload)["counters"]["shots"] == 1,
        after=mark,
    )
    body = json.loads(state.payload)
    assert body["last_photo"] == file["path"]
    assert body["last_photo_time"].startswith("2024-05-01T12:00:00")
    assert body["model"] == "FAKE-1"


def test_bad_inputs_get_error_replies_and_change_nothing(stack: Stack) -> None:
    for body in (b"nonsense", b'{"action": "fly", "transaction": "x"}', b"[]"):
        reply = stack.command("cam", body)
        assert reply["status"] == "error"
        assert reply["error"]
    reply = stack.command("cam", {"action": "set_property", "name": "takemode", "value": "Z"})
    assert reply["status"] == "error"
    assert "not allowed" in reply["error"]
    reply = stack.command("cam", {"action": "raw", "command": "get_caminfo"})
    assert reply["status"] == "error"
    assert "disabled" in reply["error"]
    reply = stack.command("ghost", {"action": "shoot"})
    assert reply["status"] == "error"
    assert "no camera named 'ghost'" in reply["error"]
    reply = stack.command("cam", b'{"action":"shoot","x":"' + b"y" * 70_000 + b'"}')
    assert "at most" in reply["error"]
    assert "shoot" not in stack.world.calls


def test_retained_commands_are_ignored(broker, tmp_path: Path) -> None:
    # A broker hands a retained message (with the retain flag) to each new subscriber.
    base = f"t{uuid.uuid4().hex[:8]}"
    setter = Recorder(broker.port, (f"{base}/cam/response", f"{base}/bridge/state"))
    setter.publish(f"{base}/cam/set", b'{"action":"shoot"}', retain=True)
    config = parse_config(config_text(broker.port, base, tmp_path))
    world = FakeWorld()
    service = Service(config, camera_factory=world.factory)
    running = Stack(service, world, setter, base)
    service.start()
    try:
        setter.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"online")
        reply = running.command("cam", {"action": "status"})
        assert reply["status"] == "ok"
        assert "shoot" not in world.calls
    finally:
        setter.publish(f"{base}/cam/set", b"", retain=True)
        service.stop()
        setter.close()


def test_snapshot_is_small(stack: Stack) -> None:
    mark = stack.recorder.mark()
    reply = stack.command("cam", {"action": "snapshot"})
    assert reply["status"] == "ok", reply
    snapshot = stack.recorder.wait_for(f"{stack.base}/cam/snapshot", after=mark)
    assert len(snapshot.payload) <= 20000
    with Image.open(io.BytesIO(snapshot.payload)) as image:
        assert max(image.size) <= 320


def test_set_property_and_download(stack: Stack, tmp_path: Path) -> None:
    reply = stack.command("cam", {"action": "set_property", "name": "takemode", "value": "A"})
    assert reply["status"] == "ok", reply
    assert stack.world.properties["takemode"] == "A"
    stack.command("cam", {"action": "shoot"})
    stack.command("cam", {"action": "shoot"})
    reply = stack.command("cam", {"action": "download", "which": "new"})
    assert reply["status"] == "ok", reply
    assert len(reply["result"]["files"]) == 2
    folder = tmp_path / "photos" / "cam"
    assert sorted(p.name for p in folder.rglob("*.JPG")) == ["P0000001.JPG", "P0000002.JPG"]
    again = stack.command("cam", {"action": "download", "which": "new"})
    assert again["result"]["files"] == []


def test_availability_follows_the_camera(stack: Stack) -> None:
    mark = stack.recorder.mark()
    stack.world.present = False
    stack.recorder.wait_for(
        f"{stack.base}/cam/availability", lambda m: m.payload == b"offline", after=mark
    )
    reply = stack.command("cam", {"action": "shoot"})
    assert reply["status"] == "error"
    mark = stack.recorder.mark()
    stack.world.present = True
    stack.recorder.wait_for(
        f"{stack.base}/cam/availability", lambda m: m.payload == b"online", after=mark
    )
    assert stack.command("cam", {"action": "shoot"})["status"] == "ok"


def test_discovery_on_connect_and_on_ha_birth(stack: Stack) -> None:
    topic = f"{stack.base}-ha/device/{stack.base}_cam/config"
    first = stack.recorder.wait_for(topic, lambda m: b"Live view" in m.payload)
    payload = json.loads(first.payload)
    assert payload["components"]["select_takemode"]["options"] == ["iAuto", "P", "A"]
    assert "power_off" in payload["components"]
    mark = stack.recorder.mark()
    stack.recorder.publish(f"{stack.base}-ha/status", b"online")
    stack.recorder.wait_for(topic, after=mark)
    stack.recorder.wait_for(f"{stack.base}/cam/state", after=mark)


def test_stop_abandons_a_download_and_publishes_offline(broker, tmp_path: Path) -> None:
    running = start_stack(broker, tmp_path)
    try:
        running.recorder.wait_for(
            f"{running.base}/cam/availability", lambda m: m.payload == b"online"
        )
        running.command("cam", {"action": "shoot"})
        running.world.download_gate = threading.Event()
        running.recorder.publish(f"{running.base}/cam/set", b'{"action":"download"}')
        assert running.world.download_started.wait(30)
        running.service.stop(timeout=5)
        running.world.download_gate.set()
        running.recorder.wait_for(f"{running.base}/bridge/state", lambda m: m.payload == b"offline")
    finally:
        running.service.stop()
        running.recorder.close()
    folder = tmp_path / "photos" / "cam"
    assert not (folder / "P0000001.JPG").exists()


def test_removed_cameras_are_cleared_from_discovery(broker, tmp_path: Path) -> None:
    first = start_stack(broker, tmp_path, cameras=("cam", "old"))
    try:
        first.recorder.wait_for(f"{first.base}-ha/device/{first.base}_old/config")
    finally:
        first.service.stop()
        first.recorder.close()
    with StateDB.in_state_dir(tmp_path / "state") as db:
        saved = HomeAssistantStore(db).sent_configs()
    assert {sent.owner for sent in saved} == {"cam", "old", "bridge"}
    base = first.base
    config = parse_config(config_text(broker.port, base, tmp_path, cameras=("cam",)))
    recorder = Recorder(broker.port)
    service = Service(config, camera_factory=FakeWorld().factory)
    service.start()
    try:
        recorder.wait_for(f"{base}-ha/device/{base}_old/config", lambda m: m.payload == b"")
    finally:
        service.stop()
        recorder.close()


def test_timelapse_and_sync_on_connect(broker, tmp_path: Path) -> None:
    world = FakeWorld()
    world.images.append(ImageRef("/DCIM/100FAKE/OLD.JPG", len(PHOTO)))
    extra = ("    schedule: {timelapse_interval: 1, sync_on_connect: true}",)
    running = start_stack(broker, tmp_path, extra=extra, world=world)
    try:
        running.recorder.wait_for(
            f"{running.base}/cam/event",
            lambda m: json.loads(m.payload)["event"] == "downloaded",
        )
        running.recorder.wait_for(
            f"{running.base}/cam/state",
            lambda m: json.loads(m.payload)["counters"]["shots"] >= 2,
        )
    finally:
        running.service.stop()
        running.recorder.close()
    [old] = (tmp_path / "photos" / "cam").rglob("OLD.JPG")  # no timestamp: the download date
    assert old.stat().st_size == len(PHOTO)
    assert not running.recorder.on(f"{running.base}/cam/response")


@pytest.mark.parametrize(
    ("now", "expected"),
    [(0.0, 10.0), (9.99, 10.0), (10.0, 20.0), (35.0, 40.0), (-5.0, 10.0)],
)
def test_next_target_skips_missed_slots(now: float, expected: float) -> None:
    assert next_target(0.0, 10.0, now) == expected


def test_unwritable_download_dir_is_a_clear_error(stack: Stack, tmp_path: Path) -> None:
    stack.command("cam", {"action": "shoot"})
    (tmp_path / "photos").mkdir(exist_ok=True)
    (tmp_path / "photos" / "cam").write_text("a file where the folder should be")
    reply = stack.command("cam", {"action": "download"})
    assert reply["status"] == "error"
    assert "download_dir" in reply["error"]


def test_cancel_stops_a_running_download(stack: Stack, tmp_path: Path) -> None:
    stack.command("cam", {"action": "shoot"})
    stack.world.download_gate = threading.Event()
    mark = stack.recorder.mark()
    stack.recorder.publish(f"{stack.base}/cam/set", b'{"action":"download","transaction":"d"}')
    assert stack.world.download_started.wait(30)
    reply = stack.command("cam", {"action": "cancel"})
    assert reply["result"] == {"cancelled": True}
    stack.world.download_gate.set()
    download = stack.recorder.wait_for(
        f"{stack.base}/cam/response",
        lambda m: json.loads(m.payload)["transaction"] == "d",
        after=mark,
    )
    assert "cancelled" in json.loads(download.payload)["error"]
    assert not (tmp_path / "photos" / "cam" / "P0000001.JPG").exists()
    assert stack.command("cam", {"action": "cancel"})["result"] == {"cancelled": False}
    stack.world.download_gate = None
    assert stack.command("cam", {"action": "download"})["status"] == "ok"


def test_set_clock_takes_local_or_zoned_time(stack: Stack) -> None:
    reply = stack.command("cam", {"action": "set_clock", "time": "2024-05-01T12:30:00"})
    assert reply["result"] == {"time": "2024-05-01T12:30:00"}
    reply = stack.command("cam", {"action": "set_clock", "time": "2024-05-01T10:30:00+00:00"})
    assert reply["status"] == "ok", reply
    assert "+" not in reply["result"]["time"]
    assert stack.world.calls.count("set_clock") == 2


def test_a_restart_while_the_camera_is_away_keeps_its_entities(broker, tmp_path: Path) -> None:
    first = start_stack(broker, tmp_path)
    topic = f"{first.base}-ha/device/{first.base}_cam/config"
    try:
        first.recorder.wait_for(topic, lambda m: b"select_takemode" in m.payload)
        first.recorder.wait_for(f"{first.base}/cam/availability", lambda m: m.payload == b"online")
    finally:
        first.service.stop()
        first.recorder.close()
    with StateDB.in_state_dir(tmp_path / "state") as db:
        assert HomeAssistantStore(db).learned()["cam"]["model"] == "FAKE-1"
    config = parse_config(config_text(broker.port, first.base, tmp_path))
    away = FakeWorld(present=False)
    recorder = Recorder(broker.port)
    service = Service(config, camera_factory=away.factory)
    mark = recorder.mark()
    service.start()
    try:
        recorder.wait_for(
            f"{first.base}/cam/availability", lambda m: m.payload == b"offline", after=mark
        )
        message = recorder.wait_for(topic, after=mark)
        components = json.loads(message.payload)["components"]
        assert {"select_takemode", "live_view", "set_clock"} <= set(components)
        assert json.loads(message.payload)["device"]["model"] == "FAKE-1"
    finally:
        service.stop()
        recorder.close()
