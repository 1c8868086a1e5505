"""A plain paho client for tests: records every message it sees and waits for them."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.daemon.mqtt_probe import disable_nagle

WAIT = 30.0


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool


class Recorder:
    def __init__(self, port: int, subscriptions: tuple[str, ...] = ("#",)) -> None:
        self.messages: list[Message] = []
        self._changed = threading.Condition()
        self._subscriptions = subscriptions
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"rec-{uuid.uuid4().hex}")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        if not self._subscribed.wait(WAIT):
            raise TimeoutError("the test recorder could not subscribe")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        disable_nagle(client)
        client.subscribe([(topic, 1) for topic in self._subscriptions])

    def _on_message(self, client, userdata, message) -> None:
        with self._changed:
            self.messages.append(Message(message.topic, message.payload, bool(message.retain)))
            self._changed.notify_all()

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(WAIT)

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Message], bool] = lambda message: True,
        *,
        after: int = 0,
        timeout: float = WAIT,
    ) -> Message:
        """The first message on ``topic`` at index >= ``after`` matching ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages[after:]:
                    if message.topic == topic and predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({m.topic for m in self.messages})
                    raise TimeoutError(f"no matching message on {topic}; topics seen: {seen}")
                self._changed.wait(remaining)

    def mark(self) -> int:
        with self._changed:
            return len(self.messages)

    def on(self, topic: str) -> list[Message]:
        with self._changed:
            return [message for message in self.messages if message.topic == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
