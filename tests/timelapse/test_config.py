"""The timelapses: and location: sections: values, and problems with key path and line."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from camera2mqtt.config import EX_CONFIG, ConfigError, parse_config
from camera2mqtt.timelapse import Location, WindowTime

HEAD = """\
cameras:
  cam:
    type: wifi
    host: 127.0.0.1
"""


def problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, environ={})
    return [(p.path, p.line, p.message) for p in caught.value.problems]


def test_a_full_timelapse_is_read(tmp_path: Path) -> None:
    config = parse_config(
        "location: {latitude: 69.65, longitude: 18.96}\n"
        f"photos_dir: {tmp_path}\n" + HEAD + "    timelapses:\n"
        "      night:\n"
        "        interval: 30\n"
        "        start: sunset-00:30\n"
        "        end: 06:15\n"  # unquoted: YAML reads 06:15 as a number; the text is kept
        "        days: mon-wed, sat\n"
        "        from: 2026-01-01\n"
        "        until: 2026-02-01\n"
        "        count: 200\n"
        "        properties: {takemode: M, isospeedvalue: 1600}\n"
        "        fetch: true\n"
        "        video: {fps: 30}\n",
        environ={},
    )
    (night,) = config.cameras[0].timelapses
    assert night.name == "night" and night.camera == "cam" and night.interval == 30
    assert night.start == WindowTime("sunset", -30) and night.end == WindowTime(None, 375)
    assert night.days == (0, 1, 2, 5)
    assert (night.from_date, night.until_date) == (date(2026, 1, 1), date(2026, 2, 1))
    assert night.count == 200 and night.duration is None
    assert night.properties == (("takemode", "M"), ("isospeedvalue", "1600"))
    assert night.fetch and night.video_fps == 30 and night.photos_dir == tmp_path
    assert night.location == Location(69.65, 18.96) == config.location


def test_the_old_timelapse_interval_becomes_an_always_on_timelapse() -> None:
    config = parse_config(HEAD + "    schedule: {timelapse_interval: 300}\n", environ={})
    (legacy,) = config.cameras[0].timelapses
    assert (legacy.name, legacy.interval, legacy.start, legacy.fetch) == (
        "timelapse",
        300,
        None,
        False,
    )
    assert legacy.autostart and legacy.legacy


def test_the_old_interval_and_a_timelapse_of_the_same_name_clash() -> None:
    found = problems(
        HEAD + "    schedule: {timelapse_interval: 300}\n"
        "    timelapses:\n      timelapse: {interval: 10}\n"
    )
    assert found[0][0] == "cameras.cam.schedule.timelapse_interval"
    assert "not both" in found[0][2]


def test_every_problem_has_its_key_path_and_line() -> None:
    found = problems(
        HEAD + "    timelapses:\n"
        "      Bad Name: {interval: 10}\n"  # 6
        "      a:\n"  # 7
        "        interval: 0.5\n"  # 8
        "        start: sunrise\n"  # 9
        "        days: [mon, someday]\n"  # 10
        "        count: 10\n"  # 11
        "        duration: 60\n"  # 12
        "        video: {fps: 500}\n"  # 13
        "        path: /abs/{index}.jpg\n"  # 14
        "        colour: red\n"  # 15
        "      b:\n"  # 16
        "        interval: 10\n"
        "        start: '25:00'\n"  # 18
        "        end: '07:00'\n"
        "        from: 2026-02-30\n"  # 20
        "        path: '{date}/frame.jpg'\n"  # 21
    )
    by_path = {path: (line, message) for path, line, message in found}
    expected_lines = {
        "cameras.cam.timelapses.Bad Name": 6,
        "cameras.cam.timelapses.a.interval": 8,
        "cameras.cam.timelapses.a.start": 9,
        "cameras.cam.timelapses.a.end": 7,
        "cameras.cam.timelapses.a.days[1]": 10,
        "cameras.cam.timelapses.a.duration": 12,
        "cameras.cam.timelapses.a.video.fps": 13,
        "cameras.cam.timelapses.a.path": 14,
        "cameras.cam.timelapses.a.colour": 15,
        "cameras.cam.timelapses.b.start": 18,
        "cameras.cam.timelapses.b.from": 20,
        "cameras.cam.timelapses.b.path": 21,
    }
    assert {path: by_path[path][0] for path in expected_lines} == expected_lines
    assert "location" in by_path["cameras.cam.timelapses.a.start"][1]
    assert "fetch: true" in by_path["cameras.cam.timelapses.a.video"][1]
    assert "{index}" in by_path["cameras.cam.timelapses.b.path"][1]
    assert (
        "did you mean" in by_path["cameras.cam.timelapses.a.colour"][1]
        or "allowed" in (by_path["cameras.cam.timelapses.a.colour"][1])
    )


def test_check_config_exits_78_with_the_timelapse_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + "    timelapses:\n      a: {interval: 10, start: '08:00'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "camera2mqtt", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == EX_CONFIG
    assert "Traceback" not in result.stderr
    assert f"{path}:6: cameras.cam.timelapses.a.end: a window needs both" in result.stderr


def test_check_config_says_when_ffmpeg_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "video.yaml"
    path.write_text(
        HEAD + "    timelapses:\n      a: {interval: 10, fetch: true, video: {fps: 25}}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "camera2mqtt", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(tmp_path)},  # no ffmpeg on this PATH
    )
    assert result.returncode == EX_CONFIG
    assert f"{path}:6: cameras.cam.timelapses.a.video: needs ffmpeg" in result.stderr
    assert "apt-get install ffmpeg" in result.stderr
