"""The announcer's rules with an injected clock and a recording publisher (no broker)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera2mqtt.homeassistant import Announcer, HomeAssistantStore
from camera2mqtt.statedb import StateDB

DEBOUNCE = 5.0
TOPIC = "ha/device/c2m_cam/config"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Broker:
    """Records what was published, with the clock time; can refuse like a lost connection."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, bytes]] = []
        self.connected = True

    def publish(self, topic: str, payload: bytes) -> bool:
        if not self.connected:
            return False
        self.sent.append((self.clock(), topic, payload))
        return True

    def on(self, topic: str) -> list[bytes]:
        return [payload for _, t, payload in self.sent if t == topic]


def device(*components: str) -> bytes:
    config = {
        "device": {"identifiers": ["c2m_cam"], "name": "cam"},
        "origin": {"name": "camera2mqtt"},
        "components": {key: {"platform": "sensor", "unique_id": key} for key in components},
    }
    return json.dumps(config, separators=(",", ":")).encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HomeAssistantStore]:
    with StateDB(tmp_path / "state.sqlite3") as db:
        yield HomeAssistantStore(db)


def make(store: HomeAssistantStore, owners=("cam", "bridge")) -> tuple[Announcer, Broker, Clock]:
    clock = Clock()
    broker = Broker(clock)
    announcer = Announcer(broker.publish, store, owners=owners, debounce=DEBOUNCE, clock=clock)
    return announcer, broker, clock


def assert_debounced(broker: Broker) -> None:
    last: dict[str, tuple[float, bytes]] = {}
    for when, topic, payload in broker.sent:
        if topic in last and last[topic][1] != payload:
            assert when - last[topic][0] >= DEBOUNCE, (topic, when - last[topic][0])
        last[topic] = (when, payload)


def test_nothing_before_the_owner_decides_then_once(store: HomeAssistantStore) -> None:
    announcer, broker, _clock = make(store)
    announcer.tick()
    assert broker.sent == []
    announcer.want("cam", {TOPIC: device("a", "b")})
    announcer.want("cam", {TOPIC: device("a", "b")})  # the same again: nothing new
    announcer.tick()
    assert broker.on(TOPIC) == [device("a", "b")]


def test_a_change_waits_and_only_the_newest_goes_out(store: HomeAssistantStore) -> None:
    announcer, broker, clock = make(store)
    announcer.want("cam", {TOPIC: device("a")})
    clock.now += 1
    announcer.want("cam", {TOPIC: device("a", "b")})
    clock.now += 1
    announcer.want("cam", {TOPIC: device("a", "b", "c")})
    assert broker.on(TOPIC) == [device("a")]
    assert announcer.next_due() == 105.0
    clock.now = 105.0
    announcer.tick()
    assert broker.on(TOPIC) == [device("a"), device("a", "b", "c")]
    assert announcer.next_due() == float("inf")
    assert_debounced(broker)


def test_resend_repeats_the_same_bytes_and_holds_changes(store: HomeAssistantStore) -> None:
    announcer, broker, clock = make(store)
    announcer.want("cam", {TOPIC: device("a")})
    clock.now += 2
    announcer.resend()
    assert broker.on(TOPIC) == [device("a"), device("a")]
    announcer.want("cam", {TOPIC: device("a", "b")})
    clock.now += 1
    announcer.resend()  # a change is pending: the old config is not repeated either
    assert broker.on(TOPIC) == [device("a"), device("a")]
    clock.now += DEBOUNCE
    announcer.tick()
    assert broker.on(TOPIC)[-1] == device("a", "b")
    assert_debounced(broker)


def test_a_removed_component_becomes_a_placeholder_then_goes(store: HomeAssistantStore) -> None:
    announcer, broker, clock = make(store)
    announcer.want("cam", {TOPIC: device("a", "b")})
    clock.now += DEBOUNCE
    announcer.want("cam", {TOPIC: device("a")})
    placeholder = json.loads(broker.on(TOPIC)[-1])
    assert placeholder["components"]["b"] == {"p": "sensor"}
    assert "platform" in placeholder["components"]["a"]
    clock.now += DEBOUNCE
    announcer.tick()
    assert broker.on(TOPIC)[-1] == device("a")
    assert_debounced(broker)


def test_a_restart_knows_what_the_broker_holds(store: HomeAssistantStore) -> None:
    first, broker, _ = make(store, owners=("cam", "old", "bridge"))
    first.want("cam", {TOPIC: device("a")})
    first.want("old", {"ha/device/c2m_old/config": device("x")})
    # Next start: "old" is gone from the configuration, "cam" is unchanged.
    second, broker, _clock = make(store)
    second.tick()
    assert broker.on("ha/device/c2m_old/config") == [b""]  # cleared at once
    second.want("cam", {TOPIC: device("a")})
    assert broker.on(TOPIC) == []  # the broker already has it
    second.resend()
    assert broker.on(TOPIC) == [device("a")]
    assert {sent.topic for sent in store.sent_configs()} == {TOPIC}


def test_nothing_is_recorded_while_disconnected(store: HomeAssistantStore) -> None:
    announcer, broker, _clock = make(store)
    broker.connected = False
    announcer.want("cam", {TOPIC: device("a")})
    assert store.sent_configs() == []
    broker.connected = True
    announcer.resend()
    announcer.tick()
    assert broker.on(TOPIC) == [device("a")]


def test_legacy_json_files_are_read_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "cameras.json").write_text(json.dumps({"cameras": {"cam": {"model": "TG-5"}}}))
    (state / "discovery.json").write_text(json.dumps({"discovery_topics": [TOPIC]}))
    with StateDB.in_state_dir(state) as db:
        store = HomeAssistantStore(db, state_dir=state)
        assert store.learned() == {"cam": {"model": "TG-5"}}
        announcer, broker, _clock = make(store)
        # The old topic belongs to whoever wants it now; nobody else clears it.
        announcer.want("cam", {TOPIC: device("a")})
        announcer.want("bridge", {})
        assert broker.on(TOPIC) == [device("a")]
    assert not (state / "cameras.json").exists()
    assert not (state / "discovery.json").exists()
