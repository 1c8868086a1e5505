"""The daemon with the serial simulator (a pty) behind the real driver, through MQTT only."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

from PIL import Image

from camera2mqtt.config import parse_config
from camera2mqtt.service import Service
from tests.mqtt.recorder import Recorder

WAIT = 90.0


def test_serial_camera_over_mqtt(broker, serial_sim, tmp_path: Path) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    config = parse_config(
        f"""
mqtt: {{host: 127.0.0.1, port: {broker.port}, base_topic: {base}, client_id: {base}-d,
        discovery_prefix: {base}-ha}}
state_dir: {tmp_path / "state"}
photos_dir: {tmp_path / "photos"}
cameras:
  olympus:
    type: serial
    port: {serial_sim.slave_path}
    poll_interval: 0.5
    snapshot: {{size: 160, max_bytes: 15000}}
"""
    )
    recorder = Recorder(broker.port)
    service = Service(config)
    service.start()
    try:
        recorder.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"online")
        recorder.wait_for(
            f"{base}/olympus/availability", lambda m: m.payload == b"online", timeout=WAIT
        )
        state = recorder.wait_for(
            f"{base}/olympus/state", lambda m: json.loads(m.payload)["battery"] is not None
        )
        assert json.loads(state.payload)["model"]
        mark = recorder.mark()
        recorder.publish(f"{base}/olympus/set", '{"action": "shoot", "transaction": 1}')
        reply = json.loads(
            recorder.wait_for(f"{base}/olympus/response", after=mark, timeout=WAIT).payload
        )
        assert reply["status"] == "ok", reply
        assert reply["transaction"] == 1
        thumb = recorder.wait_for(f"{base}/olympus/last_photo", after=mark, timeout=WAIT)
        assert len(thumb.payload) <= 15000
        with Image.open(io.BytesIO(thumb.payload)) as image:
            assert max(image.size) <= 160
        discovery = recorder.wait_for(
            f"{base}-ha/device/{base}_olympus/config", lambda m: b"select_resolution" in m.payload
        )
        components = json.loads(discovery.payload)["components"]
        assert components["shoot"]["platform"] == "button"
        assert components["select_resolution"]["options"]
        mark = recorder.mark()
        option = components["select_resolution"]["options"][-1]
        command = components["select_resolution"]["command_template"].replace(
            "{{ value | tojson }}", json.dumps(option)
        )
        recorder.publish(f"{base}/olympus/set", command)
        reply = json.loads(
            recorder.wait_for(f"{base}/olympus/response", after=mark, timeout=WAIT).payload
        )
        assert reply["status"] == "ok", reply
        recorder.wait_for(
            f"{base}/olympus/state",
            lambda m: json.loads(m.payload)["properties"].get("resolution") == option,
            after=mark,
        )
        # A picture taken on the camera itself shows up at the next poll.
        mark = recorder.mark()
        serial_sim.state.take_picture()
        event = recorder.wait_for(
            f"{base}/olympus/event",
            lambda m: json.loads(m.payload).get("source") == "camera",
            after=mark,
            timeout=WAIT,
        )
        assert json.loads(event.payload)["event"] == "photo_taken"
        recorder.wait_for(f"{base}/olympus/last_photo", after=mark, timeout=WAIT)
    finally:
        service.stop()
        recorder.close()
