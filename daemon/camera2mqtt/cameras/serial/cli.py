"""``camera2mqtt serial``: talk to a photopc/Sierra camera from the command line.

camera2mqtt serial --port /dev/ttyUSB0 info
camera2mqtt serial --port /dev/ttyUSB0 download --output photos/
camera2mqtt serial --port socket://127.0.0.1:4000 get 10
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from camera2mqtt.cameras.base import ImageRef, InvalidCommand
from camera2mqtt.cameras.serial.camera import SerialCamera
from camera2mqtt.cameras.serial.link import LinkTimeouts
from camera2mqtt.cameras.serial.registers import DEFAULT_SPEED, SETTINGS, SPEED_CODES
from camera2mqtt.files import write_atomically
from camera2mqtt.folders import check_output_file, check_output_folder
from camera2mqtt.library.cli import add_retries_option, download_to_folder

__all__ = ["register"]

DEFAULT_TIMEOUT_S = LinkTimeouts().reply
MAX_HEX_BYTES = 256  # longer register values are summarised, not dumped


def register(commands: Any, simulators: Any) -> None:
    """Add ``camera2mqtt serial`` and its sub-commands."""
    parser = commands.add_parser(
        "serial",
        help="talk to a photopc/Sierra serial camera",
        description="Talk to a photopc/Sierra serial camera (Olympus C-series, Epson, ...).",
    )
    parser.add_argument(
        "--port",
        required=True,
        help="serial device (/dev/ttyUSB0) or pyserial URL (socket://HOST:PORT, rfc2217://...)",
    )
    parser.add_argument(
        "--speed",
        type=int,
        default=DEFAULT_SPEED,
        choices=sorted(SPEED_CODES),
        metavar="BAUD",
        help="highest line speed to try (default: %(default)s; lower ones are tried next)",
    )
    parser.add_argument("--model", help="camera model, for its quirks (e.g. c-2020z, c-990)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="wait for each answer of the camera (default: %(default)s)",
    )
    actions = parser.add_subparsers(dest="serial_command", required=True, metavar="COMMAND")

    actions.add_parser("info", help="model, firmware, battery, frames").set_defaults(func=_info)
    actions.add_parser("shoot", help="take a picture").set_defaults(func=_shoot)
    actions.add_parser("list", help="list the pictures on the card").set_defaults(func=_list)

    download = actions.add_parser("download", help="copy pictures to a folder")
    download.add_argument("frames", nargs="*", type=int, metavar="FRAME", help="default: all")
    download.add_argument("--output", "-o", type=Path, default=Path("."), metavar="DIR")
    add_retries_option(download)
    download.set_defaults(func=_download)

    preview = actions.add_parser("preview", help="save one live-view JPEG")
    preview.add_argument("file", type=Path, metavar="FILE")
    preview.set_defaults(func=_preview)

    clock = actions.add_parser("set-clock", help="set the camera clock to this computer's")
    clock.set_defaults(func=_set_clock)

    names = ", ".join(s.name for s in SETTINGS)
    get = actions.add_parser("get", help="read a register (number) or a setting (name)")
    get.add_argument("register", metavar="REG", help=f"register number, or one of: {names}")
    get.add_argument("--frame", type=int, help="select this frame first (registers 12-15, 47)")
    get.set_defaults(func=_get)

    put = actions.add_parser("set", help="write a register (number) or a setting (name)")
    put.add_argument("register", metavar="REG")
    put.add_argument("value", metavar="VALUE")
    put.set_defaults(func=_set)


def _open(args: argparse.Namespace) -> SerialCamera:
    camera = SerialCamera(
        args.port,
        speed=args.speed,
        model=args.model,
        timeouts=LinkTimeouts.scaled(args.timeout),
    )
    camera.connect()
    return camera


def _with_camera(args: argparse.Namespace, work: Callable[[SerialCamera], int]) -> int:
    camera = _open(args)
    try:
        return work(camera)
    finally:
        camera.close()


def _info(args: argparse.Namespace) -> int:
    def work(camera: SerialCamera) -> int:
        info = camera.info
        status = camera.status()
        rows = [
            ("model", info.model),
            ("manufacturer", info.manufacturer),
            ("firmware", info.firmware),
            ("serial number", info.serial_number),
            ("line speed", f"{camera.line_speed} baud"),
            ("battery", _or_unknown(status.battery_percent, "%")),
            ("frames taken", _or_unknown(status.frames_taken)),
            ("frames left", _or_unknown(status.frames_left)),
            ("card", _or_unknown(status.card_present)),
            ("mode", _or_unknown(status.mode)),
            ("clock", status.details.get("clock", "unknown")),
        ]
        for name, value in rows:
            print(f"{name + ':':15} {value}")
        return 0

    return _with_camera(args, work)


def _shoot(args: argparse.Namespace) -> int:
    def work(camera: SerialCamera) -> int:
        for ref in camera.shoot():
            print(_describe(ref))
        return 0

    return _with_camera(args, work)


def _list(args: argparse.Namespace) -> int:
    def work(camera: SerialCamera) -> int:
        for ref in camera.list_images():
            print(_describe(ref))
        return 0

    return _with_camera(args, work)


def _download(args: argparse.Namespace) -> int:
    check_output_folder(args.output)  # before the camera is woken up

    def work(camera: SerialCamera) -> int:
        count = camera.frame_count()
        wanted = args.frames or list(range(1, count + 1))
        missing = [n for n in wanted if not 1 <= n <= count]
        if missing:
            raise InvalidCommand(
                f"The camera has frames 1 to {count}; there is no frame "
                f"{', '.join(map(str, missing))}."
            )
        refs = [camera.image(frame) for frame in wanted]
        return download_to_folder(
            camera, refs, folder=args.output, template="{name}", retries=args.retries
        )

    return _with_camera(args, work)


def _preview(args: argparse.Namespace) -> int:
    target: Path = check_output_file(args.file)

    def work(camera: SerialCamera) -> int:
        data = camera.snapshot()
        path = write_atomically(target.parent, target.name, [data], expected_size=len(data))
        print(f"{path} ({len(data)} bytes)")
        return 0

    return _with_camera(args, work)


def _set_clock(args: argparse.Namespace) -> int:
    def work(camera: SerialCamera) -> int:
        camera.set_clock()
        print(f"camera clock set to {camera.clock().isoformat(timespec='seconds')}")
        return 0

    return _with_camera(args, work)


def _get(args: argparse.Namespace) -> int:
    def work(camera: SerialCamera) -> int:
        if args.register.isdigit():
            value = camera.read_register(int(args.register), frame=args.frame)
            if isinstance(value, bytes) and len(value) > MAX_HEX_BYTES:
                print(f"{len(value)} bytes of data (use download or preview for pictures)")
            else:
                print(value.hex(" ") if isinstance(value, bytes) else value)
        else:
            prop = camera.get_property(args.register)
            allowed = f" (allowed: {', '.join(prop.allowed)})" if prop.allowed else ""
            print(f"{prop.name} = {prop.value}{allowed}")
        return 0

    return _with_camera(args, work)


def _set(args: argparse.Namespace) -> int:
    def work(camera: SerialCamera) -> int:
        if args.register.isdigit():
            value: int | str
            try:
                value = int(args.value, 0)
            except ValueError:
                value = args.value
            camera.write_register(int(args.register), value)
        else:
            camera.set_property(args.register, args.value)
        print("ok")
        return 0

    return _with_camera(args, work)


def _describe(ref: ImageRef) -> str:
    stamp = ref.timestamp.isoformat(sep=" ", timespec="seconds") if ref.timestamp else "-"
    return f"{ref.index:4}  {ref.name:14} {ref.size:9}  {stamp}"


def _or_unknown(value: object, unit: str = "") -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "present" if value else "none"
    return f"{value}{unit}"
