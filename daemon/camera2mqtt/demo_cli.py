"""``camera2mqtt demo``: the daemon with two simulated cameras, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import shutil
import sys

from camera2mqtt.argtypes import positive_seconds
from camera2mqtt.demo import (
    BASE_TOPIC,
    DEFAULT_MQTT_PORT,
    DISCOVERY_PREFIX,
    SERIAL_MODELS,
    WIFI_MODELS,
    Demo,
    DemoOptions,
    instructions,
)
from camera2mqtt.lifecycle import stop_on_signals

__all__ = ["register"]


def register(commands: argparse._SubParsersAction, simulators: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the daemon against a simulated Wi-Fi and serial camera (needs only Python)",
        description=(
            "Start a simulated Wi-Fi camera, a simulated serial camera and the daemon, using the "
            "MQTT broker on 127.0.0.1:PORT or starting one there (mosquitto if installed, "
            "otherwise the embedded broker). Stops cleanly on Ctrl-C and removes what it made."
        ),
    )
    parser.add_argument(
        "--mqtt-port",
        type=_port,
        default=DEFAULT_MQTT_PORT,
        help="broker port on 127.0.0.1 (default: %(default)s)",
    )
    parser.add_argument(
        "--wifi-model", choices=WIFI_MODELS, default=WIFI_MODELS[0], help="simulated Wi-Fi model"
    )
    parser.add_argument(
        "--serial-model",
        choices=SERIAL_MODELS,
        default=SERIAL_MODELS[0],
        help="simulated serial model",
    )
    parser.add_argument("--base-topic", default=BASE_TOPIC, help="MQTT base topic")
    parser.add_argument(
        "--discovery-prefix", default=DISCOVERY_PREFIX, help="Home Assistant discovery prefix"
    )
    parser.add_argument(
        "--duration",
        type=positive_seconds,
        default=None,
        metavar="S",
        help="stop by itself after S seconds (default: run until Ctrl-C)",
    )
    parser.set_defaults(func=run_demo)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return port


def run_demo(args: argparse.Namespace) -> int:
    demo = Demo(
        DemoOptions(
            mqtt_port=args.mqtt_port,
            wifi_model=args.wifi_model,
            serial_model=args.serial_model,
            base_topic=args.base_topic,
            discovery_prefix=args.discovery_prefix,
        )
    )
    with stop_on_signals() as stop:
        try:
            info = demo.start()
            clients = shutil.which("mosquitto_sub") is not None
            sys.stdout.write(instructions(info, mosquitto_clients=clients))
            sys.stdout.flush()
            stop.wait(args.duration)
            sys.stdout.write("Stopping the demo...\n")
            sys.stdout.flush()
        finally:
            demo.stop()
    sys.stdout.write("Demo stopped; nothing left behind.\n")
    return 0
