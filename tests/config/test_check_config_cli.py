"""``camera2mqtt check-config FILE`` as a user runs it: a subprocess, exit codes, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from camera2mqtt import cli
from camera2mqtt.config import EX_CONFIG
from tests.cli_run import camera2mqtt

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "camera2mqtt.example.yaml"
SECRET = "pw-only-in-the-environment-7781"

GOOD = """\
mqtt:
  host: 127.0.0.1
  username: bridge
  password: ${C2M_SECRET}
state_dir: state  # next to the file: check-config checks that it can be created
cameras:
  garden:
    type: wifi
    host: 127.0.0.1
"""

BAD = """\
mqtt:
  host: 127.0.0.1
  port: 0
  username: bridge
  password: ${C2M_SECRET}
  qos: 9
cameras:
  garden:
    type: wifi
    hots: 127.0.0.1
  attic:
    type: serial
"""


def test_a_good_file_prints_ok_and_a_redacted_summary(tmp_path: Path) -> None:
    config = tmp_path / "good.yaml"
    config.write_text(GOOD)
    result = camera2mqtt(
        "--log-level", "DEBUG", "check-config", str(config), env_extra={"C2M_SECRET": SECRET}
    )
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"ok: {config}: 1 camera\n")
    assert "password: '***'" in result.stdout
    assert "host: 127.0.0.1" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_quiet_prints_only_ok(tmp_path: Path) -> None:
    config = tmp_path / "good.yaml"
    config.write_text(GOOD)
    result = camera2mqtt("check-config", "-q", str(config), env_extra={"C2M_SECRET": SECRET})
    assert result.returncode == 0, result
    assert result.stdout == f"ok: {config}: 1 camera\n"


def test_a_bad_file_lists_every_problem_and_exits_78(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(BAD)
    result = camera2mqtt("check-config", str(config), env_extra={"C2M_SECRET": SECRET})
    assert result.returncode == EX_CONFIG == 78, result
    assert result.stdout == ""
    output = result.stderr
    assert "Traceback" not in output
    assert SECRET not in output
    lines = output.splitlines()
    assert lines[0] == f"camera2mqtt: {config}: 4 problems in the configuration, fix them all:"
    assert lines[1:] == [
        f"  {config}:3: mqtt.port: must be a TCP port from 1 to 65535; got 0",
        f"  {config}:6: mqtt.qos: must be one of 0, 1, 2; got 9",
        f"  {config}:10: cameras.garden.hots: unknown key 'hots'; did you mean 'host'? "
        "(allowed here: type, poll_interval, snapshot, allow, schedule, download_dir, stream, "
        "timelapses, keep_free_mb, library, presence_interval, host, port, timeout, liveview)",
        f"  {config}:11: cameras.attic.port: missing required key 'port': a serial device "
        "path (/dev/ttyUSB0) or a pyserial URL (socket://host:port)",
    ]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read the config file"),
        ("mqtt:\n  host: [127.0.0.1\n", ":3: YAML syntax error"),
        ("mqtt:\n  password: ${C2M_UNSET_VARIABLE}\n", "C2M_UNSET_VARIABLE is not set"),
    ],
)
def test_other_failures_are_one_line_with_exit_78(tmp_path: Path, content, words) -> None:
    config = tmp_path / "c.yaml"
    if content is not None:
        config.write_text(content)
    result = camera2mqtt("check-config", str(config))
    assert result.returncode == EX_CONFIG, result
    assert "Traceback" not in result.stderr + result.stdout
    if content is None or "YAML" in words:
        assert len(result.stderr.splitlines()) == 1, result.stderr
    assert words in result.stderr


def test_the_example_checks_ok_without_showing_the_password() -> None:
    result = camera2mqtt("check-config", str(EXAMPLE), env_extra={"MQTT_PASSWORD": SECRET})
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"ok: {EXAMPLE}: 2 cameras")
    assert SECRET not in result.stdout + result.stderr


def test_in_process_through_the_cli_entry(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("C2M_SECRET", SECRET)
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert cli.main(["check-config", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    assert cli.main(["check-config", str(bad)]) == EX_CONFIG
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert "mqtt.qos" in captured.err
