"""``camera2mqtt simulate serial``: run a simulated photopc/Sierra camera on a pty."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.lifecycle import stop_on_signals
from camera2mqtt.sim.serial.models import DEFAULT_MODEL, MODELS
from camera2mqtt.sim.serial.server import SerialSimulator

__all__ = ["LinkError", "register", "run_simulator"]


class LinkError(Camera2MqttError):
    """The --link path cannot be made into a symlink to the simulator's pty."""


def register(commands: argparse._SubParsersAction, simulators: argparse._SubParsersAction) -> None:
    del commands
    parser = simulators.add_parser(
        "serial",
        help="a photopc/Sierra serial camera on a pseudo-terminal",
        description=(
            "Simulate a photopc/Sierra serial camera on a pseudo-terminal. Prints one line "
            "ending in the pty path once ready, then serves until SIGINT or SIGTERM."
        ),
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=sorted(MODELS),
        help="camera profile (default: %(default)s)",
    )
    parser.add_argument(
        "--link",
        type=Path,
        metavar="PATH",
        help="make PATH a symlink to the pty (removed on exit)",
    )
    parser.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="folder of JPEG files to serve as frames (default: generated pictures)",
    )
    parser.add_argument(
        "--pace", action="store_true", help="send at the negotiated baud rate, like a real line"
    )
    parser.add_argument(
        "--idle-reset",
        type=_idle_seconds,
        default=None,
        metavar="S",
        help="seconds of quiet before the camera sends 0xff and drops to 19200 "
        "(default: the model's value; 0 = never)",
    )
    parser.set_defaults(func=run_simulator)


def _idle_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the idle reset time cannot be negative")
    return value


def run_simulator(args: argparse.Namespace) -> int:
    idle: dict[str, float | None] = {}
    if args.idle_reset is not None:
        idle["idle_reset_s"] = args.idle_reset or None
    simulator = SerialSimulator(args.model, images_dir=args.images, pace=args.pace, **idle)
    with stop_on_signals() as stop, simulator:
        link: Path | None = args.link
        if link is not None:
            _make_link(link, simulator.slave_path)
        try:
            where = f"link {link} -> " if link is not None else ""
            print(
                f"serial camera simulator ({simulator.profile.name}, "
                f"{len(simulator.state.frames)} frames) ready: {where}{simulator.slave_path}",
                flush=True,
            )
            stop.wait()
        finally:
            if link is not None:
                _remove_link(link, simulator.slave_path)
    return 0


def _make_link(link: Path, target: str) -> None:
    if link.is_symlink():
        link.unlink()  # left over from a simulator that was killed
    elif link.exists():
        raise LinkError(
            f"{link} exists and is not a symlink; give --link a free path or remove that file"
        )
    try:
        link.symlink_to(target)
    except OSError as error:
        raise LinkError(f"cannot create symlink {link}: {error.strerror}") from None


def _remove_link(link: Path, target: str) -> None:
    with contextlib.suppress(OSError):
        if link.is_symlink() and os.readlink(link) == target:
            link.unlink()
