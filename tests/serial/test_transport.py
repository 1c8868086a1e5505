"""Transports other than a device path: a ``socket://`` URL through a TCP bridge to the pty."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera2mqtt.cameras.serial import SerialCamera
from camera2mqtt.sim.serial import SerialSimulator

BRIDGE_POLL_S = 0.1
ACCEPT_TIMEOUT_S = 30.0


@contextlib.contextmanager
def tcp_bridge(device: str) -> Iterator[int]:
    """A loopback TCP port whose one client is wired to ``device`` (like ser2net)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(ACCEPT_TIMEOUT_S)
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        try:
            client, _ = server.accept()
        except OSError:
            os.close(fd)
            return
        with client:
            while not stop.is_set():
                readable, _, _ = select.select([client, fd], [], [], BRIDGE_POLL_S)
                if client in readable:
                    data = client.recv(4096)
                    if not data:
                        break
                    os.write(fd, data)
                if fd in readable:
                    client.sendall(os.read(fd, 4096))
        os.close(fd)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        server.close()
        thread.join(ACCEPT_TIMEOUT_S)


def test_socket_url(sim: SerialSimulator, tmp_path: Path) -> None:
    with (
        tcp_bridge(sim.slave_path) as port,
        SerialCamera(f"socket://127.0.0.1:{port}") as camera,
    ):
        assert isinstance(camera, SerialCamera)
        assert camera.info.model == "OLYMPUS DIGITAL CAMERA"
        path = camera.download(camera.image(2), tmp_path)
        assert path.read_bytes() == sim.state.frames[1][1]


def test_bad_url_is_a_clear_error() -> None:
    from camera2mqtt.cameras.base import CameraUnreachable

    with pytest.raises(CameraUnreachable, match="socket://HOST:PORT"):
        SerialCamera("nonsense://somewhere").connect()
