"""``camera2mqtt simulate serial`` as a user runs it: a subprocess, signals, the symlink."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera2mqtt.sim.images import make_jpeg

COMMAND = (sys.executable, "-m", "camera2mqtt", "simulate", "serial")
READY_TIMEOUT_S = 60
EXIT_TIMEOUT_S = 30


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COMMAND, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ready_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT_S)
    assert readable, "the simulator printed no ready line"
    line = process.stdout.readline()
    assert line, f"the simulator exited: {process.stderr.read() if process.stderr else ''}"
    return line.strip()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    link = tmp_path / "camera"
    process = start("--link", str(link), "--idle-reset", "0")
    try:
        yield process, link
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(EXIT_TIMEOUT_S)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_ready_line_link_and_clean_exit(
    running: tuple[subprocess.Popen[str], Path], stop_signal: signal.Signals
) -> None:
    process, link = running
    line = ready_line(process)
    slave = line.split()[-1]
    assert slave.startswith("/dev/pts/"), line
    assert f"link {link} -> {slave}" in line
    assert os.readlink(link) == slave
    if shutil.which("photopc"):
        result = subprocess.run(
            ["photopc", "-l", str(link), "count"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == "3"
    process.send_signal(stop_signal)
    assert process.wait(EXIT_TIMEOUT_S) == 0
    assert not link.is_symlink()


def test_images_folder_and_model(tmp_path: Path) -> None:
    (tmp_path / "P1010001.JPG").write_bytes(make_jpeg(64, 48, "one"))
    process = start("--images", str(tmp_path), "--model", "epson-650", "--pace")
    try:
        line = ready_line(process)
        assert "Epson PhotoPC 650" in line and "1 frames" in line
        assert os.path.exists(line.split()[-1])
    finally:
        process.terminate()
        assert process.wait(EXIT_TIMEOUT_S) == 0


def test_missing_images_folder_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [*COMMAND, "--images", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_link_refuses_to_replace_a_file(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.write_text("keep me")
    result = subprocess.run(
        [*COMMAND, "--link", str(precious)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "not a symlink" in result.stderr and "Traceback" not in result.stderr
    assert precious.read_text() == "keep me"


def test_stale_link_is_replaced(tmp_path: Path) -> None:
    link = tmp_path / "camera"
    link.symlink_to("/dev/pts/does-not-exist")
    process = start("--link", str(link))
    try:
        slave = ready_line(process).split()[-1]
        assert os.readlink(link) == slave
    finally:
        process.terminate()
        assert process.wait(EXIT_TIMEOUT_S) == 0
    deadline = time.monotonic() + 5
    while link.is_symlink() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not link.is_symlink()
