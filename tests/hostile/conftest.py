"""A camera worker with the real Wi-Fi driver against the hostile camera, publishing to memory.

Deadlines are small (a fraction of a second per read, a second or two per request) so that
every attack ends quickly; each test checks the worker answers within a bound derived from
them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.config import WifiCameraConfig
from camera2mqtt.mqtt.commands import parse_command
from camera2mqtt.mqtt.topics import Topics
from camera2mqtt.sim.wifi.hostile import HostileCamera
from camera2mqtt.worker import CameraWorker

READ_TIMEOUT = 0.3
"""Seconds a read may wait for data."""
REQUEST_DEADLINE = 1.0
"""Seconds a whole request may take."""
ANSWER_WITHIN = 8.0
"""Seconds a command may take to be answered against any attack: a few requests, each
bounded by REQUEST_DEADLINE, plus the poll that reconnects."""
POLL_INTERVAL = 0.2
LIST_DEADLINE = 20.0
"""Seconds a walk of the card may take (a fan-out is 1,000 quick requests)."""


@dataclass
class Published:
    """Everything a worker publishes, in order, with waiting."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        data = payload.encode() if isinstance(payload, str) else payload
        with self.changed:
            self.messages.append((topic, data))
            self.changed.notify_all()
        return True

    def mark(self) -> int:
        with self.changed:
            return len(self.messages)

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[bytes], bool] = lambda payload: True,
        *,
        after: int = 0,
        timeout: float = ANSWER_WITHIN,
    ) -> bytes:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for seen, payload in self.messages[after:]:
                    if seen == topic and predicate(payload):
                        return payload
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"nothing matching on {topic} within {timeout} s")
                self.changed.wait(remaining)

    def on(self, topic: str) -> list[bytes]:
        with self.changed:
            return [payload for seen, payload in self.messages if seen == topic]


@dataclass
class Rig:
    hostile: HostileCamera
    worker: CameraWorker
    published: Published
    download_dir: Path

    @property
    def topics(self) -> Any:
        return self.worker.topics

    def send(self, body: dict[str, Any]) -> str:
        transaction = f"t{time.monotonic_ns()}"
        command = parse_command(json.dumps({**body, "transaction": transaction}).encode())
        assert self.worker.submit(command)
        return transaction

    def reply(self, transaction: str, *, after: int = 0, timeout: float = ANSWER_WITHIN) -> dict:
        payload = self.published.wait_for(
            self.topics.response,
            lambda p: json.loads(p).get("transaction") == transaction,
            after=after,
            timeout=timeout,
        )
        return json.loads(payload)

    def command(self, body: dict[str, Any], *, timeout: float = ANSWER_WITHIN) -> dict:
        mark = self.published.mark()
        return self.reply(self.send(body), after=mark, timeout=timeout)

    def wait_availability(self, value: str, *, after: int = 0) -> None:
        self.published.wait_for(
            self.topics.availability, lambda p: p.decode() == value, after=after
        )

    def state(self) -> dict:
        return json.loads(self.published.on(self.topics.state)[-1])


def hostile_driver(host: str, port: int, **options: Any) -> WifiCamera:
    """The Wi-Fi driver with short timeouts (the hostile camera never streams live view)."""
    return WifiCamera(
        host,
        port,
        **{
            "timeout": READ_TIMEOUT,
            "status_timeout": READ_TIMEOUT,
            "deadline": REQUEST_DEADLINE,
            "liveview_timeout": READ_TIMEOUT,
            **options,
        },
    )


@pytest.fixture
def hostile() -> Iterator[HostileCamera]:
    with HostileCamera() as camera:
        yield camera


@pytest.fixture
def rig(hostile: HostileCamera, tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(hostile, tmp_path)


def make_rig(
    hostile: HostileCamera, tmp_path: Path, *, driver: dict[str, Any] | None = None, **config: Any
) -> Iterator[Rig]:
    """A started worker for ``hostile`` (``config``: WifiCameraConfig fields, ``driver``:
    WifiCamera options); stopped when the iterator is resumed."""
    options = {"min_transfer_rate": 50_000, "list_deadline": LIST_DEADLINE, **(driver or {})}
    cfg = WifiCameraConfig(
        name="cam",
        host="127.0.0.1",
        port=hostile.port,
        timeout=READ_TIMEOUT,
        poll_interval=POLL_INTERVAL,
        download_dir=tmp_path / "photos",
        **config,
    )
    published = Published()
    worker = CameraWorker(
        cfg,
        Topics("t", "ha").camera("cam"),
        published,
        camera_factory=lambda c: hostile_driver(c.host, c.port, **options),
    )
    worker.start()
    try:
        yield Rig(hostile, worker, published, cfg.download_dir)
    finally:
        worker.request_stop()
        assert worker.join(LIST_DEADLINE + 5), "the worker did not stop"
