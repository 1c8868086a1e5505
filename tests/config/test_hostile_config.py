"""Hostile and self-contradicting config files: refused with one clear message, exit 78, by
``check-config`` and ``run`` alike, never a traceback (the CLI runs as a subprocess)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from camera2mqtt.config import (
    EX_CONFIG,
    MAX_CAMERAS,
    MAX_STREAM_TARGETS,
    MAX_SYNC_TIMES,
    MAX_YAML_DEPTH,
    ConfigError,
    parse_config,
)
from tests.cli_run import camera2mqtt


def folders(root: Path) -> str:
    return f"state_dir: {root / 'state'}\nphotos_dir: {root / 'photos'}\n"


def camera(name: str = "garden", **settings: str) -> str:
    lines = [f"  {name}:", "    type: wifi", "    host: 127.0.0.1"]
    lines += [f"    {key}: {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def assert_refused(path: Path, *words: str) -> None:
    """Both commands exit 78 with one message naming ``words``, and no traceback."""
    for args in (("check-config", str(path)), ("run", "--config", str(path))):
        result = camera2mqtt(*args)
        assert result.returncode == EX_CONFIG, (args, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith("camera2mqtt: "), result.stderr
        for word in words:
            assert word in result.stderr, (args, word, result.stderr)
        assert len(result.stderr) < 4000, "the message must stay readable"


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_refused_before_it_can_recurse(tmp_path, opening, closing) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("cameras: " + opening * 5000 + closing * 5000 + "\n")
    assert_refused(path, f"more than {MAX_YAML_DEPTH} levels deep", ":1:")


def test_ten_thousand_cameras_are_refused_quickly(tmp_path) -> None:
    path = tmp_path / "many.yaml"
    body = "".join(f"  c{n}: {{type: wifi}}\n" for n in range(10_000))
    path.write_text(folders(tmp_path) + "cameras:\n" + body)
    assert_refused(path, "cameras", f"at most {MAX_CAMERAS} cameras")


def test_many_cameras_sharing_one_host_give_one_problem_each_and_a_short_message() -> None:
    body = "".join(f"  c{n}: {{type: wifi}}\n" for n in range(MAX_CAMERAS))
    with pytest.raises(ConfigError) as caught:
        parse_config("cameras:\n" + body)
    problems = caught.value.problems
    assert len(problems) == MAX_CAMERAS - 1  # each against the first, not against every other
    assert all("already used by camera 'c0'" in p.message for p in problems)
    assert "... and 49 more" in str(caught.value)


def test_a_twenty_megabyte_file_is_refused_without_reading_it_all(tmp_path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("cameras:\n  garden:\n    type: wifi\n    host: " + "h" * 20_000_000 + "\n")
    assert_refused(path, "larger than 1048576 bytes")


def test_a_long_host_name_is_refused_with_its_length_not_its_text(tmp_path) -> None:
    path = tmp_path / "host.yaml"
    path.write_text(
        folders(tmp_path)
        + "cameras:\n"
        + camera(host="h" * 300).replace("    host: 127.0.0.1\n", "", 1)
    )
    assert_refused(path, "cameras.garden.host", "at most 253 characters; got 300 characters")
    assert "h" * 100 not in camera2mqtt("check-config", str(path)).stderr


def test_too_many_sync_times_are_refused(tmp_path) -> None:
    path = tmp_path / "sync.yaml"
    times = ", ".join(f'"{n // 60 % 24:02d}:{n % 60:02d}"' for n in range(MAX_SYNC_TIMES + 1))
    path.write_text(folders(tmp_path) + "cameras:\n" + camera(schedule=f"{{sync_at: [{times}]}}"))
    assert_refused(path, "cameras.garden.schedule.sync_at", f"at most {MAX_SYNC_TIMES} times")


def test_two_hundred_thousand_sync_times_are_refused(tmp_path) -> None:
    path = tmp_path / "sync.yaml"
    body = "".join('      - "02:00"\n' for _ in range(200_000))
    path.write_text(
        folders(tmp_path) + "cameras:\n" + camera() + "    schedule:\n      sync_at:\n" + body
    )
    assert_refused(path, "larger than")


@pytest.mark.parametrize(
    "base, prefix",
    [("camera2mqtt", "camera2mqtt"), ("camera2mqtt", "camera2mqtt/ha"), ("home/cams", "home")],
)
def test_topics_that_overlap_are_refused_by_both_commands(tmp_path, base, prefix) -> None:
    path = tmp_path / "topics.yaml"
    mqtt = f"mqtt:\n  base_topic: {base}\n  discovery_prefix: {prefix}\n"
    path.write_text(mqtt + folders(tmp_path) + "cameras:\n" + camera())
    assert_refused(path, ":3: mqtt.discovery_prefix", "must not be equal or one inside the other")


def test_topics_that_only_share_characters_are_fine() -> None:
    config = parse_config(
        "mqtt: {base_topic: cams, discovery_prefix: cams2}\ncameras:\n" + camera()
    )
    assert config.mqtt.discovery_prefix == "cams2"


def test_folders_the_daemon_cannot_write_are_refused_by_both_commands(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = tmp_path / "folders.yaml"
    path.write_text(
        f"state_dir: /proc/camera2mqtt-state-{os.getpid()}\n"
        f"photos_dir: {blocker / 'photos'}\n"
        "cameras:\n" + camera()
    )
    assert_refused(path, ":1: state_dir", "cannot create it in /proc", ":2: photos_dir")
    assert not blocker.with_name("photos").exists()
    assert not Path(f"/proc/camera2mqtt-state-{os.getpid()}").exists()


def test_a_folder_that_is_a_file_is_refused(tmp_path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    path = tmp_path / "folders.yaml"
    path.write_text(f"state_dir: {blocker}\nphotos_dir: {tmp_path / 'p'}\ncameras:\n" + camera())
    assert_refused(path, "state_dir", "exists and is not a folder")


def test_missing_folders_that_can_be_made_are_fine_and_not_created(tmp_path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(folders(tmp_path / "new") + "cameras:\n" + camera())
    result = camera2mqtt("check-config", "-q", str(path))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "new").exists()


def test_only_the_first_line_of_a_password_file_is_the_password(tmp_path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("first-line\nsecond line, a comment\n")
    config = parse_config(f"mqtt:\n  username: u\n  password_file: {secret}\ncameras:\n" + camera())
    assert config.mqtt.password == "first-line"


def test_a_start_up_failure_caused_by_the_config_exits_78(tmp_path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    path = tmp_path / "tls.yaml"
    path.write_text(
        f"mqtt:\n  host: 127.0.0.1\n  tls: {{ca: {garbage}}}\n"
        + folders(tmp_path)
        + "cameras:\n"
        + camera()
    )
    result = camera2mqtt("run", "--config", str(path))
    assert result.returncode == EX_CONFIG, result.stderr
    assert "Traceback" not in result.stderr
    assert "Cannot set up TLS to the MQTT broker" in result.stderr


def test_too_many_stream_targets_are_refused(tmp_path) -> None:
    targets = ", ".join(f"udp://127.0.0.1:{5000 + n}" for n in range(MAX_STREAM_TARGETS + 1))
    path = tmp_path / "stream.yaml"
    path.write_text(folders(tmp_path) + "cameras:\n" + camera(stream=f"{{targets: [{targets}]}}"))
    assert_refused(path, "cameras.garden.stream.targets", f"at most {MAX_STREAM_TARGETS} targets")
