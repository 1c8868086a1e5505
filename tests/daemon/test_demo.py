"""``camera2mqtt demo`` as a user runs it: instructions, a working shoot, a clean exit."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from camera2mqtt.broker import broker_answers
from tests.conftest import free_port
from tests.daemon.mqtt_probe import MqttProbe

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
LAST_LINE = "Press Ctrl-C"


class DemoProcess:
    def __init__(self, port: int, tmp: Path, *extra: str) -> None:
        self.tmp = tmp / "tmp"
        self.tmp.mkdir()
        env = {**os.environ, "TMPDIR": str(self.tmp)}
        command = [sys.executable, "-m", "camera2mqtt", "--log-level", "INFO", "demo"]
        self.process = subprocess.Popen(
            [*command, "--mqtt-port", str(port), *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def read_instructions(self) -> str:
        while True:
            try:
                line = self.lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                self.process.kill()
                message = f"no instructions; stdout so far: {''.join(self.output)}"
                raise AssertionError(message) from None
            self.output.append(line)
            if LAST_LINE in line:
                return "".join(self.output)

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            _, stderr = self.process.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate(timeout=STOP_TIMEOUT)
            raise AssertionError(f"the demo ignored signal {sig}") from None
        print(stderr)  # pytest shows it when the test fails
        return self.process.returncode, stderr


def child_pids(pid: int) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.add(int(entry.name))
    return children


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_demo_starts_a_broker_answers_a_shoot_and_leaves_nothing(tmp_path: Path, sig) -> None:
    port = free_port()
    demo = DemoProcess(port, tmp_path)
    try:
        text = demo.read_instructions()
        assert f"mosquitto_sub -h 127.0.0.1 -p {port} -t 'camera2mqtt/#' -v" in text
        assert f"-p {port} -t camera2mqtt/wifi/set -m" in text
        assert "paho.mqtt.publish" in text
        assert "(mosquitto)" in text
        children = child_pids(demo.process.pid)
        assert children, "the demo should have started mosquitto"

        with MqttProbe("127.0.0.1", port, ("camera2mqtt/#",)) as probe:
            probe.wait_for(
                lambda m: m.topic == "camera2mqtt/wifi/availability" and m.text() == "online",
                timeout=START_TIMEOUT,
                what="the demo's wifi camera online",
            )
            reply = probe.request("camera2mqtt", "wifi", {"action": "shoot"}, timeout=60)
            assert reply["status"] == "ok", reply
            assert reply["result"]["files"]
    finally:
        code, stderr = demo.stop(sig)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert not broker_answers("127.0.0.1", port, timeout=1)
    for pid in children:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} outlived the demo"
    assert list(demo.tmp.iterdir()) == [], "the demo left temporary files behind"


def test_demo_uses_a_running_broker_and_clears_its_retained_topics(broker, tmp_path) -> None:
    demo = DemoProcess(broker.port, tmp_path, "--duration", "120")
    try:
        text = demo.read_instructions()
        assert "already running" in text
        with MqttProbe("127.0.0.1", broker.port, ("camera2mqtt/#",)) as probe:
            reply = probe.request("camera2mqtt", "serial", {"action": "status"}, timeout=60)
            assert reply["status"] == "ok", reply
    finally:
        code, stderr = demo.stop()
    assert code == 0, stderr
    assert broker_answers("127.0.0.1", broker.port)
    # Retained messages arrive right after subscribing, before anything published later.
    with MqttProbe("127.0.0.1", broker.port, ("camera2mqtt/#", "homeassistant/#")) as probe:
        probe.publish("camera2mqtt/test-marker", b"end")
        probe.wait_topic("camera2mqtt/test-marker", timeout=10)
        left = [m.topic for m in probe.messages(since=0) if m.retain and m.payload]
        assert left == [], left
    assert list(demo.tmp.iterdir()) == []


def test_demo_on_a_port_held_by_something_else_fails_in_one_line(tmp_path) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "camera2mqtt", "demo", "--mqtt-port", str(port)],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "TMPDIR": str(tmp_path)},
        )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert "port is in use" in result.stderr
    assert list(tmp_path.iterdir()) == []
