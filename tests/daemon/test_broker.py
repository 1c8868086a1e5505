"""The local brokers the demo and the tests start, and the probe that finds a running one."""

from __future__ import annotations

import socket
import threading

import pytest

from camera2mqtt import broker as broker_module
from camera2mqtt.broker import (
    BrokerError,
    EmbeddedBroker,
    MosquittoBroker,
    broker_answers,
    start_local_broker,
)
from tests.conftest import free_port


def test_the_fixture_broker_answers_and_restarts_on_the_same_port(broker) -> None:
    port = broker.port
    assert broker_answers("127.0.0.1", port)
    broker.kill()
    assert not broker_answers("127.0.0.1", port)
    broker.start()
    assert broker.port == port and broker_answers("127.0.0.1", port)
    broker.restart()
    assert broker.port == port and broker_answers("127.0.0.1", port)


def test_stop_leaves_no_process_and_no_files(broker) -> None:
    pid, workdir = broker.pid, broker._workdir
    assert workdir is not None and workdir.exists()
    broker.stop()
    assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_a_tcp_server_that_is_not_mqtt_is_not_a_broker() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def answer_nonsense() -> None:
            connection, _ = server.accept()
            with connection:
                connection.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer_nonsense, daemon=True)
        thread.start()
        assert not broker_answers("127.0.0.1", port, timeout=2)
        thread.join(5)
    assert not broker_answers("127.0.0.1", free_port(), timeout=1)


def test_mosquitto_on_a_busy_port_fails_with_one_clear_sentence(broker) -> None:
    with pytest.raises(BrokerError, match="port is in use"):
        MosquittoBroker(broker.port, start_timeout=5).start()


def test_without_mosquitto_or_amqtt_the_error_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(broker_module, "find_mosquitto", lambda: None)
    monkeypatch.setattr(broker_module, "embedded_broker_available", lambda: False)
    with pytest.raises(BrokerError) as caught:
        start_local_broker(free_port())
    message = str(caught.value)
    assert "apt-get install mosquitto" in message and "camera2mqtt[demo]" in message
    assert "\n" not in message


def test_without_mosquitto_the_embedded_broker_is_used(monkeypatch) -> None:
    pytest.importorskip("amqtt", reason="the optional embedded broker (amqtt) is not installed")
    monkeypatch.setattr(broker_module, "find_mosquitto", lambda: None)
    started = start_local_broker(free_port())
    try:
        assert isinstance(started, EmbeddedBroker)
        assert broker_answers("127.0.0.1", started.port)
    finally:
        started.stop()
    assert not broker_answers("127.0.0.1", started.port)


def test_a_mosquitto_that_exits_at_once_is_reported_and_cleaned_up(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(broker_module.tempfile, "tempdir", None)
    fake = tmp_path / "fake-mosquitto"
    fake.write_text("#!/bin/sh\necho 'Error: something is wrong' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(BrokerError, match=r"exited at once.*Error: something is wrong"):
        MosquittoBroker(binary=str(fake), start_timeout=5).start()
    assert [p.name for p in tmp_path.iterdir()] == ["fake-mosquitto"]
