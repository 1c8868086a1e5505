"""``camera2mqtt run`` with no broker to reach says why on every failed attempt, rate-limited."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import free_port

LINE_TIMEOUT = 30.0


def test_run_logs_why_it_cannot_reach_the_broker(tmp_path) -> None:
    port = free_port()  # nothing listens there
    config = tmp_path / "c.yaml"
    config.write_text(
        f"mqtt: {{host: 127.0.0.1, port: {port}}}\n"
        f"state_dir: {tmp_path / 'state'}\n"
        "cameras:\n  garden: {type: wifi, host: 127.0.0.1, port: 9}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    process = subprocess.Popen(
        [sys.executable, "-m", "camera2mqtt", "run", "--config", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + LINE_TIMEOUT
        while time.monotonic() < deadline:
            line = process.stderr.readline()  # blocks until the daemon writes a line
            if not line:
                break
            lines.append(line)
            if "Cannot connect to the MQTT broker" in line:
                break
    finally:
        process.terminate()
        process.wait(LINE_TIMEOUT)
    [failure] = [line for line in lines if "Cannot connect to the MQTT broker" in line]
    assert f"127.0.0.1:{port}: connection refused" in failure
    assert "check mqtt.host, mqtt.port" in failure
    assert "Traceback" not in "".join(lines)
