"""A test-side MQTT client that records everything it sees and waits for messages on events."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

CONNECT_TIMEOUT = 15.0
PUBLISH_TIMEOUT = 15.0


def disable_nagle(client: mqtt.Client) -> None:
    """TCP_NODELAY on a connected test client. Without it Nagle holds a publish back while an
    earlier segment waits for the broker's delayed ACK (about 40 ms on Linux), so a run of
    commands crawls at 20-50 ms each."""
    sock = client.socket()
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    received: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.payload)

    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


class MqttProbe:
    """Subscribes to some topic filters and keeps every message, in order of arrival."""

    def __init__(self, host: str, port: int, subscriptions: tuple[str, ...] = ("#",)) -> None:
        self._host = host
        self._port = port
        self._subscriptions = subscriptions
        self._messages: list[Message] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"test-probe-{uuid.uuid4().hex[:10]}"
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        disable_nagle(client)
        if not reason_code.is_failure:
            client.subscribe([(topic, 1) for topic in self._subscriptions])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        self._subscribed.set()

    def _on_message(self, client, userdata, message) -> None:
        entry = Message(
            message.topic, bytes(message.payload), bool(message.retain), time.monotonic()
        )
        with self._changed:
            self._messages.append(entry)
            self._changed.notify_all()

    def start(self, timeout: float = CONNECT_TIMEOUT) -> MqttProbe:
        self._client.connect_async(self._host, self._port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise AssertionError(f"test probe could not subscribe on {self._host}:{self._port}")
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> MqttProbe:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def publish(
        self, topic: str, payload: bytes | str | dict, *, retain: bool = False, qos: int = 1
    ) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(PUBLISH_TIMEOUT)
            assert info.is_published(), f"publishing to {topic} was not acknowledged"

    def mark(self) -> int:
        """Position to pass as ``since`` to look only at messages received from now on."""
        with self._changed:
            return len(self._messages)

    def messages(self, topic: str | None = None, since: int = 0) -> list[Message]:
        with self._changed:
            found = self._messages[since:]
        return [m for m in found if topic is None or m.topic == topic]

    def wait_for(
        self,
        predicate: Callable[[Message], bool],
        *,
        timeout: float,
        since: int = 0,
        what: str = "a matching message",
    ) -> Message:
        """The first message from ``since`` on that satisfies predicate; fails after timeout."""
        deadline = time.monotonic() + timeout
        checked = since
        with self._changed:
            while True:
                for message in self._messages[checked:]:
                    if _safe(predicate, message):
                        return message
                checked = len(self._messages)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({m.topic for m in self._messages[since:]})
                    raise AssertionError(f"no {what} within {timeout:g} s; topics seen: {seen}")
                self._changed.wait(remaining)

    def wait_topic(self, topic: str, *, timeout: float, since: int = 0) -> Message:
        return self.wait_for(lambda m: m.topic == topic, timeout=timeout, since=since, what=topic)

    def request(
        self, base: str, camera: str, command: dict, *, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Publish a command with a fresh transaction and return the JSON reply to it."""
        transaction = command.get("transaction") or uuid.uuid4().hex[:12]
        command = {**command, "transaction": transaction}
        since = self.mark()
        self.publish(f"{base}/{camera}/set", command)
        reply = self.wait_for(
            lambda m: (
                m.topic == f"{base}/{camera}/response"
                and m.json().get("transaction") == transaction
            ),
            timeout=timeout,
            since=since,
            what=f"reply to {command['action']} on {base}/{camera}/response",
        )
        return reply.json()


def _safe(predicate: Callable[[Message], bool], message: Message) -> bool:
    try:
        return bool(predicate(message))
    except (ValueError, TypeError, AttributeError, KeyError):
        return False
