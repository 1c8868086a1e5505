"""`camera2mqtt run` as systemd sees it: READY, WATCHDOG, STATUS, STOPPING, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.conftest import free_port
from tests.mqtt.recorder import Recorder

WAIT = 30.0


def receive_until(sock: socket.socket, wanted: str, seen: list[str]) -> None:
    deadline = time.monotonic() + WAIT
    while not any(wanted in message for message in seen):
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        seen.append(sock.recv(4096).decode())
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {wanted} from the daemon; got {seen}")


def test_run_talks_to_systemd_and_stops_on_sigterm(broker, tmp_path: Path) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    config = tmp_path / "camera2mqtt.yaml"
    config.write_text(
        f"""
mqtt: {{host: 127.0.0.1, port: {broker.port}, base_topic: {base}, client_id: {base}-d}}
state_dir: {tmp_path / "state"}
photos_dir: {tmp_path / "photos"}
cameras:
  away: {{type: wifi, host: 127.0.0.1, port: {free_port()}, timeout: 1, poll_interval: 5}}
"""
    )
    socket_path = tmp_path / "notify.sock"
    recorder = Recorder(broker.port, (f"{base}/#",))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(socket_path))
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(socket_path),
            "WATCHDOG_USEC": "1000000",
        }
        env.pop("WATCHDOG_PID", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "camera2mqtt", "run", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            seen: list[str] = []
            receive_until(notify, "READY=1", seen)
            receive_until(notify, "WATCHDOG=1", seen)
            assert any("STATUS=" in message for message in seen)
            recorder.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"online")
            recorder.wait_for(f"{base}/away/availability", lambda m: m.payload == b"offline")
            process.send_signal(signal.SIGTERM)
            receive_until(notify, "STOPPING=1", seen)
            assert process.wait(timeout=WAIT) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=WAIT)
    recorder.wait_for(f"{base}/bridge/state", lambda m: m.payload == b"offline")
    recorder.close()
    assert b"Traceback" not in process.stderr.read()
