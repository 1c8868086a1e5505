"""``camera2mqtt run --config FILE``: run the daemon in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from camera2mqtt.config import EX_CONFIG, ConfigError, load_config
from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.logs import configure_logging

__all__ = ["register", "run"]


def register(commands: argparse._SubParsersAction, simulators: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="run the daemon: cameras on MQTT with Home Assistant discovery",
        description=(
            "Connect to the MQTT broker and every configured camera and serve them until "
            f"SIGTERM or SIGINT. Exit status {EX_CONFIG} when the configuration has problems."
        ),
    )
    parser.add_argument(
        "-c", "--config", metavar="FILE", type=Path, required=True, help="the YAML configuration"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, check_folders=True)
    except ConfigError as error:
        sys.stderr.write(f"camera2mqtt: {error}\n")
        return EX_CONFIG
    # The more verbose of --log-level and the file's log_level wins.
    level = min(logging.getLevelName(config.log_level), logging.getLevelName(args.log_level))
    configure_logging(level)
    from camera2mqtt.service import Service

    try:
        service = Service(config)
    except (Camera2MqttError, OSError) as error:
        # Everything here comes from the configuration (topics, TLS files, state_dir): under
        # systemd, exit 78 stops the restart loop (RestartPreventExitStatus=78).
        sys.stderr.write(f"camera2mqtt: cannot start with {args.config}: {_sentence(error)}\n")
        return EX_CONFIG
    code = service.run()
    if service.restart_requested:
        # Same process id, so systemd (Type=notify) keeps following us; READY=1 comes again.
        logging.getLogger(__name__).warning("Restarting camera2mqtt")
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "camera2mqtt", *sys.argv[1:]])
    return code


def _sentence(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.strerror or error} ({error.filename}); check the folders in the file."
    return str(error)
