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
import serial
import serial.rfc2217

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


class _PtyPort(serial.Serial):
    """The pty as the RFC 2217 server's port: a pty has no modem lines to report."""

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True

    def _update_dtr_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass


class _Connection:
    """What PortManager writes its Telnet answers to."""

    def __init__(self, client: socket.socket) -> None:
        self._client = client

    def write(self, data: bytes) -> None:
        self._client.sendall(data)


@contextlib.contextmanager
def rfc2217_server(device: str) -> Iterator[tuple[int, list[int]]]:
    """A loopback RFC 2217 server for ``device``; yields (port, baud rates it was asked for)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(ACCEPT_TIMEOUT_S)
    port = server.getsockname()[1]
    stop = threading.Event()
    speeds: list[int] = []

    def serve() -> None:
        line = _PtyPort(device, 19200, timeout=0)
        try:
            client, _ = server.accept()
        except OSError:
            line.close()
            return
        with client:
            manager = serial.rfc2217.PortManager(line, _Connection(client))
            while not stop.is_set():
                readable, _, _ = select.select([client, line.fileno()], [], [], BRIDGE_POLL_S)
                if client in readable:
                    data = client.recv(4096)
                    if not data:
                        break
                    line.write(b"".join(manager.filter(data)))
                    if not speeds or speeds[-1] != line.baudrate:
                        speeds.append(line.baudrate)
                if line.fileno() in readable:
                    client.sendall(b"".join(manager.escape(line.read(4096))))
        line.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port, speeds
    finally:
        stop.set()
        server.close()
        thread.join(ACCEPT_TIMEOUT_S)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside pyserial's rfc2217 client
def test_rfc2217_url(sim: SerialSimulator, tmp_path: Path) -> None:
    with (
        rfc2217_server(sim.slave_path) as (port, speeds),
        SerialCamera(f"rfc2217://127.0.0.1:{port}") as camera,
    ):
        assert isinstance(camera, SerialCamera)
        assert camera.line_speed == 115200
        path = camera.download(camera.image(3), tmp_path)
        assert path.read_bytes() == sim.state.frames[2][1]
    assert 115200 in speeds  # the speed change reached the server's port
    assert sim.host_speed == 19200  # and the end of the session put it back


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
