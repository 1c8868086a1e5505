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

# The module that registers each command (with its register(commands, simulators)), in the
# order of `--help`. Only the module of the command being run is imported, so that the
# daemon does not carry the simulators' and the demo's imports in memory.
COMMAND_MODULES = {
    "check-config": "camera2mqtt.config_cli",
    "run": "camera2mqtt.service_cli",
    "wifi": "camera2mqtt.cameras.wifi.cli",
    "serial": "camera2mqtt.cameras.serial.cli",
    "demo": "camera2mqtt.demo_cli",
    "stream": "camera2mqtt.stream.cli",
    "library": "camera2mqtt.library.cli",
}
SIMULATOR_MODULES = {
    "wifi": "camera2mqtt.sim.wifi.cli",
    "serial": "camera2mqtt.sim.serial.cli",
}
_OPTIONS_WITH_VALUE = frozenset({"--log-level"})

log = logging.getLogger(__name__)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with only the chosen command's module loaded when ``argv``
    names one, with every command otherwise (for ``--help`` and usage errors)."""
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
    for name in _modules_for(argv):
        importlib.import_module(name).register(commands, simulators)
    return parser


def _modules_for(argv: Sequence[str] | None) -> list[str]:
    words = _positional_words(argv if argv is not None else sys.argv[1:])
    command = words[0] if words else None
    if command in COMMAND_MODULES:
        return [COMMAND_MODULES[command]]
    if command == "simulate" and len(words) > 1 and words[1] in SIMULATOR_MODULES:
        return [SIMULATOR_MODULES[words[1]]]
    return [*COMMAND_MODULES.values(), *SIMULATOR_MODULES.values()]


def _positional_words(argv: Sequence[str]) -> list[str]:
    """The leading words of ``argv`` that are not top-level options or their values."""
    words: list[str] = []
    skip_value = False
    for word in argv:
        if skip_value:
            skip_value = False
        elif word in _OPTIONS_WITH_VALUE:
            skip_value = True
        elif not word.startswith("-"):
            words.append(word)
            if len(words) == 2:
                break
        elif words:
            break
    return words


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except Camera2MqttError as error:
        print(f"camera2mqtt: {error}", file=sys.stderr)
        return int(getattr(error, "exit_code", EXIT_FAILURE))
    except OSError as error:
        # A file or device problem no command foresaw: still one sentence, not a traceback.
        where = f" ({error.filename})" if error.filename is not None else ""
        print(f"camera2mqtt: {error.strerror or error}{where}.", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
