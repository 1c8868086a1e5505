"""``camera2mqtt check-config FILE``: validate a configuration without connecting to anything."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from camera2mqtt.config import EX_CONFIG, ConfigError, load_config, redacted

__all__ = ["check_config", "register"]


def register(commands: argparse._SubParsersAction, simulators: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "check-config",
        help="validate a configuration file and show it with secrets hidden",
        description=(
            "Read and validate FILE exactly as `camera2mqtt run` would (including that this "
            "user can write to or create its folders), without connecting to the broker or any "
            "camera. Prints 'ok' and the effective settings (secrets shown "
            f"as ***), or every problem with its line; exit status {EX_CONFIG} on problems."
        ),
    )
    parser.add_argument("file", metavar="FILE", type=Path, help="the YAML configuration file")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only 'ok', not the effective settings"
    )
    parser.set_defaults(func=check_config)


def check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.file, check_folders=True)
    except ConfigError as error:
        sys.stderr.write(f"camera2mqtt: {error}\n")
        return EX_CONFIG
    camera_count = len(config.cameras)
    sys.stdout.write(f"ok: {args.file}: {camera_count} camera{'s' if camera_count != 1 else ''}\n")
    if not args.quiet:
        sys.stdout.write(yaml.safe_dump(redacted(config), sort_keys=False))
    return 0
