"""The Wi-Fi driver against the hostile camera: every attack ends in a camera error, within
the request's deadline, with memory bounded by the reply caps."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import pytest

from camera2mqtt.cameras.base import CameraError, CameraTimeout, ProtocolError
from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.cameras.wifi.camera import IMGLIST_REPLY_BYTES, THUMBNAIL_REPLY_BYTES
from camera2mqtt.sim.wifi.hostile import Attack, HostileCamera
from tests.hostile.conftest import READ_TIMEOUT, REQUEST_DEADLINE, hostile_driver

# A request ends at its deadline plus at most one read's wait (the slice in progress).
LATEST = REQUEST_DEADLINE + READ_TIMEOUT + 0.5
MEMORY_BOUND = 3 * IMGLIST_REPLY_BYTES
"""Peak bytes allocated while a flood is refused: the largest cap, copied once, with room."""


@pytest.fixture
def camera(hostile: HostileCamera) -> WifiCamera:
    driver = hostile_driver("127.0.0.1", hostile.port)
    driver.connect()
    return driver


def _fails_within(operation: Callable[[], object], error: type[CameraError]) -> CameraError:
    started = time.monotonic()
    with pytest.raises(error) as caught:
        operation()
    assert time.monotonic() - started < LATEST
    return caught.value


def _peak_while(operation: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(CameraError):
            operation()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("attack", [Attack.ENCODING_UNDEFINED, Attack.ENCODING_IDNA])
def test_an_unusable_encoding_declaration_is_read_as_utf8(
    hostile: HostileCamera, attack: Attack
) -> None:
    hostile.attack("get_commandlist", attack)
    hostile.attack("get_caminfo", attack)
    driver = hostile_driver("127.0.0.1", hostile.port)
    assert driver.connect().model == "E-M1MarkIII"
    assert "get_imglist" in driver.commands


def test_a_command_list_nested_3000_deep_is_a_protocol_error(hostile: HostileCamera) -> None:
    hostile.attack("get_commandlist", Attack.DEEP_NESTING)
    driver = hostile_driver("127.0.0.1", hostile.port)
    error = _fails_within(driver.connect, ProtocolError)
    assert "levels deep" in str(error)


@pytest.mark.parametrize(
    ("target", "operation"),
    [
        ("get_commandlist", lambda camera, ref: hostile_driver(camera.host, camera.port).connect()),
        ("get_unusedcapacity", lambda camera, ref: camera.status()),
        ("get_imglist", lambda camera, ref: camera.list_images()),
        ("get_thumbnail", lambda camera, ref: camera.thumbnail(ref)),
    ],
)
def test_a_trickled_reply_ends_at_the_deadline(
    camera: WifiCamera, hostile: HostileCamera, target: str, operation
) -> None:
    ref = camera.list_images()[0]
    hostile.attack(target, Attack.TRICKLE)
    error = _fails_within(lambda: operation(camera, ref), CameraTimeout)
    assert "deadline" in str(error) or "in time" in str(error)


def test_an_endless_image_list_is_cut_at_its_cap_with_memory_bounded(
    camera: WifiCamera, hostile: HostileCamera
) -> None:
    hostile.attack("get_imglist", Attack.ENDLESS)
    peak = _peak_while(camera.list_images)
    assert peak < MEMORY_BOUND, peak
    error = _fails_within(camera.list_images, ProtocolError)
    assert f"larger than the {IMGLIST_REPLY_BYTES} bytes allowed" in str(error)


@pytest.mark.parametrize("attack", [Attack.HUGE_THUMBNAIL, Attack.ENDLESS])
def test_a_huge_thumbnail_is_refused_with_memory_bounded(
    camera: WifiCamera, hostile: HostileCamera, attack: Attack
) -> None:
    ref = camera.list_images()[0]
    hostile.attack("get_thumbnail", attack)
    peak = _peak_while(lambda: camera.thumbnail(ref))
    assert peak < 3 * THUMBNAIL_REPLY_BYTES, peak
    error = _fails_within(lambda: camera.thumbnail(ref), ProtocolError)
    assert f"larger than the {THUMBNAIL_REPLY_BYTES} bytes allowed" in str(error)


def test_a_fanning_folder_tree_stops_at_the_folder_cap(
    camera: WifiCamera, hostile: HostileCamera
) -> None:
    hostile.attack("get_imglist", Attack.FAN_OUT)
    before = hostile.count("get_imglist")
    with pytest.raises(ProtocolError, match="more than 1000 folders"):
        camera.list_images()
    assert hostile.count("get_imglist") - before == 1000


def test_a_slow_fanning_tree_stops_at_the_listing_deadline(hostile: HostileCamera) -> None:
    driver = hostile_driver("127.0.0.1", hostile.port, list_deadline=0.5)
    driver.connect()
    hostile.attack("get_imglist", Attack.FAN_OUT)
    started = time.monotonic()
    with pytest.raises(CameraTimeout, match=r"Listing the card took more than 0\.5 s"):
        driver.list_images()
    assert time.monotonic() - started < 0.5 + LATEST
