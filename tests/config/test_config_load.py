"""Valid configurations load into the typed objects, with defaults, env values and files."""

from __future__ import annotations

import dataclasses
import logging
import re
import socket
from pathlib import Path

import pytest

from camera2mqtt.config import (
    AllowConfig,
    CameraConfig,
    Config,
    ConfigError,
    LiveViewConfig,
    MqttConfig,
    ScheduleConfig,
    SerialCameraConfig,
    SnapshotConfig,
    TlsConfig,
    WifiCameraConfig,
    load_config,
    parse_config,
    redacted,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "camera2mqtt.example.yaml"
DEMO = ROOT / "config" / "demo.yaml"
SECRET = "s3cr3t-Pa55word"

MINIMAL = "cameras:\n  garden:\n    type: wifi\n"


def test_a_minimal_config_gets_every_default() -> None:
    config = parse_config(MINIMAL, environ={})
    assert config.mqtt == MqttConfig(client_id=config.mqtt.client_id)
    assert config.mqtt.host == "localhost" and config.mqtt.port == 1883
    assert config.mqtt.client_id.startswith("camera2mqtt-")
    assert config.mqtt.tls is None and config.mqtt.password is None
    assert config.log_level == "INFO"
    assert config.state_dir == Path("/var/lib/camera2mqtt")
    assert config.photos_dir == Path("/var/lib/camera2mqtt/photos")
    (camera,) = config.cameras
    assert isinstance(camera, WifiCameraConfig)
    assert camera == WifiCameraConfig(name="garden", download_dir=config.photos_dir / "garden")
    assert camera.host == "192.168.0.10" and camera.port == 80 and camera.timeout == 5.0
    assert camera.allow == AllowConfig(erase=False, power_off=False, raw=False)
    assert camera.snapshot == SnapshotConfig(interval=0, size=640, max_bytes=200_000)
    assert camera.liveview == LiveViewConfig(port=0, size="0640x0480")
    assert camera.schedule == ScheduleConfig()
    assert config.camera("garden") is camera


def test_the_default_client_id_is_the_host_name() -> None:
    expected = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())
    assert MqttConfig().client_id == f"camera2mqtt-{expected}"


def test_a_full_config_is_typed(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("ca")
    (tmp_path / "client.crt").write_text("cert")
    (tmp_path / "client.key").write_text("key")
    text = """\
log_level: debug
state_dir: state
photos_dir: /srv/photos
mqtt:
  host: broker.lan
  port: 8883
  username: 1234
  password: "0042"
  tls:
    ca: ca.crt
    cert: client.crt
    key: client.key
    insecure: yes
  client_id: cam-bridge
  keepalive: 30
  base_topic: home/cameras
  qos: 2
  discovery: off
  discovery_prefix: ha
  max_payload_bytes: 500000
cameras:
  garden-1:
    type: wifi
    host: 127.0.0.1
    port: 8080
    timeout: 2
    liveview: {port: 40000, size: 0320x0240}
    poll_interval: 2.5
    snapshot: {interval: 1, size: 320, max_bytes: 50000}
    allow: {erase: true, power_off: true, raw: true}
    schedule: {timelapse_interval: 60, sync_at: ["02:00", "14:30"], sync_on_connect: true}
    download_dir: garden
  attic_2:
    type: serial
    port: socket://127.0.0.1:4000
    speed: 19200
    model: Olympus C-2000Z
"""
    config_file = tmp_path / "camera2mqtt.yaml"
    config_file.write_text(text)
    config = load_config(config_file, environ={})
    assert config.log_level == "DEBUG"
    assert config.state_dir == tmp_path / "state"
    assert config.photos_dir == Path("/srv/photos")
    mqtt = config.mqtt
    assert (mqtt.host, mqtt.port) == ("broker.lan", 8883)
    assert (mqtt.username, mqtt.password) == ("1234", "0042")
    assert mqtt.tls == TlsConfig(
        ca=tmp_path / "ca.crt",
        cert=tmp_path / "client.crt",
        key=tmp_path / "client.key",
        insecure=True,
    )
    assert (mqtt.client_id, mqtt.keepalive, mqtt.base_topic, mqtt.qos) == (
        "cam-bridge",
        30,
        "home/cameras",
        2,
    )
    assert (mqtt.discovery, mqtt.discovery_prefix, mqtt.max_payload_bytes) == (False, "ha", 500000)
    garden, attic = config.cameras
    assert isinstance(garden, WifiCameraConfig) and isinstance(attic, SerialCameraConfig)
    assert (garden.host, garden.port, garden.timeout) == ("127.0.0.1", 8080, 2.0)
    assert garden.liveview == LiveViewConfig(port=40000, size="0320x0240")
    assert garden.poll_interval == 2.5
    assert garden.snapshot == SnapshotConfig(interval=1.0, size=320, max_bytes=50000)
    assert garden.allow == AllowConfig(erase=True, power_off=True, raw=True)
    assert garden.schedule == ScheduleConfig(60.0, ("02:00", "14:30"), True)
    assert garden.download_dir == tmp_path / "garden"
    assert attic.port == "socket://127.0.0.1:4000"
    assert (attic.speed, attic.model) == (19200, "Olympus C-2000Z")
    assert attic.download_dir == Path("/srv/photos/attic_2")
    assert attic.type == "serial" and garden.type == "wifi"


def test_tls_true_means_system_cas_and_false_means_plain() -> None:
    on = parse_config("mqtt:\n  tls: true\n" + MINIMAL, environ={})
    assert on.mqtt.tls == TlsConfig(ca=None, cert=None, key=None, insecure=False)
    off = parse_config("mqtt:\n  tls: false\n" + MINIMAL, environ={})
    assert off.mqtt.tls is None


def test_config_objects_are_frozen() -> None:
    config = parse_config(MINIMAL, environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.mqtt.port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.cameras[0].allow.erase = True  # type: ignore[misc]


def test_yaml_merge_keys_share_settings_between_cameras() -> None:
    text = """\
defaults: &common
  type: wifi
  poll_interval: 10
cameras:
  a:
    <<: *common
    host: 127.0.0.1
  b:
    <<: *common
    host: 127.0.0.2
"""
    # The anchor has to live somewhere: under an unknown top-level key it is reported.
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})
    assert [p.path for p in caught.value.problems] == ["defaults"]
    text = text.replace("defaults: &common\n  type: wifi\n  poll_interval: 10\n", "")
    anchored = "  a: &common\n    type: wifi\n    poll_interval: 10\n"
    text = text.replace("  a:\n    <<: *common\n", anchored)
    config = parse_config(text, environ={})
    assert [(c.name, c.poll_interval, c.host) for c in config.cameras] == [
        ("a", 10.0, "127.0.0.1"),
        ("b", 10.0, "127.0.0.2"),
    ]


def test_a_key_written_next_to_a_merge_overrides_the_merged_type() -> None:
    text = """\
cameras:
  a: &base {type: wifi, poll_interval: 7}
  b: {<<: *base, type: serial, port: /dev/ttyS0}
"""
    a, b = parse_config(text, environ={}).cameras
    assert isinstance(a, WifiCameraConfig)
    assert isinstance(b, SerialCameraConfig) and b.poll_interval == 7.0


# ---------------------------------------------------------------- environment and secrets


def test_environment_values_fill_strings_numbers_and_booleans() -> None:
    text = """\
mqtt:
  host: ${BROKER}
  port: ${PORT}
  discovery: ${DISCOVERY:-true}
  base_topic: ${BASE:-cams}/${SITE}
  username: $${literal}
cameras:
  garden:
    type: wifi
    port: ${WIFI_PORT:-80}
"""
    environ = {"BROKER": "127.0.0.1", "PORT": "1884", "DISCOVERY": "no", "SITE": "home"}
    config = parse_config(text, environ=environ)
    assert config.mqtt.host == "127.0.0.1"
    assert config.mqtt.port == 1884
    assert config.mqtt.discovery is False
    assert config.mqtt.base_topic == "cams/home"
    assert config.mqtt.username == "${literal}"
    assert config.cameras[0].port == 80


def test_an_environment_value_is_validated_like_a_written_one() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("mqtt:\n  port: ${PORT}\n" + MINIMAL, environ={"PORT": "99999"})
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("mqtt.port", 2)
    assert "from 1 to 65535" in problem.message


def test_an_empty_variable_takes_the_default() -> None:
    config = parse_config("mqtt:\n  host: ${H:-fallback}\n" + MINIMAL, environ={"H": ""})
    assert config.mqtt.host == "fallback"


def test_the_process_environment_is_used_by_default(monkeypatch) -> None:
    monkeypatch.setenv("C2M_TEST_PASSWORD", SECRET)
    config = parse_config("mqtt:\n  username: u\n  password: ${C2M_TEST_PASSWORD}\n" + MINIMAL)
    assert config.mqtt.password == SECRET


def test_password_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "mqtt_password"
    secret_file.write_text(SECRET + "\n")
    text = f"mqtt:\n  username: u\n  password_file: {secret_file}\n" + MINIMAL
    assert parse_config(text, environ={}).mqtt.password == SECRET


def test_password_file_path_from_the_environment_like_systemd_credentials(tmp_path: Path) -> None:
    (tmp_path / "mqtt_password").write_text(SECRET)
    text = "mqtt:\n  username: u\n  password_file: ${CREDENTIALS_DIRECTORY}/mqtt_password\n"
    config = parse_config(text + MINIMAL, environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert config.mqtt.password == SECRET


@pytest.mark.parametrize(
    ("content", "words"), [(None, "does not exist"), ("", "is empty"), ("\n", "is empty")]
)
def test_a_bad_password_file_is_reported(tmp_path: Path, content, words) -> None:
    secret_file = tmp_path / "pw"
    if content is not None:
        secret_file.write_text(content)
    with pytest.raises(ConfigError) as caught:
        parse_config(f"mqtt:\n  username: u\n  password_file: {secret_file}\n" + MINIMAL)
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("mqtt.password_file", 3)
    assert words in problem.message


def secret_config(tmp_path: Path) -> Config:
    return parse_config(f"mqtt:\n  username: u\n  password: {SECRET}\n" + MINIMAL, environ={})


def test_the_secret_never_shows_in_repr_str_or_redacted(tmp_path: Path) -> None:
    config = secret_config(tmp_path)
    assert config.mqtt.password == SECRET
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert SECRET not in str(config.mqtt)
    shown = redacted(config)
    assert shown["mqtt"]["password"] == "***"
    assert SECRET not in repr(shown)
    assert shown["mqtt"]["username"] == "u"
    assert shown["cameras"][0]["download_dir"] == "/var/lib/camera2mqtt/photos/garden"


def test_an_absent_password_is_not_redacted_to_stars() -> None:
    assert redacted(parse_config(MINIMAL, environ={}))["mqtt"]["password"] is None


def test_the_secret_never_shows_in_logs(tmp_path: Path, caplog) -> None:
    config = secret_config(tmp_path)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("camera2mqtt.test").info("config: %s", config)
        logging.getLogger("camera2mqtt.test").info("config: %r", redacted(config))
    assert caplog.text and SECRET not in caplog.text


@pytest.mark.parametrize(
    "mistake",
    [
        "  password: [{SECRET}]\n",
        "  password: {{a: {SECRET}}}\n",
        "  password: {SECRET}\n  password: other\n",
        "  password: {SECRET}\n  password_file: /nonexistent\n",
    ],
)
def test_the_secret_never_shows_in_problem_messages(mistake: str) -> None:
    text = "mqtt:\n  username: u\n" + mistake.format(SECRET=SECRET) + "  port: 0\n" + MINIMAL
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})
    assert caught.value.problems
    assert SECRET not in str(caught.value)


# ---------------------------------------------------------------- shipped files


def test_the_example_file_loads() -> None:
    config = load_config(EXAMPLE, environ={"MQTT_PASSWORD": SECRET})
    assert [c.name for c in config.cameras] == ["garden", "attic"]
    assert config.mqtt.password == SECRET
    assert {c.type for c in config.cameras} == {"wifi", "serial"}
    # Safe by default: the example enables nothing destructive.
    assert all(c.allow == AllowConfig() for c in config.cameras)


def _field_names(cls: type) -> set[str]:
    names = set()
    for item in dataclasses.fields(cls):
        names.add(item.name)
    return names


@pytest.mark.parametrize(
    "cls",
    [
        Config,
        MqttConfig,
        TlsConfig,
        AllowConfig,
        SnapshotConfig,
        LiveViewConfig,
        ScheduleConfig,
        CameraConfig,
        WifiCameraConfig,
        SerialCameraConfig,
    ],
)
def test_every_field_is_documented_in_the_example(cls: type) -> None:
    text = EXAMPLE.read_text()
    documented = set(re.findall(r"^\s*#?\s*([a-z_]+):", text, flags=re.MULTILINE))
    # The camera's name is the key of its entry under cameras:, not a key of its own.
    missing = _field_names(cls) - documented - {"name"}
    assert not missing, f"{cls.__name__} fields missing from the example: {sorted(missing)}"
    if cls is MqttConfig:
        assert "password_file" in documented


def test_the_demo_template_loads_with_the_ports_filled_in(tmp_path: Path) -> None:
    environ = {
        "CAMERA2MQTT_DEMO_MQTT_PORT": "18830",
        "CAMERA2MQTT_DEMO_WIFI_PORT": "18080",
        "CAMERA2MQTT_DEMO_SERIAL_PORT": "/dev/pts/9",
        "CAMERA2MQTT_DEMO_DIR": str(tmp_path),
    }
    config = load_config(DEMO, environ=environ)
    assert config.mqtt.host == "127.0.0.1" and config.mqtt.port == 18830
    wifi, serial = config.cameras
    assert isinstance(wifi, WifiCameraConfig) and wifi.host == "127.0.0.1" and wifi.port == 18080
    assert isinstance(serial, SerialCameraConfig) and serial.port == "/dev/pts/9"
    assert config.photos_dir == tmp_path / "photos" and config.state_dir == tmp_path / "state"


def test_the_demo_template_names_what_is_missing() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(DEMO, environ={})
    assert [p.path for p in caught.value.problems] == ["cameras.wifi.port", "cameras.serial.port"]
