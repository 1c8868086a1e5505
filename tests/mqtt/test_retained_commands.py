"""What a retained command does, as docs/daemon.md says (MQTT 3.1.1 retain semantics)."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from camera2mqtt.config import parse_config
from camera2mqtt.service import Service
from tests.mqtt.fake_camera import FakeWorld
from tests.mqtt.recorder import WAIT, Recorder
from tests.mqtt.test_service import config_text


def test_a_retained_command_published_while_running_runs_once_then_is_ignored(
    broker, tmp_path: Path, caplog
) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    config = parse_config(config_text(broker.port, base, tmp_path))
    world = FakeWorld()
    service = Service(config, camera_factory=world.factory)
    recorder = Recorder(broker.port, (f"{base}/cam/response", f"{base}/bridge/state"))
    caplog.set_level(logging.WARNING, logger="camera2mqtt.service")
    service.start()
    try:
        recorder.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"online")
        # The broker forwards it to the running daemon as an ordinary message (retain 0).
        mark = recorder.mark()
        recorder.publish(f"{base}/cam/set", b'{"action":"shoot","transaction":"r"}', retain=True)
        reply = json.loads(recorder.wait_for(f"{base}/cam/response", after=mark).payload)
        assert reply["status"] == "ok" and reply["transaction"] == "r"
        assert world.calls.count("shoot") == 1

        # At the next connection it comes again, flagged retained: ignored with a warning.
        mark = recorder.mark()
        intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=config.mqtt.client_id)
        intruder.connect("127.0.0.1", broker.port, 30)  # takes the daemon's session over
        intruder.disconnect()
        assert service.bridge.wait_disconnected(WAIT)
        recorder.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"online", after=mark)
        mark = recorder.mark()
        recorder.publish(f"{base}/cam/set", b'{"action":"status","transaction":"s"}')
        reply = json.loads(recorder.wait_for(f"{base}/cam/response", after=mark).payload)
        assert reply["transaction"] == "s"
        assert world.calls.count("shoot") == 1
        assert any("Ignoring a retained command" in r.getMessage() for r in caplog.records)
    finally:
        recorder.publish(f"{base}/cam/set", b"", retain=True)
        service.stop()
        recorder.close()
