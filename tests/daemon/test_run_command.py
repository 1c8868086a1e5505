"""``camera2mqtt run``: refuses a bad config cleanly and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.conftest import Stack
from tests.daemon.daemon_process import DaemonProcess

EX_CONFIG = 78
RUN_TIMEOUT = 60.0


def run(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camera2mqtt", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def test_an_invalid_config_exits_78_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "mqtt:\n  host: 127.0.0.1\n  port: not-a-port\ncameras:\n  wifi:\n    type: wifi\n",
        encoding="utf-8",
    )
    result = run(config)
    assert result.returncode == EX_CONFIG, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "mqtt.port" in lines[0] and ":3" in lines[0], lines[0]


def test_a_missing_config_file_is_one_line_too(tmp_path: Path) -> None:
    result = run(tmp_path / "absent.yaml")
    assert result.returncode == EX_CONFIG, result
    assert "Traceback" not in result.stderr + result.stdout
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


def test_yaml_syntax_error_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("mqtt:\n  host: [127.0.0.1\n", encoding="utf-8")
    result = run(config)
    assert result.returncode == EX_CONFIG, result
    assert "Traceback" not in result.stderr + result.stdout
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_daemon_cleanly_and_it_says_offline(stack_parts: Stack, sig) -> None:
    stack = stack_parts
    daemon = DaemonProcess(stack.config_path, stack.root / "daemon.log").start()
    try:
        stack.wait_online()
        since = stack.probe.mark()
    finally:
        code = daemon.stop(sig)
    assert code == 0, daemon.log()[-2000:]
    assert "Traceback" not in daemon.log()
    stack.probe.wait_for(
        lambda m: m.topic == f"{stack.base}/bridge/state" and m.text() == "offline",
        timeout=10,
        since=since,
        what="bridge offline after the signal",
    )
