"""Ordinary mistakes with output paths on the command line: one sentence, exit 1, no
traceback, nothing written and no folder made (subprocesses against the simulators)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_run import camera2mqtt

NOWHERE = f"/proc/camera2mqtt-{os.getpid()}"  # a folder nobody can create files in


def assert_one_sentence(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("camera2mqtt: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def wifi_host(wifi_sim) -> str:
    return f"127.0.0.1:{wifi_sim.port}"


def test_wifi_download_into_proc(wifi_host) -> None:
    result = camera2mqtt("wifi", "--host", wifi_host, "download", "-o", f"{NOWHERE}/x")
    assert_one_sentence(result, "Cannot save there", f"{NOWHERE}/x", "cannot create it")
    assert not Path(NOWHERE).exists()


def test_wifi_liveview_snapshot_into_proc(wifi_host) -> None:
    result = camera2mqtt(
        "wifi", "--host", wifi_host, "liveview", "--snapshot", "/proc/x.jpg", "--bind", "127.0.0.1"
    )
    assert_one_sentence(result, "Cannot save /proc/x.jpg")


def test_serial_download_into_proc(serial_sim) -> None:
    result = camera2mqtt(
        "serial", "--port", serial_sim.slave_path, "download", "-o", f"{NOWHERE}/x"
    )
    assert_one_sentence(result, "Cannot save there", f"{NOWHERE}/x")


def test_serial_preview_into_proc(serial_sim) -> None:
    result = camera2mqtt("serial", "--port", serial_sim.slave_path, "preview", "/proc/x.jpg")
    assert_one_sentence(result, "Cannot save /proc/x.jpg")


def test_serial_preview_onto_a_folder(serial_sim, tmp_path) -> None:
    result = camera2mqtt("serial", "--port", serial_sim.slave_path, "preview", str(tmp_path))
    assert_one_sentence(result, f"{tmp_path} is a folder", "give a file name")
    assert list(tmp_path.iterdir()) == []


def test_serial_preview_into_a_missing_folder_creates_nothing(serial_sim, tmp_path) -> None:
    target = tmp_path / "missing" / "dir" / "x.jpg"
    result = camera2mqtt("serial", "--port", serial_sim.slave_path, "preview", str(target))
    assert_one_sentence(result, f"the folder {target.parent} does not exist", "create it first")
    assert not (tmp_path / "missing").exists()


def test_serial_preview_still_works(serial_sim, tmp_path) -> None:
    target = tmp_path / "x.jpg"
    result = camera2mqtt("serial", "--port", serial_sim.slave_path, "preview", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:2] == b"\xff\xd8"
