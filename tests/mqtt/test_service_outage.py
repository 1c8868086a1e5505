"""The service through a long broker outage and a burst of commands, driven over MQTT."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from camera2mqtt.broker import MosquittoBroker, find_mosquitto
from camera2mqtt.cameras.base import ImageRef
from camera2mqtt.config import parse_config
from camera2mqtt.mqtt.outbox import OutboxLimits
from camera2mqtt.service import Service
from tests.mqtt.fake_camera import PHOTO, FakeWorld
from tests.mqtt.recorder import WAIT, Recorder
from tests.mqtt.test_service import config_text

# The burst was 30,000 commands (BURST=30000 runs it; about 12 s here); the suite
# sends a third of it.
BURST = int(os.environ.get("BURST", "10000"))
BURST_WAIT = 100.0


class _Replies:
    """Counts the replies of one burst by transaction."""

    def __init__(self, port: int, topic: str, expected: int) -> None:
        self.by_transaction: dict[str, dict] = {}
        self.duplicates = 0
        self._expected = expected
        self._done = threading.Event()
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"burst-{uuid.uuid4().hex}"
        )
        subscribed = threading.Event()
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        assert subscribed.wait(WAIT)

    def _on_message(self, client, userdata, message) -> None:
        reply = json.loads(message.payload)
        with self._lock:
            if reply["transaction"] in self.by_transaction:
                self.duplicates += 1  # QoS 1: a reply may come twice
            self.by_transaction[reply["transaction"]] = reply
            if len(self.by_transaction) >= self._expected:
                self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def roomy_broker() -> Iterator[MosquittoBroker]:
    """mosquitto without its 1000-message limit per client, which would drop commands and
    replies of the burst inside the broker, before the daemon or the test sees them."""
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    with MosquittoBroker(max_queued_messages=0) as running:
        yield running


def test_every_command_of_a_burst_is_answered_ok_or_busy(roomy_broker, tmp_path: Path) -> None:
    broker = roomy_broker
    base = f"t{uuid.uuid4().hex[:8]}"
    config = parse_config(config_text(broker.port, base, tmp_path))
    world = FakeWorld()
    service = Service(config, camera_factory=world.factory)
    replies = _Replies(broker.port, f"{base}/cam/response", BURST)
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"send-{uuid.uuid4().hex}")
    sender.connect("127.0.0.1", broker.port, 30)
    sender.loop_start()
    service.start()
    try:
        assert service.bridge.wait_connected(WAIT)
        started = time.monotonic()
        last = None
        for number in range(BURST):
            body = json.dumps({"action": "status", "transaction": str(number)})
            last = sender.publish(f"{base}/cam/set", body, qos=1)
        assert last is not None
        last.wait_for_publish(BURST_WAIT)
        assert replies.wait(BURST_WAIT), (
            f"{BURST - len(replies.by_transaction)} commands unanswered; "
            f"dropped: {service.bridge.dropped}"
        )
        elapsed = time.monotonic() - started
        statuses = {"ok": 0, "busy": 0}
        for reply in replies.by_transaction.values():
            if reply["status"] == "ok":
                statuses["ok"] += 1
            else:
                assert "is busy" in reply["error"], reply
                statuses["busy"] += 1
        assert sorted(replies.by_transaction, key=int) == [str(n) for n in range(BURST)]
        assert statuses["ok"] > 0 and sum(statuses.values()) == BURST
        assert service.bridge.dropped == {"reply": 0, "event": 0}
        print(f"burst of {BURST}: {statuses}, {elapsed:.1f} s, {replies.duplicates} duplicates")
    finally:
        service.stop()
        sender.disconnect()
        sender.loop_stop()
        replies.close()


def test_after_a_long_outage_the_bridge_is_online_and_the_state_current(
    broker, tmp_path: Path
) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    config = parse_config(config_text(broker.port, base, tmp_path))
    world = FakeWorld()
    limits = OutboxLimits(max_events=5, max_replies=5)
    service = Service(config, camera_factory=world.factory, outbox_limits=limits)
    recorder = Recorder(broker.port, (f"{base}/#",))
    service.start()
    try:
        recorder.wait_for(f"{base}/cam/availability", lambda m: m.payload == b"online")
        recorder.close()
        broker.kill()
        assert service.bridge.wait_disconnected(WAIT)
        # The outage fills the bounds (a timelapse would, in minutes) ...
        worker = service.workers["cam"]
        for number in range(50):
            service.bridge.publish(worker.topics.event, json.dumps({"event": "tick", "n": number}))
        assert service.bridge.dropped["event"] == 45
        # ... and the camera changes meanwhile: a photo taken by hand during the outage.
        world.images.append(ImageRef("/DCIM/100FAKE/P0000001.JPG", len(PHOTO), None))
        broker.start()
        assert service.bridge.wait_connected(WAIT)
        late = Recorder(broker.port, (f"{base}/bridge/state", f"{base}/cam/#"))
        try:
            assert late.wait_for(f"{base}/bridge/state").payload == b"online"
            assert late.wait_for(f"{base}/cam/availability").payload == b"online"
            state = late.wait_for(
                f"{base}/cam/state", lambda m: json.loads(m.payload)["frames_taken"] == 1
            )
            assert json.loads(state.payload)["last_photo"] == "/DCIM/100FAKE/P0000001.JPG"
            assert late.wait_for(f"{base}/cam/last_photo").payload
            reply = json.loads(
                _request(late, f"{base}/cam", {"action": "status", "transaction": "after"})
            )
            assert reply["status"] == "ok"
            assert reply["transaction"] == "after"
        finally:
            late.close()
    finally:
        service.stop()


def _request(recorder: Recorder, root: str, command: dict) -> bytes:
    mark = recorder.mark()
    recorder.publish(f"{root}/set", json.dumps(command))
    return recorder.wait_for(f"{root}/response", after=mark).payload
