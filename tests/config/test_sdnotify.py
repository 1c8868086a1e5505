"""sd_notify against a real AF_UNIX datagram socket playing the part of systemd."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera2mqtt.sdnotify import notify, notify_socket_address, watchdog_interval

RECEIVE_TIMEOUT = 10.0


class FakeSystemd:
    """A bound datagram socket, like the one PID 1 passes as $NOTIFY_SOCKET."""

    def __init__(self, address: str | bytes, env_value: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(RECEIVE_TIMEOUT)
        self.environ = {"NOTIFY_SOCKET": env_value}

    def receive(self) -> list[str]:
        data = self.sock.recv(4096)
        return data.decode("utf-8").splitlines()

    def nothing_waiting(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(RECEIVE_TIMEOUT)
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def path_systemd() -> Iterator[FakeSystemd]:
    # A short folder: AF_UNIX paths are limited to 108 bytes, pytest's tmp_path can be longer.
    folder = tempfile.mkdtemp(prefix="c2m-notify-")
    path = os.path.join(folder, "notify")
    fake = FakeSystemd(path, path)
    try:
        yield fake
    finally:
        fake.close()
        os.unlink(path)
        os.rmdir(folder)


@pytest.fixture
def abstract_systemd() -> Iterator[FakeSystemd]:
    name = f"camera2mqtt-test-{uuid.uuid4().hex}"
    fake = FakeSystemd(b"\0" + name.encode(), "@" + name)
    try:
        yield fake
    finally:
        fake.close()


def test_ready_and_status_arrive_in_one_datagram(path_systemd: FakeSystemd) -> None:
    assert notify(ready=True, status="2 cameras online", environ=path_systemd.environ)
    assert path_systemd.receive() == ["READY=1", "STATUS=2 cameras online"]


def test_each_kind_of_notification(path_systemd: FakeSystemd) -> None:
    env = path_systemd.environ
    assert notify(watchdog=True, environ=env)
    assert path_systemd.receive() == ["WATCHDOG=1"]
    assert notify(stopping=True, status="stopping", environ=env)
    assert path_systemd.receive() == ["STATUS=stopping", "STOPPING=1"]
    assert notify(status="attic: offline", environ=env)
    assert path_systemd.receive() == ["STATUS=attic: offline"]


def test_the_abstract_namespace_is_used_for_an_at_sign(abstract_systemd: FakeSystemd) -> None:
    assert notify_socket_address(abstract_systemd.environ) == b"\0" + (
        abstract_systemd.environ["NOTIFY_SOCKET"][1:].encode()
    )
    assert notify(ready=True, environ=abstract_systemd.environ)
    assert abstract_systemd.receive() == ["READY=1"]


def test_a_status_stays_one_line_of_utf8(path_systemd: FakeSystemd) -> None:
    assert notify(status="line one\nline two\tand  más", environ=path_systemd.environ)
    assert path_systemd.receive() == ["STATUS=line one line two and más"]


def test_nothing_to_say_sends_nothing(path_systemd: FakeSystemd) -> None:
    assert not notify(environ=path_systemd.environ)
    assert path_systemd.nothing_waiting()


@pytest.mark.parametrize("value", [None, "", "relative/path"])
def test_outside_systemd_it_is_a_silent_no_op(value: str | None) -> None:
    environ = {} if value is None else {"NOTIFY_SOCKET": value}
    assert notify_socket_address(environ) is None
    assert notify(ready=True, status="x", watchdog=True, stopping=True, environ=environ) is False


def test_the_process_environment_is_the_default(monkeypatch, path_systemd: FakeSystemd) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_systemd.environ["NOTIFY_SOCKET"])
    assert notify(ready=True)
    assert path_systemd.receive() == ["READY=1"]
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not notify(ready=True)


def test_a_vanished_socket_is_logged_not_raised(caplog) -> None:
    folder = Path(tempfile.mkdtemp(prefix="c2m-notify-"))
    try:
        environ = {"NOTIFY_SOCKET": str(folder / "gone")}
        with caplog.at_level(logging.WARNING, logger="camera2mqtt.sdnotify"):
            assert notify(ready=True, environ=environ) is False
        assert "could not notify systemd" in caplog.text
    finally:
        folder.rmdir()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "1000000"}, 0.5),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "x"}, None),
    ],
)
def test_watchdog_interval_is_half_the_period_for_this_process(environ, expected) -> None:
    assert watchdog_interval(environ) == expected


def test_watchdog_interval_reads_the_process_environment(monkeypatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "20000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 10.0
