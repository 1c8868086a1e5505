"""``camera2mqtt stream receive`` as a subprocess, fed by a StreamSender over loopback."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from PIL import Image

from camera2mqtt.stream.sender import StreamSender, StreamTarget
from tests.conftest import free_port
from tests.stream.test_mjpeg import read_parts, valid_jpeg

TIMEOUT = 30.0


def jpegs(count: int) -> list[bytes]:
    frames = []
    for index in range(count):
        out = io.BytesIO()
        Image.new("RGB", (64, 48), (index * 20 % 256, 100, 50)).save(out, "JPEG")
        frames.append(out.getvalue())
    return frames


def start_receiver(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "camera2mqtt", "stream", "receive", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # printed once the UDP port is bound
    return process, first


def send_until_stopped(
    port: int, frames: list[bytes], stop: threading.Event, **options: Any
) -> threading.Thread:
    """A started thread sending ``frames`` to 127.0.0.1:``port``, one every 20 ms, until
    they run out or ``stop`` is set."""

    def send() -> None:
        with StreamSender([StreamTarget("127.0.0.1", port)], **options) as sender:
            for jpeg in frames:
                if stop.wait(0.02):
                    return
                sender.send_frame(jpeg)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_receive_saves_the_frames_it_was_sent(tmp_path: Path) -> None:
    port = free_port(socket.SOCK_DGRAM)
    frames = jpegs(40)
    process, first = start_receiver(
        "--listen", f"127.0.0.1:{port}", "--out", str(tmp_path), "--frames", "5"
    )
    try:
        assert f"UDP 127.0.0.1:{port}" in first
        stop = threading.Event()
        sender = send_until_stopped(port, frames, stop, packet_size=200)
        out, err = process.communicate(timeout=TIMEOUT)
        stop.set()
        sender.join(TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Received 5 frames" in out and "frames ok 5" in out
    saved = sorted(tmp_path.glob("stream-*.jpg"))
    assert len(saved) == 5
    contents = [path.read_bytes() for path in saved]
    positions = [frames.index(content) for content in contents]  # byte-identical to sent
    assert positions == sorted(positions)


def test_receive_serves_mjpeg(tmp_path: Path) -> None:
    port = free_port(socket.SOCK_DGRAM)
    http_port = free_port()
    frames = jpegs(200)
    process, _ = start_receiver(
        "--listen", f"127.0.0.1:{port}", "--mjpeg", f"127.0.0.1:{http_port}", "--name", "garden"
    )
    stop = threading.Event()
    try:
        assert process.stdout is not None
        assert f"127.0.0.1:{http_port}/cameras/garden/live.mjpg" in process.stdout.readline()
        sender = send_until_stopped(port, frames, stop)
        url = f"http://127.0.0.1:{http_port}/cameras/garden/live.mjpg"
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            parts = read_parts(response, 4)
        stop.set()
        sender.join(TIMEOUT)
    finally:
        stop.set()
        process.terminate()
        process.communicate(timeout=TIMEOUT)
    assert len(parts) == 4 and all(valid_jpeg(part) == (64, 48) for part in parts)
    positions = [frames.index(part) for part in parts]
    assert positions == sorted(set(positions))


def test_a_bad_listen_address_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "camera2mqtt", "stream", "receive", "--listen", "nowhere"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 2
    assert "--listen must be HOST:PORT" in result.stderr
    assert "Traceback" not in result.stderr
