"""``camera2mqtt serial`` end to end: subprocesses against ``camera2mqtt simulate serial``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera2mqtt.cameras.serial import SerialCamera
from camera2mqtt.sim.images import make_jpeg

CLI = [sys.executable, "-m", "camera2mqtt"]
RUN_TIMEOUT_S = 60
READY_TIMEOUT_S = 30


def run(*args: str, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "card"
    folder.mkdir()
    for number, size in enumerate(((800, 600), (320, 240)), start=1):
        (folder / f"P101000{number}.JPG").write_bytes(
            make_jpeg(*size, f"cli {number}", seed=number)
        )
    return folder


@pytest.fixture
def port(tmp_path: Path, images: Path) -> Iterator[str]:
    """A simulator in its own process, behind a symlink; yields the symlink."""
    link = tmp_path / "camera"
    process = subprocess.Popen(
        [*CLI, "simulate", "serial", "--link", str(link), "--images", str(images)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        line = ""
        while "ready" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
        if "ready" not in line:
            pytest.fail(
                f"the simulator did not start: {process.stderr.read() if process.stderr else ''}"
            )
        yield str(link)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_info(port: str) -> None:
    result = run("serial", "--port", port, "info")
    assert result.returncode == 0, result.stderr
    assert "OLYMPUS DIGITAL CAMERA" in result.stdout
    assert "115200 baud" in result.stdout
    assert re.search(r"^frames taken:\s+2$", result.stdout, re.MULTILINE)


def test_list_and_download_skips_what_is_there(port: str, images: Path, tmp_path: Path) -> None:
    listing = run("serial", "--port", port, "list")
    assert listing.returncode == 0, listing.stderr
    assert "P1010001.JPG" in listing.stdout and "P1010002.JPG" in listing.stdout

    out = tmp_path / "out"
    first = run("serial", "--port", port, "download", "--output", str(out))
    assert first.returncode == 0, first.stderr
    for name in ("P1010001.JPG", "P1010002.JPG"):
        assert (out / name).read_bytes() == (images / name).read_bytes()
    assert "\r" not in first.stderr  # no progress bar when stderr is not a terminal

    second = run("serial", "--port", port, "download", "--output", str(out), "2")
    assert second.returncode == 0, second.stderr
    assert "skipped 1 already present" in second.stderr


def test_preview_shoot_clock_get_set(port: str, tmp_path: Path) -> None:
    target = tmp_path / "live.jpg"
    preview = run("serial", "--port", port, "preview", str(target))
    assert preview.returncode == 0, preview.stderr
    assert target.read_bytes().startswith(b"\xff\xd8")

    shoot = run("serial", "--port", port, "shoot")
    assert shoot.returncode == 0, shoot.stderr
    assert shoot.stdout.split()[0] == "3"

    clock = run("serial", "--port", port, "set-clock")
    assert clock.returncode == 0, clock.stderr
    assert "camera clock set to" in clock.stdout

    assert run("serial", "--port", port, "get", "10").stdout.strip() == "3"
    assert run("serial", "--port", port, "set", "flash", "off").returncode == 0
    flash = run("serial", "--port", port, "get", "flash")
    assert flash.stdout.startswith("flash = off")
    assert run("serial", "--port", port, "set", "7", "1").returncode == 0
    assert run("serial", "--port", port, "get", "flash").stdout.startswith("flash = force")


def test_bad_value_is_one_line(port: str) -> None:
    result = run("serial", "--port", port, "set", "flash", "sometimes")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "auto, force, off" in result.stderr


@pytest.mark.parametrize("argv", [("get", "256"), ("set", "999", "1")])
def test_register_out_of_range_is_one_line(port: str, argv: tuple[str, ...]) -> None:
    result = run("serial", "--port", port, *argv)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "registers are 0 to 255" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_port_is_one_line() -> None:
    result = run("serial", "--port", "/dev/no-such-camera2mqtt-port", "info", timeout=30)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_port_is_one_line(port: str) -> None:
    with SerialCamera(port) as holder:
        assert isinstance(holder, SerialCamera)
        result = run("serial", "--port", port, "info", timeout=30)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "in use" in result.stderr


def test_silent_port_is_one_line_in_bounded_time() -> None:
    master, slave = os.openpty()
    try:
        started = time.monotonic()
        result = run("serial", "--port", os.ttyname(slave), "--timeout", "0.5", "info", timeout=30)
        assert time.monotonic() - started < 30
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "No camera answers" in result.stderr
