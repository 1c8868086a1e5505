"""LiveControl over loopback: the Wi-Fi simulator's live view relayed to a StreamReceiver
while started, the state it keeps, and a camera that goes away while watched."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from camera2mqtt.camera_state import CameraState
from camera2mqtt.cameras.base import Camera, CameraUnreachable
from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.config import LiveViewConfig, StreamConfig, WifiCameraConfig
from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.sim.wifi import WifiSimulator
from camera2mqtt.sim.wifi.liveview import RtpStreamer
from camera2mqtt.stream.control import LiveControl
from camera2mqtt.stream.live import RETRY_INTERVAL
from camera2mqtt.stream.receiver import StreamReceiver
from tests.conftest import WIFI_MODEL
from tests.stream.helpers import Collector, ServicePump


class Worker(ServicePump):
    """What the camera's worker does for a LiveControl: services it on one thread when woken
    or when the delay it asked for has passed, and counts what it was told."""

    def __init__(self, camera: Camera, tmp_path: Path, *, targets: tuple[str, ...]) -> None:
        super().__init__(camera)
        self.camera = camera
        self.states: list[bool] = []
        self.lost = 0
        self.state = CameraState()
        self.control = LiveControl(
            WifiCameraConfig(
                name="cam",
                download_dir=tmp_path,
                stream=StreamConfig(targets=targets),
                liveview=LiveViewConfig(size="0320x0240"),
            ),
            state=self.state,
            publish_state=lambda: self.states.append(self.state.streaming),
            wake=self.wake,
            lost=self._lose,
        )

    def connect(self) -> Camera:
        return self.camera

    def service(self, camera: Camera | None) -> float:
        return self.control.service(camera)

    def close(self) -> None:
        self.control.close()

    def _lose(self) -> None:
        self.lost += 1


def test_the_relay_sends_live_frames_between_start_and_stop(
    camera: WifiCamera, streamer: RtpStreamer, tmp_path: Path
) -> None:
    frames = Collector()
    with StreamReceiver("127.0.0.1", 0, on_frame=frames) as receiver:
        target = f"udp://127.0.0.1:{receiver.port}"
        with Worker(camera, tmp_path, targets=(target,)) as worker:
            control = worker.control
            assert control.start_relay(worker.connect) == {"streaming": True, "targets": [target]}
            assert worker.states == [True]
            # Starting a running relay again changes nothing.
            assert control.start_relay(worker.connect) == {"streaming": True, "targets": [target]}
            assert worker.states == [True]
            assert frames.wait_for(lambda items: len(items) >= 3)
            reply = control.stop_relay()
            # The count of the frame being sent as the third arrived may lag behind.
            assert reply["streaming"] is False and reply["frames_sent"] >= 2
            assert worker.states == [True, False] and not worker.state.streaming
            # Nobody watches now: the worker's next service stops the camera's live view.
            assert worker.wait_for(lambda: not streamer.running)
            assert control.stop_relay() == {"streaming": False, "frames_sent": 0}
    sent = set(streamer.sent_frames().values())
    assert all(frame.payload in sent for frame in frames.items)
    assert worker.lost == 0


def test_start_without_targets_fails_before_the_camera_is_asked(tmp_path: Path) -> None:
    asked: list[bool] = []

    def connect() -> Camera:
        asked.append(True)
        raise AssertionError("not reached")

    control = LiveControl(
        WifiCameraConfig(name="cam", download_dir=tmp_path),
        state=CameraState(),
        publish_state=lambda: asked.append(False),
        wake=lambda: None,
        lost=lambda: None,
    )
    with pytest.raises(Camera2MqttError, match="No stream targets are configured"):
        control.start_relay(connect)
    assert asked == []


def test_an_unreachable_camera_fails_the_start_and_leaves_nothing_running(tmp_path: Path) -> None:
    published: list[Any] = []

    def connect() -> Camera:
        raise CameraUnreachable("The camera does not answer.")

    control = LiveControl(
        WifiCameraConfig(
            name="cam", download_dir=tmp_path, stream=StreamConfig(targets=("udp://127.0.0.1:9",))
        ),
        state=CameraState(),
        publish_state=lambda: published.append(True),
        wake=lambda: None,
        lost=lambda: None,
    )
    with pytest.raises(CameraUnreachable):
        control.start_relay(connect)
    assert published == [] and not control.feed.hub.watched
    assert control.stop_relay() == {"streaming": False, "frames_sent": 0}


def test_a_camera_gone_while_watched_is_reported_lost(tmp_path: Path) -> None:
    lost: list[bool] = []
    control = LiveControl(
        WifiCameraConfig(name="cam", download_dir=tmp_path),
        state=CameraState(),
        publish_state=lambda: None,
        wake=lambda: None,
        lost=lambda: lost.append(True),
    )
    with WifiSimulator(WIFI_MODEL, liveview=RtpStreamer()) as simulator:
        camera = WifiCamera("127.0.0.1", simulator.port, timeout=2.0)
        camera.connect()
    unsubscribe = control.feed.hub.subscribe(lambda frame: None)
    try:
        assert control.service(camera) == RETRY_INTERVAL
    finally:
        unsubscribe()
        control.close()
        camera.close()
    assert lost == [True]
    # Watched by nobody and with no camera, the feed has nothing to do until woken.
    assert control.service(None) == math.inf
