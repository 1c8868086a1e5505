"""The ``camera2mqtt`` command line: one entry point, one sub-command per area.

Each area registers its own sub-commands through a ``register(commands, simulators)``
function (``commands`` is the top-level sub-parser set, ``simulators`` the one under
``camera2mqtt simulate``) and sets ``func`` on its parsers; ``func(args) -> int`` is the exit
code. Expected failures are :class:`Camera2MqttError` and print as one line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from camera2mqtt import __version__
from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.logs import configure_logging

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "build_parser", "main"]

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

# Modules with a register(commands, simulators) function, in the order of `--help`.
COMMAND_MODULES = (
    "camera2mqtt.config_cli",
    "camera2mqtt.service_cli",
    "camera2mqtt.cameras.wifi.cli",
    "camera2mqtt.cameras.serial.cli",
    "camera2mqtt.sim.wifi.cli",
    "camera2mqtt.sim.serial.cli",
    "camera2mqtt.demo_cli",
)

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camera2mqtt",
        description="Olympus Wi-Fi and photopc/Sierra serial cameras on an MQTT bus.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log on stderr (default: %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    simulate = commands.add_parser(
        "simulate", help="run a simulated camera that speaks the real wire protocol"
    )
    simulators = simulate.add_subparsers(dest="simulator", required=True, metavar="KIND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands, simulators)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except Camera2MqttError as error:
        print(f"camera2mqtt: {error}", file=sys.stderr)
        return int(getattr(error, "exit_code", EXIT_FAILURE))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
