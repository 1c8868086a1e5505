"""The daemon rides out a broker restart and cameras that come and go, without being restarted."""

from __future__ import annotations

import time

from tests.daemon.conftest import READY_TIMEOUT, Stack
from tests.daemon.mqtt_probe import MqttProbe

# Acceptance: bridge state, availability, discovery and camera state are back on the broker
# within this long after the broker answers again.
REPUBLISH_WITHIN = 5.0
BROKER_DOWN_FOR = 1.0
AVAILABILITY_TIMEOUT = 30.0


def test_broker_restart_brings_everything_back_without_restarting_the_daemon(stack: Stack) -> None:
    stack.probe.wait_for(
        lambda m: m.topic.startswith(f"{stack.prefix}/") and m.payload,
        timeout=READY_TIMEOUT,
        what="discovery before the restart",
    )
    stack.probe.stop()
    stack.broker.kill()
    time.sleep(BROKER_DOWN_FOR)  # the outage itself: nothing to wait for
    stack.broker.start()
    back = time.monotonic()

    # A fresh subscriber sees only what the daemon published since (persistence is off).
    subscriptions = (f"{stack.base}/#", f"{stack.prefix}/#")
    with MqttProbe("127.0.0.1", stack.broker.port, subscriptions) as probe:
        expected = {
            f"{stack.base}/bridge/state": lambda m: m.text() == "online",
            stack.topic("wifi", "availability"): lambda m: m.text() == "online",
            stack.topic("serial", "availability"): lambda m: m.text() == "online",
            stack.topic("wifi", "state"): lambda m: isinstance(m.json(), dict),
            stack.topic("serial", "state"): lambda m: isinstance(m.json(), dict),
            "discovery": lambda m: m.topic.startswith(f"{stack.prefix}/") and bool(m.payload),
        }
        late = {}
        for topic, check in expected.items():
            message = probe.wait_for(
                lambda m, topic=topic, check=check: (
                    (topic == "discovery" or m.topic == topic) and check(m)
                ),
                timeout=AVAILABILITY_TIMEOUT,
                what=f"{topic} after the broker restart",
            )
            if message.received - back > REPUBLISH_WITHIN:
                late[topic] = round(message.received - back, 1)
        assert not late, f"re-published later than {REPUBLISH_WITHIN:g} s after the broker: {late}"
        reply = probe.request(
            stack.base, "wifi", {"action": "get_property", "name": "isospeedvalue"}
        )
        assert reply["status"] == "ok", reply


def test_home_assistant_coming_online_gets_discovery_again(stack: Stack) -> None:
    stack.probe.wait_for(
        lambda m: m.topic.startswith(f"{stack.prefix}/device/") and m.payload,
        timeout=READY_TIMEOUT,
        what="discovery at start",
    )
    since = stack.probe.mark()
    stack.probe.publish(f"{stack.prefix}/status", b"online", qos=0)
    for camera in ("wifi", "serial"):
        stack.probe.wait_for(
            lambda m, camera=camera: (
                m.topic.startswith(f"{stack.prefix}/device/")
                and f"{stack.base}/{camera}/" in m.text()
            ),
            timeout=AVAILABILITY_TIMEOUT,
            since=since,
            what=f"{camera} discovery after Home Assistant's birth message",
        )


def test_a_camera_that_goes_away_and_comes_back_flips_availability(stack: Stack) -> None:
    from camera2mqtt.sim.wifi import WifiSimulator

    port = stack.wifi.port
    availability = stack.topic("wifi", "availability")
    since = stack.probe.mark()
    stack.wifi.stop()
    stack.probe.wait_for(
        lambda m: m.topic == availability and m.text() == "offline",
        timeout=AVAILABILITY_TIMEOUT,
        since=since,
        what="wifi availability offline",
    )
    since = stack.probe.mark()
    revived = WifiSimulator("e-m1-iii", port=port)
    revived.start()
    try:
        stack.probe.wait_for(
            lambda m: m.topic == availability and m.text() == "online",
            timeout=AVAILABILITY_TIMEOUT,
            since=since,
            what="wifi availability online again",
        )
        reply = stack.probe.request(stack.base, "wifi", {"action": "shoot"}, timeout=45)
        assert reply["status"] == "ok", reply
        assert revived.state.files
    finally:
        revived.stop()


def test_a_serial_camera_that_stops_answering_and_comes_back_flips_availability(
    stack: Stack,
) -> None:
    availability = stack.topic("serial", "availability")
    # After connecting the daemon takes a first snapshot; let it finish before the fault.
    stack.probe.wait_for(
        lambda m: m.topic == stack.topic("serial", "snapshot"),
        timeout=AVAILABILITY_TIMEOUT,
        what="the serial snapshot taken after connecting",
    )
    since = stack.probe.mark()
    stack.serial.faults.drop_rate = 1.0  # every byte it sends is lost
    stack.probe.wait_for(
        lambda m: m.topic == availability and m.text() == "offline",
        timeout=AVAILABILITY_TIMEOUT,
        since=since,
        what="serial availability offline",
    )
    since = stack.probe.mark()
    stack.serial.faults.drop_rate = 0.0
    stack.probe.wait_for(
        lambda m: m.topic == availability and m.text() == "online",
        timeout=AVAILABILITY_TIMEOUT,
        since=since,
        what="serial availability online again",
    )


def test_a_camera_busy_downloading_is_republished_at_once_after_a_broker_restart(
    stack: Stack,
) -> None:
    stack.wait_online()
    stack.wifi.faults.throttle_bytes_per_s = 100_000  # each picture takes seconds
    try:
        stack.probe.publish(stack.topic("wifi", "set"), {"action": "download", "which": "new"})
        deadline = time.monotonic() + READY_TIMEOUT
        while not any(path.startswith("/DCIM/1") for _, path in stack.wifi.requests):
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.05)
        stack.probe.stop()
        stack.broker.kill()
        time.sleep(BROKER_DOWN_FOR)
        stack.broker.start()
        back = time.monotonic()
        with MqttProbe("127.0.0.1", stack.broker.port, (f"{stack.base}/wifi/#",)) as probe:
            for leaf, check in (("availability", "online"), ("state", None)):
                message = probe.wait_for(
                    lambda m, leaf=leaf, check=check: (
                        m.topic == stack.topic("wifi", leaf) and check in (None, m.text())
                    ),
                    timeout=AVAILABILITY_TIMEOUT,
                    what=f"wifi {leaf} after the broker restart",
                )
                assert message.received - back <= REPUBLISH_WITHIN, (leaf, message.received - back)
            # The download was still running: the republish did not wait for it.
            assert not probe.messages(stack.topic("wifi", "response"))
    finally:
        stack.wifi.faults.throttle_bytes_per_s = None
