"""The paho wrapper against a real mosquitto: birth, will, clean offline, subscriptions."""

from __future__ import annotations

import uuid

from camera2mqtt.config import MqttConfig
from camera2mqtt.mqtt.bridge import MqttBridge
from camera2mqtt.mqtt.topics import Topics
from tests.mqtt.recorder import WAIT, Recorder


def make_bridge(port: int, base: str, **hooks) -> MqttBridge:
    config = MqttConfig(host="127.0.0.1", port=port, client_id=f"{base}-bridge", keepalive=10)
    topics = Topics(base)
    return MqttBridge(config, topics, subscriptions=(topics.command_filter,), **hooks)


def test_online_then_offline_retained(broker) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    recorder = Recorder(broker.port)
    received: list[tuple[str, bytes, bool]] = []
    bridge = make_bridge(broker.port, base, on_message=lambda *m: received.append(m))
    try:
        bridge.start()
        assert bridge.wait_connected(WAIT)
        online = recorder.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"online")
        assert online.retain is False  # live delivery; retained flag only for late subscribers
        late = Recorder(broker.port, (f"{base}/bridge/state",))
        assert late.wait_for(f"{base}/bridge/state").retain
        late.close()
        recorder.publish(f"{base}/cam/set", b'{"action":"shoot"}')
        recorder.wait_for(f"{base}/cam/set")
        assert bridge.publish(f"{base}/cam/event", b"x")
        recorder.wait_for(f"{base}/cam/event")
    finally:
        bridge.stop(timeout=5)
        recorder.close()
    assert (f"{base}/cam/set", b'{"action":"shoot"}', False) in received
    after = Recorder(broker.port, (f"{base}/bridge/state",))
    assert after.wait_for(f"{base}/bridge/state").payload == b"offline"
    after.close()


def test_last_will_on_abrupt_drop_and_reconnect(broker) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    connects: list[int] = []
    bridge = make_bridge(broker.port, base, on_connect=lambda: connects.append(1))
    bridge.start()
    try:
        assert bridge.wait_connected(WAIT)
        broker.restart()
        recorder = Recorder(broker.port, (f"{base}/bridge/state",))
        recorder.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"online")
        assert len(connects) >= 2
        recorder.close()
    finally:
        bridge.stop(timeout=5)


def test_a_raising_hook_does_not_kill_the_network_thread(broker) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"

    def explode(*args: object) -> None:
        raise RuntimeError("boom")

    bridge = make_bridge(broker.port, base, on_message=explode, on_connect=explode)
    recorder = Recorder(broker.port)
    try:
        bridge.start()
        assert bridge.wait_connected(WAIT)
        recorder.publish(f"{base}/cam/set", b"{}")
        recorder.publish(f"{base}/cam/set", b"{}")
        assert bridge.publish(f"{base}/still/alive", b"yes")
        recorder.wait_for(f"{base}/still/alive")
    finally:
        bridge.stop(timeout=5)
        recorder.close()


def test_bad_credentials_are_not_logged(broker, caplog) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    config = MqttConfig(
        host="127.0.0.1",
        port=broker.port,
        client_id=f"{base}-bridge",
        username="someone",
        password="s3cret-value",
    )
    bridge = MqttBridge(config, Topics(base))
    caplog.set_level("DEBUG")
    bridge.start()
    try:
        bridge.wait_connected(WAIT)
    finally:
        bridge.stop(timeout=5)
    assert "s3cret-value" not in caplog.text


def test_payloads_over_the_configured_limit_are_not_sent(broker) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    config = MqttConfig(
        host="127.0.0.1", port=broker.port, client_id=f"{base}-b", max_payload_bytes=1024
    )
    bridge = MqttBridge(config, Topics(base))
    recorder = Recorder(broker.port, (f"{base}/#",))
    bridge.start()
    try:
        assert bridge.wait_connected(WAIT)
        assert not bridge.publish(f"{base}/big", b"x" * 1025)
        assert bridge.publish(f"{base}/small", b"x" * 1024)
        recorder.wait_for(f"{base}/small")
        assert not recorder.on(f"{base}/big")
    finally:
        bridge.stop(timeout=5)
        recorder.close()
