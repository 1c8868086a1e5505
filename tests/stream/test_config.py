"""The stream and http sections of the configuration."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from camera2mqtt.config import ConfigError, HttpConfig, StreamConfig, load_config, parse_config

EXAMPLE = Path(__file__).parents[2] / "config" / "camera2mqtt.example.yaml"
CAMERA = "cameras:\n  garden:\n    type: wifi\n    download_dir: /tmp/photos\n"


def test_defaults_are_off() -> None:
    config = parse_config(CAMERA)
    assert config.http == HttpConfig(listen=None)
    assert config.cameras[0].stream == StreamConfig(targets=(), packet_size=1400, header="auto")


def test_a_full_stream_and_http_section() -> None:
    config = parse_config(
        'http: {listen: "127.0.0.1:8090"}\n'
        + CAMERA
        + '    stream: {targets: ["udp://127.0.0.1:5004", "udp://239.0.0.1:5004"],'
        + " packet_size: 1200, header: medium}\n"
    )
    assert config.http.listen == "127.0.0.1:8090"
    stream = config.cameras[0].stream
    assert stream.targets == ("udp://127.0.0.1:5004", "udp://239.0.0.1:5004")
    assert (stream.packet_size, stream.header) == (1200, "medium")


@pytest.mark.parametrize(
    ("section", "path", "allowed"),
    [
        ('    stream: {targets: ["tcp://a:1"]}\n', "cameras.garden.stream.targets[0]", "udp://"),
        ("    stream: {targets: udp://a:1}\n", "cameras.garden.stream.targets", "a list"),
        ("    stream: {packet_size: 32}\n", "cameras.garden.stream.packet_size", "64 to 65507"),
        ("    stream: {header: tiny}\n", "cameras.garden.stream.header", "auto, short"),
        ("    stream: {target: []}\n", "cameras.garden.stream.target", "did you mean"),
    ],
)
def test_bad_stream_values_name_the_key_path_and_line(section, path, allowed) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(CAMERA + section)
    (problem,) = caught.value.problems
    assert problem.path == path and problem.line == 5
    assert allowed in problem.message
    assert caught.value.exit_code == 78


def test_a_bad_listen_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('http: {listen: "8090"}\n' + CAMERA)
    (problem,) = caught.value.problems
    assert problem.path == "http.listen" and "HOST:PORT" in problem.message


@pytest.mark.parametrize("cls", [StreamConfig, HttpConfig])
def test_every_field_is_documented_in_the_example(cls: type) -> None:
    documented = set(re.findall(r"^\s*#?\s*([a-z_]+):", EXAMPLE.read_text(), flags=re.MULTILINE))
    assert {field.name for field in dataclasses.fields(cls)} <= documented
    assert {"stream", "http"} <= documented


def test_the_example_still_loads(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, environ={"MQTT_PASSWORD": "x"})
    garden = config.camera("garden")
    assert garden.stream.targets == ("udp://127.0.0.1:5004",)
    assert config.http.listen is None
