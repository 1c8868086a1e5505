"""``camera2mqtt simulate wifi`` as a user runs it: one ready line, then clean exit on signals."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time

import pytest
import requests

from camera2mqtt.cli import main
from tests.conftest import free_port

READY = re.compile(
    r"^camera2mqtt wifi simulator \((?P<model>[a-z0-9-]+)\) listening on "
    r"(?P<url>http://127\.0\.0\.1:\d+)$"
)
START_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 30.0


def read_line(process: subprocess.Popen, timeout: float) -> str:
    """The first stdout line, or fail after ``timeout`` seconds (never hangs)."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not selector.select(remaining):
            process.kill()
            pytest.fail(f"no ready line within {timeout} s; got {data!r}")
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            pytest.fail(f"the simulator exited early: {data!r} {process.stderr.read()!r}")
        data += chunk
    return data.decode().splitlines()[0]


def start(*args: str, log_level: str = "WARNING") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "camera2mqtt", "--log-level", log_level, "simulate", "wifi", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(
    ("model", "signum"),
    [("e-m1-iii", signal.SIGINT), ("tg-5", signal.SIGTERM), ("e-m10-iv", signal.SIGTERM)],
)
def test_prints_one_ready_line_then_exits_0_on_signal(model, signum):
    port = free_port()
    process = start("--model", model, "--port", str(port))
    try:
        line = read_line(process, START_TIMEOUT_S)
        match = READY.match(line)
        assert match, line
        assert match["model"] == model
        assert match["url"] == f"http://127.0.0.1:{port}"
        response = requests.get(match["url"] + "/get_caminfo.cgi", timeout=30)
        assert response.status_code == 200
        process.send_signal(signum)
        assert process.wait(timeout=EXIT_TIMEOUT_S) == 0
        assert process.stdout.read() == b""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=EXIT_TIMEOUT_S)


def test_serves_an_images_folder(tmp_path):
    (tmp_path / "P1010007.JPG").write_bytes(b"\xff\xd8 not really a jpeg \xff\xd9")
    process = start("--images", str(tmp_path))
    try:
        url = READY.match(read_line(process, START_TIMEOUT_S))["url"]
        response = requests.get(url + "/DCIM/100OLYMP/P1010007.JPG", timeout=30)
        assert response.content == (tmp_path / "P1010007.JPG").read_bytes()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=EXIT_TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=EXIT_TIMEOUT_S)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "192.168.0.10"], "not an IPv4 loopback address"),
        (["--images", "/nonexistent/folder"], "does not exist"),
        (["--port", "70000"], "is not a TCP port"),
    ],
)
def test_bad_arguments_are_one_line_errors(capsys, args, message):
    assert main(["simulate", "wifi", *args]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_a_busy_port_is_a_one_line_error(capsys):
    with __import__("socket").socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["simulate", "wifi", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert "choose another --port" in err
    assert len(err.strip().splitlines()) == 1


def test_power_on_after_brings_the_camera_back():
    process = start("--power-on-after", "0.5", log_level="INFO")
    try:
        url = READY.match(read_line(process, START_TIMEOUT_S))["url"]
        assert requests.get(url + "/exec_pwoff.cgi", timeout=30).status_code == 202
        deadline = time.monotonic() + 60
        while True:  # bounded: off for about half a second, then answering again
            try:
                response = requests.get(url + "/get_caminfo.cgi", timeout=5)
                break
            except requests.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "the camera never came back"
                time.sleep(0.1)
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=EXIT_TIMEOUT_S) == 0
        log = process.stderr.read().decode()
        assert log.index("powered off") < log.index("switching the simulated camera back on")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=EXIT_TIMEOUT_S)


def test_hostile_mode_serves_the_chosen_attack_until_a_signal():
    from camera2mqtt.cameras.base import ProtocolError
    from camera2mqtt.cameras.wifi import WifiCamera

    process = start("--hostile", "get_imglist=fan-out")
    try:
        line = read_line(process, START_TIMEOUT_S)
        match = re.fullmatch(
            r"camera2mqtt hostile wifi camera \(get_imglist=fan-out\) listening on "
            r"http://127\.0\.0\.1:(\d+)",
            line,
        )
        assert match, line
        camera = WifiCamera("127.0.0.1", int(match.group(1)), timeout=5)
        assert camera.connect().model == "E-M1MarkIII"
        with pytest.raises(ProtocolError, match="more than 1000 folders"):
            camera.list_images()
        camera.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(EXIT_TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_hostile_mode_refuses_an_unknown_attack_in_one_sentence():
    process = start("--hostile", "get_imglist=nope")
    _out, err = process.communicate(timeout=EXIT_TIMEOUT_S)
    assert process.returncode != 0
    assert b"give TARGET=ATTACK" in err
    assert b"Traceback" not in err
