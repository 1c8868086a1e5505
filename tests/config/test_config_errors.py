"""Every kind of config mistake names its key path, its line and what would be allowed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camera2mqtt.config import EX_CONFIG, ConfigError, ConfigProblem, load_config, parse_config

GOOD_CAMERA = "cameras:\n  garden:\n    type: wifi\n"


def problems_of(text: str, **kwargs) -> tuple[ConfigProblem, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), environ=kwargs.pop("environ", {}), **kwargs)
    return caught.value.problems


def only_problem(text: str, **kwargs) -> ConfigProblem:
    problems = problems_of(text, **kwargs)
    assert len(problems) == 1, problems
    return problems[0]


# (config text, key path, line, words that say what is allowed)
CASES = [
    pytest.param(
        """\
        mqtt:
          hots: broker
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.hots",
        2,
        ["unknown key", "did you mean 'host'", "allowed here:"],
        id="unknown-key-with-suggestion",
    ),
    pytest.param(
        """\
        cameras:
          garden:
            type: wifi
            snapshot:
              intervall: 5
        """,
        "cameras.garden.snapshot.intervall",
        5,
        ["did you mean 'interval'", "interval, size, max_bytes"],
        id="unknown-nested-key",
    ),
    pytest.param(
        """\
        mqtt:
          port: "eighty"
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.port",
        2,
        ["TCP port from 1 to 65535", "'eighty'"],
        id="wrong-type",
    ),
    pytest.param(
        """\
        mqtt:
          port: 70000
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.port",
        2,
        ["from 1 to 65535", "70000"],
        id="out-of-range",
    ),
    pytest.param(
        """\
        mqtt:
          qos: 3
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.qos",
        2,
        ["one of 0, 1, 2"],
        id="choice",
    ),
    pytest.param(
        """\
        mqtt:
          discovery: maybe
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.discovery",
        2,
        ["true or false"],
        id="bool",
    ),
    pytest.param(
        """\
        mqtt:
          discovery_mode: devices
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.discovery_mode",
        2,
        ["one of device, entity", "devices"],
        id="discovery-mode",
    ),
    pytest.param(
        """\
        mqtt:
          base_topic: "home/+/cams"
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.base_topic",
        2,
        ["without wildcards"],
        id="topic-wildcard",
    ),
    pytest.param(
        """\
        cameras:
          attic:
            type: serial
            speed: 4800
        """,
        "cameras.attic.port",
        2,
        ["missing required key 'port'", "serial device path"],
        id="missing-required",
    ),
    pytest.param(
        """\
        cameras:
          attic:
            type: serial
            port: /dev/ttyUSB0
            speed: 4800
        """,
        "cameras.attic.speed",
        5,
        ["9600, 19200, 38400, 57600, 115200"],
        id="serial-speed",
    ),
    pytest.param(
        """\
        cameras:
          garden:
            type: usb
        """,
        "cameras.garden.type",
        3,
        ["one of wifi, serial", "'usb'"],
        id="camera-type",
    ),
    pytest.param(
        """\
        cameras:
          garden:
            host: 127.0.0.1
        """,
        "cameras.garden.type",
        2,
        ["missing required key 'type'", "wifi, serial"],
        id="camera-type-missing",
    ),
    pytest.param(
        """\
        cameras:
          Garden Cam:
            type: wifi
        """,
        "cameras.Garden Cam",
        2,
        ["lower-case letters, digits, '_' or '-'"],
        id="camera-name",
    ),
    pytest.param(
        """\
        cameras:
          garden:
            type: wifi
            liveview:
              size: 640x480
        """,
        "cameras.garden.liveview.size",
        5,
        ["0640x0480"],
        id="liveview-size",
    ),
    pytest.param(
        """\
        cameras:
          garden:
            type: wifi
            snapshot:
              max_bytes: 3000000
        """,
        "cameras.garden.snapshot.max_bytes",
        5,
        ["from 1024 to 1000000"],
        id="snapshot-too-big-for-mqtt",
    ),
    pytest.param(
        """\
        mqtt:
          max_payload_bytes: 100000
        cameras:
          garden:
            type: wifi
            snapshot:
              max_bytes: 200000
        """,
        "cameras.garden.snapshot.max_bytes",
        7,
        ["at most mqtt.max_payload_bytes", "from 1024 to 100000"],
        id="snapshot-over-configured-payload-limit",
    ),
    pytest.param(
        """\
        cameras:
          garden:
            type: wifi
            poll_interval: 0
        """,
        "cameras.garden.poll_interval",
        4,
        ["a number from 0.1 to 86400"],
        id="poll-interval-zero",
    ),
    pytest.param(
        """\
        cameras:
          garden:
            type: wifi
            schedule:
              sync_at: [12:30]
        """,
        "cameras.garden.schedule.sync_at[0]",
        5,
        ['"12:30" in quotes'],
        id="unquoted-sexagesimal-time",
    ),
    pytest.param(
        """\
        cameras:
          garden:
            type: wifi
            schedule:
              sync_at: "24:00"
        """,
        "cameras.garden.schedule.sync_at",
        5,
        ['24-hour time "HH:MM"'],
        id="bad-time",
    ),
    pytest.param(
        """\
        log_level: loud
        cameras:
          garden:
            type: wifi
        """,
        "log_level",
        1,
        ["DEBUG, INFO, WARNING, ERROR, CRITICAL"],
        id="log-level",
    ),
    pytest.param(
        """\
        mqtt: localhost
        cameras:
          garden:
            type: wifi
        """,
        "mqtt",
        1,
        ["must be a mapping of host, port"],
        id="section-not-a-mapping",
    ),
    pytest.param(
        """\
        mqtt:
          host: a
          host: b
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.host",
        3,
        ["duplicate key", "line 2"],
        id="duplicate-key",
    ),
    pytest.param(
        """\
        mqtt:
          host: 127.0.0.1
        """,
        "cameras",
        1,
        ["missing required key 'cameras'", "at least one camera"],
        id="no-cameras",
    ),
    pytest.param(
        """\
        cameras: {}
        """,
        "cameras",
        1,
        ["at least one camera"],
        id="empty-cameras",
    ),
    pytest.param(
        """\
        mqtt:
          host: ${BROKER_HOST}
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.host",
        2,
        ["environment variable BROKER_HOST is not set", "${BROKER_HOST:-default}"],
        id="env-var-missing",
    ),
    pytest.param(
        """\
        mqtt:
          username: bob
          password: x
          password_file: /nonexistent/secret
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.password_file",
        4,
        ["either 'password' or 'password_file'"],
        id="password-and-file",
    ),
    pytest.param(
        """\
        mqtt:
          tls:
            ca: /nonexistent/ca.crt
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.tls.ca",
        3,
        ["readable file", "/nonexistent/ca.crt"],
        id="tls-file-missing",
    ),
    pytest.param(
        """\
        mqtt:
          password: hunter2
        cameras:
          garden:
            type: wifi
        """,
        "mqtt.password",
        2,
        ["needs a 'username'"],
        id="password-without-username",
    ),
]


@pytest.mark.parametrize(("text", "path", "line", "words"), CASES)
def test_each_mistake_names_path_line_and_what_is_allowed(text, path, line, words) -> None:
    problems = [p for p in problems_of(text) if p.path == path]
    assert problems, problems_of(text)
    problem = problems[0]
    assert problem.line == line, problem
    for word in words:
        assert word in problem.message, problem


def test_the_error_text_has_file_line_and_path_on_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("mqtt:\n  port: 0\n" + GOOD_CAMERA, source="my.yaml", environ={})
    assert str(caught.value) == "my.yaml:2: mqtt.port: must be a TCP port from 1 to 65535; got 0"
    assert caught.value.exit_code == EX_CONFIG == 78


def test_all_problems_are_reported_at_once_in_file_order() -> None:
    text = """\
    log_level: loud
    mqtt:
      port: 0
      qos: 5
      hots: x
    cameras:
      garden:
        type: wifi
        port: -1
        allow:
          erase: sometimes
      attic:
        type: serial
    """
    problems = problems_of(text)
    assert [(p.path, p.line) for p in problems] == [
        ("log_level", 1),
        ("mqtt.port", 3),
        ("mqtt.qos", 4),
        ("mqtt.hots", 5),
        ("cameras.garden.port", 9),
        ("cameras.garden.allow.erase", 11),
        ("cameras.attic.port", 12),
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), source="c.yaml", environ={})
    lines = str(caught.value).splitlines()
    assert lines[0] == "c.yaml: 7 problems in the configuration, fix them all:"
    assert len(lines) == 8
    assert all(line.startswith("  c.yaml:") for line in lines[1:])


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("mqtt:\n  host: [127.0.0.1\n", 3),
        ("mqtt:\n  host: a\n port: 1\n", 3),
        ("cameras:\n\tgarden: {}\n", 2),
        ('mqtt: {host: "a}\n', 2),
    ],
)
def test_yaml_syntax_errors_are_one_line_with_the_line_number(text: str, line: int) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="x.yaml", environ={})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"x.yaml:{line}: YAML syntax error: "), message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- a\n- b\n", "the file must be a mapping"),
        ("just text\n", "the file must be a mapping"),
        ("a: 1\n---\nb: 2\n", "YAML syntax error"),
    ],
)
def test_a_file_that_is_not_a_config_says_so(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})
    assert words in str(caught.value)


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    assert "cannot read the config file" in str(caught.value)
    assert str(tmp_path / "absent.yaml") in str(caught.value)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError):
        load_config(binary)


def test_an_unknown_camera_type_does_not_also_flag_its_other_keys() -> None:
    problem = only_problem("cameras:\n  garden:\n    type: usb\n    host: 127.0.0.1\n")
    assert problem.path == "cameras.garden.type"


def test_a_wifi_key_on_a_serial_camera_is_unknown_there() -> None:
    problem = only_problem(
        "cameras:\n  attic:\n    type: serial\n    port: /dev/ttyS0\n    liveview: {port: 0}\n"
    )
    assert problem.path == "cameras.attic.liveview"
    assert "unknown key" in problem.message and "speed" in problem.message


def test_cameras_may_not_share_a_device_port_or_folder() -> None:
    text = """\
    cameras:
      a:
        type: wifi
        host: 127.0.0.1
        liveview: {port: 40000}
      b:
        type: wifi
        host: 127.0.0.1
        liveview:
          port: 40000
      c:
        type: wifi
        host: 127.0.0.1
        port: 8080
      s1: {type: serial, port: /dev/ttyUSB0}
      s2:
        type: serial
        port: /dev/ttyUSB0
        download_dir: /var/lib/camera2mqtt/photos/a
    """
    problems = problems_of(text)
    assert [(p.path, p.line) for p in problems] == [
        ("cameras.b.host", 8),
        ("cameras.b.liveview.port", 10),
        ("cameras.s2.port", 18),
        ("cameras.s2.download_dir", 19),
    ]
    assert "this host and port are already used by camera 'a'" in problems[0].message
    assert "this serial port is already used by camera 's1'" in problems[2].message
    assert "this folder is already used by camera 'a'" in problems[3].message


def test_the_bridge_topic_name_is_reserved() -> None:
    problem = only_problem("cameras:\n  bridge:\n    type: wifi\n")
    assert (problem.path, problem.line) == ("cameras.bridge", 2)
    assert "reserved" in problem.message


ANY_YAML_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
KEYS = st.sampled_from(
    [
        "mqtt",
        "cameras",
        "log_level",
        "type",
        "host",
        "port",
        "password",
        "tls",
        "snapshot",
        "allow",
        "schedule",
        "sync_at",
        "liveview",
        "speed",
        "garden",
        "x",
    ]
)
ANY_TREE = st.recursive(
    ANY_YAML_SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TREE)
def test_any_yaml_document_either_loads_or_raises_config_error(tree) -> None:
    text = yaml.safe_dump(tree)
    try:
        parse_config(text, environ={})
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.message and "\n" not in problem.message


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_either_loads_or_raises_config_error(text: str) -> None:
    try:
        parse_config(text, environ={})
    except ConfigError as error:
        assert error.problems


def test_a_control_character_is_a_syntax_error_with_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("cameras:\n  garden:\n    type: wi\x1ffi\n", source="c.yaml", environ={})
    assert str(caught.value) == (
        "c.yaml:3: YAML syntax error: character U+001F is not allowed in YAML"
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("!!python/name:os.system", "YAML tags (!!python/name:os.system) are not supported"),
        ("!custom 5", "YAML tags (!custom) are not supported"),
        ('!!binary "AAAA"', "YAML tags (!!binary) are not supported"),
        ("!!int abc", "got 'abc'"),
        ("!!float 1e400", "got inf"),
        (".nan", "got nan"),
    ],
)
def test_tags_and_odd_numbers_are_problems_not_crashes(value: str, words: str) -> None:
    problem = only_problem(f"cameras:\n  garden:\n    type: wifi\n    port: {value}\n")
    assert (problem.path, problem.line) == ("cameras.garden.port", 4)
    assert words in problem.message


def test_a_merge_key_that_names_no_mapping_is_a_problem() -> None:
    problem = only_problem("cameras:\n  garden:\n    <<: 5\n    type: wifi\n")
    assert (problem.path, problem.line) == ("cameras.garden.<<", 3)
    assert "merge key" in problem.message


EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "camera2mqtt.example.yaml"
EXAMPLE_TEXT = EXAMPLE.read_text()
FUZZ_SECRET = "Fuzz-Secret-4417"
YAML_BITS = st.sampled_from(
    [
        ":",
        " ",
        "\n",
        "-",
        "[",
        "]",
        "{",
        "}",
        "&a",
        "*a",
        "<<: ",
        "!!",
        "!x ",
        "'",
        '"',
        "#",
        "${",
        "}",
        "$$",
        "0",
        "1.5",
        "yes",
        "null",
        "~",
        "\t",
        "?",
        "|",
        ">",
        ",",
        "%",
        "@",
        "\x00",
    ]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(EXAMPLE_TEXT)), YAML_BITS), max_size=6))
def test_a_damaged_example_either_loads_or_raises_config_error(edits) -> None:
    text = EXAMPLE_TEXT
    for position, bit in edits:
        text = text[:position] + bit + text[position:]
    try:
        parse_config(text, environ={"MQTT_PASSWORD": FUZZ_SECRET})
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            if problem.path.endswith("password"):
                assert FUZZ_SECRET not in problem.message
