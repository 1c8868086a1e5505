"""Topic layout and the Home Assistant discovery payload."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from camera2mqtt.cameras.base import CameraInfo, Capability, Property
from camera2mqtt.mqtt.discovery import (
    READINGS,
    CameraDescription,
    discovery_topic,
    render_device,
)
from camera2mqtt.mqtt.jpeg import ImageTooLarge, fit_jpeg, jpeg_dimensions
from camera2mqtt.mqtt.topics import Topics
from camera2mqtt.sim.images import make_jpeg


def test_camera_topics() -> None:
    topics = Topics("c2m")
    cam = topics.camera("tg5")
    assert cam.set == "c2m/tg5/set"
    assert cam.last_photo == "c2m/tg5/last_photo"
    assert topics.bridge_state == "c2m/bridge/state"
    assert topics.command_filter == "c2m/+/set"
    assert topics.camera_of_command("c2m/tg5/set") == "tg5"
    assert topics.camera_of_command("c2m/bridge/set") is None
    assert topics.camera_of_command("c2m/a/b/set") is None
    assert topics.camera_of_command("other/tg5/set") is None


@pytest.mark.parametrize("name", ["", "a/b", "a+", "#", "bridge"])
def test_bad_camera_names(name: str) -> None:
    with pytest.raises(ValueError):
        Topics().camera(name)


def test_base_and_prefix_must_differ() -> None:
    with pytest.raises(ValueError):
        Topics("homeassistant", "homeassistant")


FULL = CameraInfo("TG-5", manufacturer="OM", firmware="1.3", capabilities=frozenset(Capability))


def describe(**overrides: object) -> CameraDescription:
    values: dict = {"name": "tg5", "kind": "wifi", "info": FULL, "readings": frozenset(READINGS)}
    values.update(overrides)
    return CameraDescription(**values)


def test_device_payload_shape() -> None:
    topics = Topics(discovery_prefix="ha")
    payload = render_device(describe(), topics)
    assert discovery_topic(topics, "tg5") == "ha/device/camera2mqtt_tg5/config"
    assert payload["device"]["identifiers"] == ["camera2mqtt_tg5"]
    assert payload["device"]["model"] == "TG-5"
    assert payload["origin"]["name"] == "camera2mqtt"
    assert {"sw_version", "support_url"} <= set(payload["origin"])
    components = payload["components"]
    unique_ids = [c["unique_id"] for c in components.values()]
    assert len(unique_ids) == len(set(unique_ids))
    assert components["shoot"]["payload_press"] == '{"action":"shoot"}'
    assert components["live_view"]["platform"] == "camera"
    assert components["live_view"]["topic"] == "camera2mqtt/tg5/snapshot"
    assert components["last_photo"]["content_type"] == "image/jpeg"
    assert components["last_photo_time"]["device_class"] == "timestamp"
    assert components["battery"]["device_class"] == "battery"
    assert components["connectivity"]["state_topic"] == "camera2mqtt/tg5/availability"
    shoot_availability = [a["topic"] for a in components["shoot"]["availability"]]
    assert shoot_availability == ["camera2mqtt/bridge/state", "camera2mqtt/tg5/availability"]
    assert components["shoot"]["availability_mode"] == "all"
    assert "power_off" not in components
    for component in components.values():
        assert component["default_entity_id"].startswith(component["platform"] + ".")
    json.dumps(payload)


def test_power_off_button_only_when_allowed() -> None:
    assert "power_off" in render_device(describe(allow_power_off=True), Topics())["components"]


def test_unknown_camera_gets_the_basic_entities() -> None:
    components = render_device(describe(info=None, readings=frozenset()), Topics())["components"]
    assert {"shoot", "connectivity", "last_photo", "photo_taken"} <= set(components)
    assert "live_view" not in components
    assert "set_clock" not in components
    # No sensor before the camera has given it a value.
    assert not {"battery", "frames_left", "free_space", "last_photo_time"} & set(components)


def test_selects_from_property_allowed_values() -> None:
    props = (
        Property("takemode", "P", ("iAuto", "P", "A"), writable=True),
        Property("imagesize", "4608x3456", ("4608x3456", "1280x960"), writable=True),
        Property("isospeedvalue", "200", ("200", "400"), writable=True),
        Property("resolution", "hi", ("hi",), writable=False),
    )
    components = render_device(describe(properties=props), Topics())["components"]
    take = components["select_takemode"]
    assert take["options"] == ["iAuto", "P", "A"]
    rendered = take["command_template"].replace("{{ value | tojson }}", '"A"')
    assert json.loads(rendered) == {"action": "set_property", "name": "takemode", "value": "A"}
    assert components["select_imagesize"]["name"] == "Resolution"
    assert "select_isospeedvalue" not in components
    assert "select_resolution" not in components


def test_fit_jpeg_respects_size_and_bytes() -> None:
    big = make_jpeg(1600, 1200, "x", seed=3)
    for limit in (60_000, 8_000, 2_000):
        small = fit_jpeg(big, 320, limit)
        assert len(small) <= limit
        with Image.open(io.BytesIO(small)) as image:
            assert max(image.size) <= 320


def test_fit_jpeg_rejects_garbage_and_impossible_limits() -> None:
    with pytest.raises(ImageTooLarge):
        fit_jpeg(b"nope", 320, 10_000)
    with pytest.raises(ImageTooLarge):
        fit_jpeg(make_jpeg(64, 64, "x"), 64, 10)


def test_learned_round_trip_and_bad_data() -> None:
    props = (Property("takemode", "", ("P", "A"), writable=True),)
    known = describe(properties=props)
    blank = describe(info=None)
    restored = blank.with_learned(json.loads(json.dumps(known.learned())))
    assert render_device(restored, Topics()) == render_device(known, Topics())
    assert blank.learned() is None
    for bad in (None, [], {"model": "x"}, {**known.learned(), "capabilities": ["fly"]}):
        assert blank.with_learned(bad) == blank


def test_a_jpeg_that_already_fits_is_kept_as_it_is() -> None:
    thumbnail = make_jpeg(160, 120, "thumb")
    assert jpeg_dimensions(thumbnail) == (160, 120)
    assert fit_jpeg(thumbnail, 320, len(thumbnail)) is thumbnail
    assert fit_jpeg(thumbnail, 100, 1_000_000) != thumbnail  # too wide: scaled down
    assert jpeg_dimensions(fit_jpeg(thumbnail, 100, 1_000_000)) == (100, 75)
    assert jpeg_dimensions(b"\xff\xd8\xff\xda") is None
    assert jpeg_dimensions(b"not a jpeg") is None
