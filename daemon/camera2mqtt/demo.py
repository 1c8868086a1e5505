"""The zero-setup demo: simulated cameras, a broker if needed, and the daemon, all on loopback.

:class:`Demo` starts a simulated Wi-Fi camera and a simulated serial camera (on a pty), uses the
MQTT broker that answers at the requested address or starts one (mosquitto, else the embedded
broker), writes a daemon config for them into a temporary folder and runs the daemon in this
process. :meth:`Demo.stop` undoes all of it: daemon, simulators, broker, temporary files, and
the demo's retained topics when the broker was one that keeps running.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camera2mqtt.broker import LOOPBACK, broker_answers, start_local_broker
from camera2mqtt.lifecycle import StartStop

__all__ = [
    "DEFAULT_MQTT_PORT",
    "SERIAL_MODELS",
    "WIFI_MODELS",
    "Demo",
    "DemoInfo",
    "DemoOptions",
    "demo_config_text",
    "instructions",
]

log = logging.getLogger(__name__)

DEFAULT_MQTT_PORT = 1883
WIFI_MODELS = ("e-m1-iii", "e-m10-iv")
SERIAL_MODELS = ("c-2020z",)
WIFI_CAMERA = "wifi"
SERIAL_CAMERA = "serial"
BASE_TOPIC = "camera2mqtt"
DISCOVERY_PREFIX = "homeassistant"
POLL_INTERVAL = 5.0
PROBE_TIMEOUT = 1.0
CLEANUP_TIMEOUT = 5.0
ONLINE_TIMEOUT = 30.0
# Retained topics of each camera that the demo clears on a broker it did not start.
_RETAINED_LEAVES = ("availability", "state", "last_photo", "snapshot")


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    mqtt_host: str = LOOPBACK
    mqtt_port: int = DEFAULT_MQTT_PORT
    wifi_model: str = WIFI_MODELS[0]
    serial_model: str = SERIAL_MODELS[0]
    base_topic: str = BASE_TOPIC
    discovery_prefix: str = DISCOVERY_PREFIX


@dataclass(frozen=True, kw_only=True)
class DemoInfo:
    """What is running, for the instructions printed to the user."""

    mqtt_host: str
    mqtt_port: int
    broker: str  # "mosquitto", "embedded amqtt broker" or "already running"
    base_topic: str
    wifi_model: str
    wifi_url: str
    serial_model: str
    serial_device: str
    photos_dir: Path
    config_path: Path


def demo_config_text(
    *,
    mqtt_host: str,
    mqtt_port: int,
    wifi_port: int,
    serial_device: str,
    root: Path,
    base_topic: str = BASE_TOPIC,
    discovery_prefix: str = DISCOVERY_PREFIX,
) -> str:
    """The daemon config for the two simulators; photos and state go under root."""
    return f"""\
# Written by `camera2mqtt demo`; removed when the demo stops.
mqtt:
  host: {mqtt_host}
  port: {mqtt_port}
  client_id: camera2mqtt-demo-{uuid.uuid4().hex[:8]}
  base_topic: {base_topic}
  discovery_prefix: {discovery_prefix}
photos_dir: {root / "photos"}
state_dir: {root / "state"}
cameras:
  {WIFI_CAMERA}:
    type: wifi
    host: {LOOPBACK}
    port: {wifi_port}
    timeout: 3
    poll_interval: {POLL_INTERVAL}
  {SERIAL_CAMERA}:
    type: serial
    port: {serial_device}
    poll_interval: {POLL_INTERVAL}
"""


class Demo(StartStop):
    """Everything the demo runs; a context manager, or start() then stop()."""

    def __init__(self, options: DemoOptions | None = None) -> None:
        self.options = options or DemoOptions()
        self._resources = contextlib.ExitStack()
        self._started_broker = False
        self.info: DemoInfo | None = None

    def start(self) -> DemoInfo:
        options = self.options
        with self._resources as resources:
            root = Path(tempfile.mkdtemp(prefix="camera2mqtt-demo-"))
            resources.callback(shutil.rmtree, root, ignore_errors=True)

            if broker_answers(options.mqtt_host, options.mqtt_port, timeout=PROBE_TIMEOUT):
                broker_kind = "already running"
                resources.callback(self._clear_retained)
            else:
                broker = start_local_broker(options.mqtt_port, host=options.mqtt_host)
                resources.callback(broker.stop)
                broker_kind = broker.kind

            wifi = self._start_wifi(options.wifi_model, resources)
            serial = self._start_serial(options.serial_model, resources)

            config_path = root / "camera2mqtt.yaml"
            config_path.write_text(
                demo_config_text(
                    mqtt_host=options.mqtt_host,
                    mqtt_port=options.mqtt_port,
                    wifi_port=wifi.port,
                    serial_device=str(serial.slave_path),
                    root=root,
                    base_topic=options.base_topic,
                    discovery_prefix=options.discovery_prefix,
                ),
                encoding="utf-8",
            )
            self._start_daemon(config_path, resources)
            self._wait_until_online()
            self.info = DemoInfo(
                mqtt_host=options.mqtt_host,
                mqtt_port=options.mqtt_port,
                broker=broker_kind,
                base_topic=options.base_topic,
                wifi_model=options.wifi_model,
                wifi_url=f"http://{LOOPBACK}:{wifi.port}",
                serial_model=options.serial_model,
                serial_device=str(serial.slave_path),
                photos_dir=root / "photos",
                config_path=config_path,
            )
            # Everything started: keep it until stop() instead of unwinding here.
            self._resources = resources.pop_all()
        return self.info

    @staticmethod
    def _start_wifi(model: str, resources: contextlib.ExitStack) -> Any:
        from camera2mqtt.sim.wifi import WifiSimulator
        from camera2mqtt.sim.wifi.liveview import RtpStreamer

        simulator = WifiSimulator(model, port=0, liveview=RtpStreamer())
        simulator.start()
        resources.callback(simulator.stop)
        return simulator

    @staticmethod
    def _start_serial(model: str, resources: contextlib.ExitStack) -> Any:
        from camera2mqtt.sim.serial import SerialSimulator

        simulator = SerialSimulator(model)
        simulator.start()
        resources.callback(simulator.stop)
        return simulator

    @staticmethod
    def _start_daemon(config_path: Path, resources: contextlib.ExitStack) -> None:
        from camera2mqtt.config import load_config
        from camera2mqtt.service import Service

        service = Service(load_config(config_path))
        service.start()
        resources.callback(service.stop)

    def _wait_until_online(self) -> None:
        """Return once the bridge and both cameras say online, so commands are not lost."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        base = self.options.base_topic
        waiting = {f"{base}/bridge/state"} | {
            f"{base}/{camera}/availability" for camera in (WIFI_CAMERA, SERIAL_CAMERA)
        }
        online = threading.Event()
        lock = threading.Lock()

        def on_message(client: Any, userdata: Any, message: Any) -> None:
            with lock:
                if message.payload == b"online":
                    waiting.discard(message.topic)
                if not waiting:
                    online.set()

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"camera2mqtt-demo-{uuid.uuid4().hex[:8]}"
        )
        client.on_connect = lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in sorted(waiting)])
        client.on_message = on_message
        try:
            client.connect(self.options.mqtt_host, self.options.mqtt_port, keepalive=10)
            client.loop_start()
            if not online.wait(ONLINE_TIMEOUT):
                log.warning(
                    "still waiting for %s after %g s", ", ".join(sorted(waiting)), ONLINE_TIMEOUT
                )
            client.disconnect()
        except OSError as error:
            log.warning("could not watch the daemon come online: %s", error)
        finally:
            client.loop_stop()

    def _clear_retained(self) -> None:
        """Remove the demo's retained messages from a broker that outlives the demo."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from camera2mqtt.mqtt.discovery import discovery_topic
        from camera2mqtt.mqtt.topics import Topics

        options = self.options
        topics = Topics(options.base_topic, options.discovery_prefix)
        cleared = [topics.bridge_state, f"{options.base_topic}/bridge/info"]
        cleared.append(discovery_topic(topics, "bridge"))
        for camera in (WIFI_CAMERA, SERIAL_CAMERA):
            cleared.append(discovery_topic(topics, camera))
            cleared += [f"{options.base_topic}/{camera}/{leaf}" for leaf in _RETAINED_LEAVES]
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="camera2mqtt-demo-cleanup")
        try:
            client.connect(options.mqtt_host, options.mqtt_port, keepalive=10)
            client.loop_start()
            for topic in cleared:
                client.publish(topic, b"", qos=1, retain=True).wait_for_publish(CLEANUP_TIMEOUT)
            client.disconnect()
        except (OSError, RuntimeError, ValueError) as error:
            log.warning("could not clear the demo's retained topics: %s", error)
        finally:
            client.loop_stop()

    def stop(self) -> None:
        """Stop the daemon, the simulators and the broker, and remove the temporary files."""
        self._resources.close()


def instructions(info: DemoInfo, *, mosquitto_clients: bool, python: str = sys.executable) -> str:
    """What to type to watch the bus and take a picture, for the running demo."""
    host, port, base = info.mqtt_host, info.mqtt_port, info.base_topic
    command = '{"action":"shoot","transaction":"1"}'
    shell_quoted = command.replace('"', '\\"')  # inside a double-quoted shell word
    lines = [
        "camera2mqtt demo is running.",
        f"  MQTT broker:    {host}:{port} ({info.broker})",
        f"  Wi-Fi camera:   '{WIFI_CAMERA}', simulated {info.wifi_model} at {info.wifi_url}",
        f"  Serial camera:  '{SERIAL_CAMERA}', simulated {info.serial_model} on "
        f"{info.serial_device}",
        f"  Photos go to:   {info.photos_dir}",
        "",
    ]
    if mosquitto_clients:
        lines += [
            "Watch everything it publishes:",
            f"  mosquitto_sub -h {host} -p {port} -t '{base}/#' -v",
            "Take a picture with the Wi-Fi camera (the reply comes on .../wifi/response):",
            f"  mosquitto_pub -h {host} -p {port} -t {base}/{WIFI_CAMERA}/set -m '{command}'",
            "",
            "Without the mosquitto clients, the same from Python:",
        ]
    else:
        lines += ["The mosquitto clients are not installed; use Python instead:"]
    lines += [
        f'  {python} -c "import paho.mqtt.subscribe as s; s.callback(lambda c, u, m: '
        f"print(m.topic, m.payload[:120]), '{base}/#', hostname='{host}', port={port})\"",
        f"  {python} -c \"import paho.mqtt.publish as p; p.single('{base}/{WIFI_CAMERA}/set', "
        f"'{shell_quoted}', hostname='{host}', port={port})\"",
        "",
        f"The serial camera answers the same commands on {base}/{SERIAL_CAMERA}/set;",
        f'{{"action":"snapshot"}} publishes a live-view JPEG on {base}/<camera>/snapshot.',
        "Press Ctrl-C to stop; the demo removes everything it started.",
    ]
    return "\n".join(lines) + "\n"
