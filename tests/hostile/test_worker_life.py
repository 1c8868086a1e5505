"""A failure inside a job or the loop is reported and the worker carries on; a worker thread
that dies anyway is restarted by the service, which says so in its status."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from camera2mqtt.cameras.base import CameraStatus
from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.config import Config, MqttConfig, WifiCameraConfig
from camera2mqtt.mqtt.topics import Topics
from camera2mqtt.service import Service
from camera2mqtt.sim.wifi.hostile import HostileCamera
from camera2mqtt.worker import CameraWorker
from tests.hostile.conftest import (
    ANSWER_WITHIN,
    POLL_INTERVAL,
    READ_TIMEOUT,
    REQUEST_DEADLINE,
    Published,
    hostile_driver,
)

JOIN_TIMEOUT = 5.0


class _BuggyOnce(WifiCamera):
    """The real driver whose first status() hits a bug (as a UnicodeError or a
    RecursionError escaping a parser once did)."""

    failures = 1

    def status(self) -> CameraStatus:
        if _BuggyOnce.failures:
            _BuggyOnce.failures -= 1
            raise RecursionError("maximum recursion depth exceeded")
        return super().status()


def _config(hostile_port: int, tmp_path: Path) -> WifiCameraConfig:
    return WifiCameraConfig(
        name="cam",
        host="127.0.0.1",
        port=hostile_port,
        poll_interval=POLL_INTERVAL,
        download_dir=tmp_path / "photos",
    )


def test_a_bug_in_a_poll_is_reported_and_the_camera_reconnects(
    hostile: HostileCamera, tmp_path: Path
) -> None:
    published = Published()
    factory_calls = []

    def factory(cfg: WifiCameraConfig) -> WifiCamera:
        factory_calls.append(cfg.name)
        return _BuggyOnce(
            cfg.host,
            cfg.port,
            timeout=READ_TIMEOUT,
            status_timeout=READ_TIMEOUT,
            deadline=REQUEST_DEADLINE,
            liveview_timeout=READ_TIMEOUT,
        )

    worker = CameraWorker(
        _config(hostile.port, tmp_path),
        Topics("t", "ha").camera("cam"),
        published,
        camera_factory=factory,
    )
    topics = worker.topics
    worker.start()
    try:
        event = published.wait_for(topics.event, lambda p: b'"error"' in p)
        assert json.loads(event)["error"] == "Internal error (RecursionError); see the log."
        offline = published.wait_for(topics.availability, lambda p: p == b"offline")
        assert offline
        after = published.mark()
        published.wait_for(topics.availability, lambda p: p == b"online", after=after)
        assert worker.alive
        assert len(factory_calls) == 2  # a fresh driver after the failure
        state = json.loads(published.on(topics.state)[-1])
        assert state["last_error"] == "Internal error (RecursionError); see the log."
    finally:
        worker.request_stop()
        assert worker.join(JOIN_TIMEOUT)


def test_a_dead_worker_is_restarted_by_the_service(
    hostile: HostileCamera, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []
    first_call = threading.Event()

    def factory(cfg: WifiCameraConfig) -> WifiCamera:
        calls.append(cfg.name)
        if len(calls) == 1:
            first_call.set()
            raise SystemExit  # nothing the worker catches: its thread ends
        return hostile_driver(cfg.host, cfg.port)

    config = Config(
        mqtt=MqttConfig(host="127.0.0.1", port=1, base_topic="t"),
        cameras=(_config(hostile.port, tmp_path),),
        state_dir=tmp_path / "state",
        photos_dir=tmp_path / "photos",
    )
    service = Service(config, camera_factory=factory)
    worker = service.workers["cam"]
    worker.start()
    try:
        assert first_call.wait(ANSWER_WITHIN)
        assert worker.join(JOIN_TIMEOUT), "the worker should have died"
        assert not worker.alive
        assert worker.available_text == "offline"  # a dead worker's camera is not online
        assert service.restart_dead_workers() == ["cam"]  # what the watchdog tick does
        assert worker.alive
        assert worker.restarts == 1
        assert "had died; restarted it" in caplog.text
        assert service.restart_dead_workers() == []  # alive: nothing to do
        assert "(worker restarted 1x)" in service._status_line()
    finally:
        worker.request_stop()
        assert worker.join(JOIN_TIMEOUT)
    assert not worker.restart()  # stopped on purpose: not restarted
