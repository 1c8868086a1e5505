"""Shoot latency through MQTT, and the daemon's idle footprint, against a bare MQTT echo.

Everything runs on 127.0.0.1: a real mosquitto, a simulated Wi-Fi camera and a simulated
serial camera in this process, and the daemon as a separate process (``camera2mqtt run``).

1. Idle: with both cameras configured and online, the daemon's RSS (/proc/PID/status VmRSS)
   and CPU share (/proc/PID/stat utime+stime) over --idle-seconds, next to a bare Python
   process holding one idle paho connection to the same broker.
2. Latency: --shots times, the time from publishing ``{"action": "shoot"}`` on
   ``<base>/wifi/set`` to the simulator receiving the shutter request (``exec_shutter``
   1st2ndpush, or ``exec_takemotion`` starttake on the E-M10 IV); the next shot is sent once
   the reply is back. The reference is the publish -> receive time of a bare paho client
   echo through the same broker, and the ratio of the two is printed.

Targets: p99 < 50 ms, idle RSS < 40 MB, idle CPU < 0.5 %.

    python bench/mqtt_latency.py [--shots 200] [--idle-seconds 20] [--model e-m1-iii]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from camera2mqtt.broker import MosquittoBroker
from camera2mqtt.sim.serial import SerialSimulator
from camera2mqtt.sim.wifi import RequestLog, WifiSimulator

TARGET_P99_MS = 50.0
TARGET_RSS_MB = 40.0
TARGET_CPU_PERCENT = 0.5
SHUTTER_REQUESTS = ("exec_shutter.cgi?com=1st2ndpush", "exec_takemotion.cgi?com=starttake")
WAIT_TIMEOUT = 30.0
ONLINE_TIMEOUT = 60.0
SETTLE_SECONDS = 3.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BASE = "bench"
IDLE_CLIENT = """
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-idle-reference")
client.connect("127.0.0.1", int(sys.argv[1]), keepalive=60)
client.subscribe("bench-reference/#")
client.loop_start()
time.sleep(float(sys.argv[2]))
"""


# -- the timing hook: a request log that also records when each request arrived ------------


class TimedRequestLog(RequestLog):
    """RequestLog that timestamps every request (perf_counter) and wakes waiters."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Condition()
        self.times: list[tuple[float, str]] = []

    def append(self, method: str, path: str) -> None:
        now = time.perf_counter()
        super().append(method, path)
        with self.arrived:
            self.times.append((now, path))
            self.arrived.notify_all()

    def wait_for_shutter(self, since: int, timeout: float) -> float:
        """Arrival time of the first shutter request at index >= since."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for arrived, path in self.times[since:]:
                    if any(marker in path for marker in SHUTTER_REQUESTS):
                        return arrived
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the simulator received no shutter request")
                self.arrived.wait(remaining)

    def mark(self) -> int:
        with self.arrived:
            return len(self.times)


class TimedWifiSimulator(WifiSimulator):
    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.requests = TimedRequestLog()


# -- a small MQTT client that waits for messages --------------------------------------------


class Listener:
    def __init__(self, port: int, topics: tuple[str, ...]) -> None:
        self.received: dict[str, list[tuple[float, bytes]]] = {}
        self.changed = threading.Condition()
        self.ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=60)
        self.client.loop_start()
        if not self.ready.wait(WAIT_TIMEOUT):
            raise TimeoutError("could not subscribe")

    def _on_message(self, client, userdata, message) -> None:
        now = time.perf_counter()
        with self.changed:
            self.received.setdefault(message.topic, []).append((now, bytes(message.payload)))
            self.changed.notify_all()

    def wait(self, topic: str, check, timeout: float = WAIT_TIMEOUT) -> tuple[float, bytes]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for arrived, payload in self.received.get(topic, []):
                    if check(payload):
                        return arrived, payload
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"nothing matching on {topic}")
                self.changed.wait(remaining)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return cuts[49], cuts[98]


# -- measurements -----------------------------------------------------------------------------


def echo_latency(port: int, count: int) -> list[float]:
    """Publish -> receive through the broker with bare paho clients, in milliseconds."""
    topic = f"bench-reference/{uuid.uuid4().hex[:8]}"
    listener = Listener(port, (topic,))
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
    sender.connect("127.0.0.1", port, keepalive=60)
    sender.loop_start()
    samples = []
    try:
        for index in range(count):
            marker = f"{index}".encode()
            sent = time.perf_counter()
            sender.publish(topic, marker, qos=1)
            arrived, _ = listener.wait(topic, lambda payload, m=marker: payload == m)
            samples.append((arrived - sent) * 1000)
    finally:
        sender.disconnect()
        sender.loop_stop()
        listener.stop()
    return samples


def shoot_latency(port: int, wifi: TimedWifiSimulator, count: int, gap: float = 0.0) -> list[float]:
    """Publish -> shutter request in milliseconds; each shot ``gap`` seconds after the
    previous reply is back (the reply is the last thing the daemon publishes for a shot)."""
    listener = Listener(port, (f"{BASE}/wifi/response",))
    sender = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
    sender.connect("127.0.0.1", port, keepalive=60)
    sender.loop_start()
    log: TimedRequestLog = wifi.requests
    samples = []
    try:
        for index in range(count):
            transaction = f"shot-{index}"
            command = json.dumps({"action": "shoot", "transaction": transaction})
            since = log.mark()
            sent = time.perf_counter()
            sender.publish(f"{BASE}/wifi/set", command, qos=1)
            shutter = log.wait_for_shutter(since, WAIT_TIMEOUT)
            samples.append((shutter - sent) * 1000)
            _, reply = listener.wait(
                f"{BASE}/wifi/response",
                lambda payload, t=transaction: json.loads(payload).get("transaction") == t,
            )
            if json.loads(reply)["status"] != "ok":
                raise RuntimeError(f"shot {index} failed: {reply!r}")
            time.sleep(gap)  # the pause between shots is what is being varied
    finally:
        sender.disconnect()
        sender.loop_stop()
        listener.stop()
    return samples


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14 and stime 15 (proc(5)).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def idle_footprint(pids: list[int], seconds: float) -> list[tuple[float, float, float]]:
    """Per pid: (RSS MB at the end, peak RSS MB sampled each second, CPU %) over seconds."""
    start = time.monotonic()
    start_cpu = [cpu_seconds(pid) for pid in pids]
    peaks = [rss_mb(pid) for pid in pids]
    while time.monotonic() - start < seconds:
        time.sleep(min(1.0, seconds - (time.monotonic() - start)))
        peaks = [max(peak, rss_mb(pid)) for peak, pid in zip(peaks, pids, strict=True)]
    elapsed = time.monotonic() - start
    return [
        (rss_mb(pid), peak, 100 * (cpu_seconds(pid) - cpu0) / elapsed)
        for pid, peak, cpu0 in zip(pids, peaks, start_cpu, strict=True)
    ]


def config_text(
    port: int, wifi_port: int, serial_path: str, root: Path, poll_interval: float
) -> str:
    return f"""\
mqtt:
  host: 127.0.0.1
  port: {port}
  base_topic: {BASE}
  client_id: bench-daemon
  discovery_prefix: bench-ha
photos_dir: {root / "photos"}
state_dir: {root / "state"}
log_level: WARNING
cameras:
  wifi:
    type: wifi
    host: 127.0.0.1
    port: {wifi_port}
    poll_interval: {poll_interval}
  serial:
    type: serial
    port: {serial_path}
    poll_interval: {poll_interval}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--shots", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--model", default="e-m1-iii", choices=("e-m1-iii", "e-m10-iv"))
    parser.add_argument(
        "--gap",
        type=float,
        default=0.0,
        help="seconds between a reply and the next shot (default: %(default)s, back to back)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=10.0,
        help="each camera's status poll interval in the daemon's config (default: %(default)s s)",
    )
    parser.add_argument(
        "--tcp-nodelay",
        action="store_true",
        help="start mosquitto with set_tcp_nodelay true (default: its stock setting, false)",
    )
    args = parser.parse_args()

    if args.shots < 2:
        parser.error("--shots must be at least 2")
    with (
        tempfile.TemporaryDirectory(prefix="camera2mqtt-bench-") as tmp,
        MosquittoBroker(tcp_nodelay=args.tcp_nodelay) as broker,
        TimedWifiSimulator(args.model) as wifi,
        SerialSimulator() as serial,
    ):
        root = Path(tmp)
        config = root / "camera2mqtt.yaml"
        config.write_text(
            config_text(broker.port, wifi.port, str(serial.slave_path), root, args.poll_interval)
        )
        watcher = Listener(broker.port, (f"{BASE}/+/availability",))
        daemon = subprocess.Popen(
            [sys.executable, "-m", "camera2mqtt", "run", "--config", str(config)],
            stdin=subprocess.DEVNULL,
        )
        reference = None
        try:
            for camera in ("wifi", "serial"):
                watcher.wait(
                    f"{BASE}/{camera}/availability", lambda p: p == b"online", ONLINE_TIMEOUT
                )
            time.sleep(SETTLE_SECONDS)  # let start-up work (discovery, first polls) finish

            reference = subprocess.Popen(
                [sys.executable, "-c", IDLE_CLIENT, str(broker.port), str(args.idle_seconds + 5)]
            )
            time.sleep(SETTLE_SECONDS)
            print(f"idle for {args.idle_seconds:g} s with 2 cameras configured ...", flush=True)
            (rss, peak, cpu), (ref_rss, _, ref_cpu) = idle_footprint(
                [daemon.pid, reference.pid], args.idle_seconds
            )

            print(f"{args.shots} reference echoes and {args.shots} shots ...", flush=True)
            echo = echo_latency(broker.port, args.shots)
            shots = shoot_latency(broker.port, wifi, args.shots, args.gap)
            print(f"idle again for {args.idle_seconds:g} s after the shots ...", flush=True)
            time.sleep(SETTLE_SECONDS)
            ((after_rss, after_peak, after_cpu),) = idle_footprint([daemon.pid], args.idle_seconds)
        finally:
            watcher.stop()
            daemon.terminate()
            daemon.wait(30)
            if reference is not None:
                reference.kill()
                reference.wait(10)

    echo_p50, echo_p99 = percentiles(echo)
    shot_p50, shot_p99 = percentiles(shots)
    nodelay = "on" if args.tcp_nodelay else "off (mosquitto's default)"
    print()
    print(f"shoot command -> camera shutter request: {args.model}, {args.shots} shots, ", end="")
    print(f"each {args.gap:g} s after the previous reply")
    print(f"  broker TCP_NODELAY {nodelay}")
    print(
        f"  daemon      p50 {shot_p50:7.2f} ms   p99 {shot_p99:7.2f} ms   max {max(shots):.2f} ms"
    )
    print(f"  bare echo   p50 {echo_p50:7.2f} ms   p99 {echo_p99:7.2f} ms   (same broker)")
    print(f"  ratio       p50 {shot_p50 / echo_p50:7.1f} x    p99 {shot_p99 / echo_p99:7.1f} x")
    print(f"  target      p99 < {TARGET_P99_MS:g} ms: {verdict(shot_p99 < TARGET_P99_MS)}")
    print(f"idle daemon, 2 cameras polled every {args.poll_interval:g} s, {args.idle_seconds:g} s")
    print(f"  RSS {rss:6.1f} MB (peak {peak:.1f})   bare paho client {ref_rss:5.1f} MB", end="")
    print(f"   ratio {rss / ref_rss:.1f} x")
    print(f"  CPU {cpu:6.3f} %                bare paho client {ref_cpu:.3f} %")
    print(
        f"  after the shots: RSS {after_rss:6.1f} MB (peak {after_peak:.1f}), CPU {after_cpu:.3f} %"
    )
    worst_rss, worst_cpu = max(rss, after_rss), max(cpu, after_cpu)
    print(f"  target      RSS < {TARGET_RSS_MB:g} MB: {verdict(worst_rss < TARGET_RSS_MB)}", end="")
    print(f";  CPU < {TARGET_CPU_PERCENT:g} %: {verdict(worst_cpu < TARGET_CPU_PERCENT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
