"""The bridge over TLS with a username and password, against a mosquitto set up for it."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from camera2mqtt.config import MqttConfig, TlsConfig
from camera2mqtt.mqtt.bridge import BridgeError, MqttBridge
from camera2mqtt.mqtt.topics import Topics
from tests.conftest import free_port, start_on_a_free_port

USER = "camera"
PASSWORD = "tls-test-secret-4711"
START_TIMEOUT = 15.0
CONNECT_WAIT = 20.0


@dataclass
class TlsBroker:
    port: int
    ca: Path


def _run(*args: str | Path, cwd: Path) -> None:
    subprocess.run([str(a) for a in args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """One TLS mosquitto for the module (making its keys takes a second or two of CPU); each
    test connects with its own client id and base topic."""
    tmp_path = tmp_path_factory.mktemp("tls")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists() or not shutil.which("openssl"):
        pytest.skip("needs mosquitto and openssl")
    if not shutil.which("mosquitto_passwd"):
        pytest.skip("needs mosquitto_passwd")
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=test-ca", cwd=tmp_path)  # fmt: skip
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
         "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=tmp_path)  # fmt: skip
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext",
         cwd=tmp_path)  # fmt: skip
    _run("mosquitto_passwd", "-b", "-c", "passwords", USER, PASSWORD, cwd=tmp_path)
    server = start_on_a_free_port(lambda: _TlsMosquitto(mosquitto, tmp_path))
    try:
        yield TlsBroker(server.port, tmp_path / "ca.crt")
    finally:
        server.stop()


class _TlsMosquitto:
    """mosquitto with the keys and password file in ``folder``, on a port free a moment ago."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.port = free_port()
        self._binary, self._folder = binary, folder
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        folder = self._folder
        (folder / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {folder / 'ca.crt'}\n"
            f"certfile {folder / 'server.crt'}\n"
            f"keyfile {folder / 'server.key'}\n"
            "allow_anonymous false\n"
            f"password_file {folder / 'passwords'}\n"
            "persistence false\n"
            # Started as root, mosquitto would switch to the "mosquitto" user, who cannot read
            # the keys in our private temp folder; as anyone else this line changes nothing.
            f"user {getpass.getuser()}\n"
        )
        console = folder / "mosquitto.console"
        with console.open("wb") as output:
            self._process = subprocess.Popen(
                [self._binary, "-c", str(folder / "mosquitto.conf")],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    self.stop()
                    said = console.read_text(errors="replace")
                    raise RuntimeError(f"the TLS mosquitto did not start: {said}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)


def bridge_for(broker: TlsBroker, *, password: str, tls: TlsConfig) -> MqttBridge:
    config = MqttConfig(
        host="127.0.0.1",
        port=broker.port,
        client_id=f"tls-{uuid.uuid4().hex[:8]}",
        username=USER,
        password=password,
        tls=tls,
    )
    return MqttBridge(config, Topics(f"t{uuid.uuid4().hex[:8]}"))


def test_tls_with_ca_and_password(tls_broker: TlsBroker, caplog) -> None:
    caplog.set_level("DEBUG")
    bridge = bridge_for(tls_broker, password=PASSWORD, tls=TlsConfig(ca=tls_broker.ca))
    bridge.start()
    try:
        assert bridge.wait_connected(CONNECT_WAIT)
    finally:
        bridge.stop(timeout=5)
    assert PASSWORD not in caplog.text


def test_tls_insecure_accepts_an_unknown_ca(tls_broker: TlsBroker) -> None:
    bridge = bridge_for(tls_broker, password=PASSWORD, tls=TlsConfig(insecure=True))
    bridge.start()
    try:
        assert bridge.wait_connected(CONNECT_WAIT)
    finally:
        bridge.stop(timeout=5)


def test_wrong_password_is_refused_and_not_logged(tls_broker: TlsBroker, caplog) -> None:
    caplog.set_level("DEBUG")
    bridge = bridge_for(tls_broker, password="wrong-secret-0815", tls=TlsConfig(ca=tls_broker.ca))
    bridge.start()
    try:
        assert not bridge.wait_connected(3)
    finally:
        bridge.stop(timeout=5)
    assert "refused" in caplog.text
    assert "wrong-secret-0815" not in caplog.text


def test_a_broken_ca_file_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "ca.pem"
    broken.write_text("not a certificate\n")
    config = MqttConfig(host="127.0.0.1", client_id="x", tls=TlsConfig(ca=broken))
    with pytest.raises(BridgeError, match=r"mqtt\.tls\.ca"):
        MqttBridge(config, Topics("t"))
