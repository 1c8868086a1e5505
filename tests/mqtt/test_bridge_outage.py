"""A broker down long enough to fill the bridge's bounds: what is still true comes back.

The bounds are made small here so that a few hundred messages fill them; in the field the
same happens after minutes of a timelapse with the default bounds.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid

from camera2mqtt.config import MqttConfig
from camera2mqtt.mqtt.bridge import MqttBridge
from camera2mqtt.mqtt.outbox import OutboxLimits
from camera2mqtt.mqtt.topics import Topics
from tests.mqtt.recorder import WAIT, Recorder

STATES = 500
EVENTS = 300
REPLIES = 40
LIMITS = OutboxLimits(max_replies=10, max_events=25)


def test_a_long_outage_keeps_the_latest_values_and_a_bounded_count_of_the_rest(
    broker, caplog
) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    topics = Topics(base)
    config = MqttConfig(host="127.0.0.1", port=broker.port, client_id=f"{base}-b", keepalive=10)
    # Holds the bridge's network thread in its second connect until the test's subscriber is
    # on the new broker, so that the subscriber sees every message the bridge sends then.
    gate = threading.Event()
    gate.set()
    bridge = MqttBridge(config, topics, on_connect=lambda: gate.wait(WAIT), outbox_limits=LIMITS)
    caplog.set_level(logging.WARNING, logger="camera2mqtt.mqtt")
    bridge.start()
    try:
        assert bridge.wait_connected(WAIT)
        gate.clear()
        broker.kill()
        assert bridge.wait_disconnected(WAIT)

        accepted = {"event": 0, "reply": 0}
        for number in range(STATES):
            assert bridge.publish(f"{base}/cam/state", f'{{"n":{number}}}', retain=True)
            assert bridge.publish(f"{base}/cam/availability", "online", retain=True, qos=1)
            if number < EVENTS:
                accepted["event"] += bridge.publish(f"{base}/cam/event", f'{{"e":{number}}}')
            if number < REPLIES:
                accepted["reply"] += bridge.publish(f"{base}/cam/response", f'{{"r":{number}}}')
        assert accepted == {"event": LIMITS.max_events, "reply": LIMITS.max_replies}
        assert bridge.dropped == {
            "event": EVENTS - LIMITS.max_events,
            "reply": REPLIES - LIMITS.max_replies,
        }
        drops = [r for r in caplog.records if "Dropped" in r.getMessage()]
        assert drops and all(r.levelno == logging.WARNING for r in drops)
        assert len(drops) == 1  # rate-limited: one line for hundreds of drops

        broker.start()  # a new mosquitto on the same port, with nothing retained
        recorder = Recorder(broker.port, (f"{base}/#",))
        try:
            gate.set()
            recorder.wait_for(
                f"{base}/cam/state", lambda m: m.payload == f'{{"n":{STATES - 1}}}'.encode()
            )
            # Availability was the last message accepted: everything else came before it.
            recorder.wait_for(f"{base}/cam/availability")
            assert recorder.wait_for(f"{base}/bridge/state").payload == b"online"
            assert [m.payload for m in recorder.on(f"{base}/cam/state")] == [
                f'{{"n":{STATES - 1}}}'.encode()
            ]
            assert len(recorder.on(f"{base}/cam/availability")) == 1
            events = [m.payload for m in recorder.on(f"{base}/cam/event")]
            assert events == [f'{{"e":{n}}}'.encode() for n in range(LIMITS.max_events)]
            replies = [m.payload for m in recorder.on(f"{base}/cam/response")]
            assert replies == [f'{{"r":{n}}}'.encode() for n in range(LIMITS.max_replies)]
            # The summary of the outage is logged once more when the broker is back.
            assert len([r for r in caplog.records if "Dropped" in r.getMessage()]) == 2
            # A late subscriber finds the bridge online and the current state retained.
            late = Recorder(broker.port, (f"{base}/bridge/state", f"{base}/cam/state"))
            try:
                assert late.wait_for(f"{base}/bridge/state").payload == b"online"
                state = late.wait_for(f"{base}/cam/state")
                assert state.retain and state.payload == f'{{"n":{STATES - 1}}}'.encode()
            finally:
                late.close()
        finally:
            recorder.close()
    finally:
        gate.set()
        bridge.stop(timeout=5)


def test_a_broker_that_cannot_be_reached_is_logged_with_the_reason() -> None:
    from tests.conftest import free_port

    base = f"t{uuid.uuid4().hex[:8]}"
    now = [0.0]
    config = MqttConfig(host="127.0.0.1", port=free_port(), client_id=f"{base}-b")
    bridge = MqttBridge(config, Topics(base), clock=lambda: now[0])
    records: list[logging.LogRecord] = []
    seen = threading.Event()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "Cannot connect" in record.getMessage():
                records.append(record)
                seen.set()

    logger = logging.getLogger("camera2mqtt.mqtt.bridge")
    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    bridge.start()
    try:
        assert seen.wait(WAIT), "no log line about the failed connection"
        record = records[0]
        assert record.levelno == logging.WARNING
        text = record.getMessage()
        assert f"127.0.0.1:{config.port}" in text
        assert "connection refused" in text
        assert "check mqtt.host, mqtt.port" in text
    finally:
        logger.removeHandler(handler)
        bridge.stop(timeout=2)


def test_repeated_connection_failures_are_rate_limited(caplog) -> None:
    now = [0.0]
    config = MqttConfig(host="broker.invalid", port=1883, client_id="rate-limit-test")
    bridge = MqttBridge(config, Topics("rl"), clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="camera2mqtt.mqtt.bridge")

    def attempt(error: OSError) -> None:
        try:
            raise error
        except OSError:  # paho calls on_connect_fail from inside its own handler
            bridge._handle_connect_fail(bridge._client, None)

    for _ in range(5):
        attempt(ConnectionRefusedError(111, "Connection refused"))
    for _ in range(3):
        attempt(socket.gaierror(-2, "Name or service not known"))
    now[0] += 61
    attempt(socket.gaierror(-2, "Name or service not known"))
    lines = [r.getMessage() for r in caplog.records if "Cannot connect" in r.getMessage()]
    assert len(lines) == 3, lines
    assert "connection refused" in lines[0]
    assert "cannot resolve the host name (Name or service not known)" in lines[1]
    assert "(3 attempts since the last message)" in lines[2]
