"""``camera2mqtt wifi``: one-shot commands against an Olympus Wi-Fi camera.

``info``, ``shoot``, ``download``, ``set-clock``, ``power-off``, ``props`` and ``cmd`` (raw
commands, checked against the camera's command list, as olympus-wifi's ``--cmd`` does).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from camera2mqtt.argtypes import positive_seconds
from camera2mqtt.cameras.base import ImageRef, InvalidCommand
from camera2mqtt.cameras.wifi.camera import WifiCamera
from camera2mqtt.cameras.wifi.client import DEFAULT_HOST, DEFAULT_PORT
from camera2mqtt.cameras.wifi.liveview_cli import add_liveview_command
from camera2mqtt.files import write_atomically
from camera2mqtt.folders import check_output_file, check_output_folder
from camera2mqtt.library.cli import add_retries_option, download_to_folder

__all__ = ["add_wifi_commands", "parse_host", "register"]

DEFAULT_TIMEOUT = 5.0
PICTURES_DIR = Path("~/Pictures")


def register(commands: Any, simulators: Any) -> None:
    parser = commands.add_parser(
        "wifi",
        help="one-shot commands for an Olympus Wi-Fi camera",
        description="Talk to an Olympus/OM System camera over Wi-Fi (OI.Share protocol). "
        "Join the camera's Wi-Fi network (Private mode) first.",
    )
    parser.add_argument(
        "--host",
        type=parse_host,
        default=(DEFAULT_HOST, DEFAULT_PORT),
        metavar="HOST[:PORT]",
        help=f"camera address (default: {DEFAULT_HOST})",
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help="seconds to wait for each reply (default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="wifi_command", required=True, metavar="COMMAND")
    add_wifi_commands(sub)
    add_extension_commands(sub)


def add_extension_commands(wifi_subparsers: Any) -> None:
    """Sub-commands that live in modules of their own (live view)."""
    add_liveview_command(wifi_subparsers)


def add_wifi_commands(sub: Any) -> None:
    info = sub.add_parser("info", help="model, firmware, modes, capabilities and status")
    info.set_defaults(func=_with_camera(_info))

    shoot = sub.add_parser("shoot", help="take a picture and print the new file(s)")
    shoot.set_defaults(func=_with_camera(_shoot))

    download = sub.add_parser(
        "download",
        help="download photos (skips files already present with the same size; never "
        "overwrites: a different file of the same name gets a -1 suffix)",
    )
    download.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="DIR",
        help="destination folder (default: ~/Pictures/YEAR, the year each photo was taken)",
    )
    download.add_argument(
        "--since",
        type=_parse_date,
        metavar="DATE",
        help="only photos taken on or after DATE (YYYY-MM-DD)",
    )
    download.add_argument(
        "--ext",
        type=_parse_extensions,
        metavar="JPG,ORF",
        help="only these file extensions (comma-separated)",
    )
    add_retries_option(download)
    download.set_defaults(func=_checked_output(_with_camera(_download)))

    clock = sub.add_parser("set-clock", help="set the camera clock to this computer's time")
    clock.set_defaults(func=_with_camera(_set_clock))

    power = sub.add_parser("power-off", help="turn the camera off")
    power.set_defaults(func=_with_camera(_power_off))

    props = sub.add_parser("props", help="list, read or change camera settings (rec mode)")
    props.add_argument(
        "action",
        nargs="*",
        metavar="[get NAME | set NAME VALUE]",
        help="without arguments: list every setting with its allowed values",
    )
    props.set_defaults(func=_with_camera(_props))

    cmd = sub.add_parser(
        "cmd",
        help="send raw commands, checked against the camera's command list",
        description='Each COMMAND is "NAME KEY=VALUE ..."; end it with "> FILE" to save the '
        "reply to FILE. Several commands run in order (the first often switches the mode, "
        'e.g. "switch_cammode mode=rec").',
    )
    cmd.add_argument("commands", nargs="+", metavar="COMMAND")
    cmd.set_defaults(func=_with_camera(_cmd))


# -- argument types ---------------------------------------------------------------------------


def parse_host(text: str) -> tuple[str, int]:
    """``HOST`` or ``HOST:PORT`` -> (host, port)."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = text.strip(), str(DEFAULT_PORT)
    if not host:
        raise argparse.ArgumentTypeError(f"no host name in {text!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port {port_text!r} is not a number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port {port} is out of range 1-65535")
    return host, port


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-06-30") from None


def _parse_extensions(text: str) -> frozenset[str]:
    extensions = frozenset(e.strip().lstrip(".").upper() for e in text.split(",") if e.strip())
    if not extensions:
        raise argparse.ArgumentTypeError("give at least one extension, e.g. JPG,ORF")
    return extensions


# -- commands ---------------------------------------------------------------------------------


def _with_camera(action: Callable[[WifiCamera, argparse.Namespace], int]) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        host, port = args.host
        camera = WifiCamera(host, port, timeout=args.timeout)
        try:
            camera.connect()
            return action(camera, args)
        finally:
            camera.close()

    return run


def _checked_output(run: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """``download``: refuse an output folder that cannot be written before connecting."""

    def checked(args: argparse.Namespace) -> int:
        check_output_folder(
            args.output.expanduser() if args.output is not None else PICTURES_DIR.expanduser()
        )
        return run(args)

    return checked


def _connected_line(camera: WifiCamera) -> str:
    info = camera.info
    line = f"Connected to {info.model or 'an unnamed camera'}"
    if info.firmware:
        line += f", version {info.firmware}"
    if info.details.get("oitrackversion"):
        line += f", oitrackversion {info.details['oitrackversion']}"
    return line + "."


def _info(camera: WifiCamera, args: argparse.Namespace) -> int:
    info = camera.info
    status = camera.status()
    print(_connected_line(camera))
    print(f"model:         {info.model}")
    print(f"firmware:      {info.firmware}")
    print(f"capabilities:  {', '.join(sorted(info.capabilities))}")
    print(f"modes:         {', '.join(camera.modes())}")
    print(f"live view:     {', '.join(camera.liveview_sizes()) or 'none'}")
    print(f"resize sizes:  {', '.join(camera.resize_sizes()) or 'none'}")
    for key, value in sorted(status.details.items()):
        if key != "model":
            print(f"{key + ':':<14} {value}")
    return 0


def _shoot(camera: WifiCamera, args: argparse.Namespace) -> int:
    _note(_connected_line(camera))
    for ref in camera.shoot():
        print(f"{ref.path}\t{ref.size}\t{_iso(ref)}")
    return 0


def _download(camera: WifiCamera, args: argparse.Namespace) -> int:
    """The library's sync without a store: a same-size file at the path is skipped, a
    different one keeps its name and the new photo gets a -1 suffix."""
    _note(_connected_line(camera))
    refs = [ref for ref in camera.list_images() if _wanted(ref, args.since, args.ext)]
    if args.output is not None:
        folder, template = args.output.expanduser(), "{name}"
    else:
        folder, template = PICTURES_DIR.expanduser(), "{year}/{name}"
    return download_to_folder(camera, refs, folder=folder, template=template, retries=args.retries)


def _set_clock(camera: WifiCamera, args: argparse.Namespace) -> int:
    when = datetime.now().replace(microsecond=0)
    camera.set_clock(when)
    print(f"Camera clock set to {when.isoformat()} ({when.astimezone().strftime('%z')}).")
    return 0


def _power_off(camera: WifiCamera, args: argparse.Namespace) -> int:
    camera.power_off()
    print("Camera turned off.")
    return 0


def _props(camera: WifiCamera, args: argparse.Namespace) -> int:
    action = args.action
    if not action:
        for prop in camera.properties():
            access = "rw" if prop.writable else "ro"
            allowed = f"  [{' '.join(dict.fromkeys(prop.allowed))}]" if prop.allowed else ""
            print(f"{prop.name} = {prop.value}  ({access}){allowed}")
        return 0
    if action[0] == "get" and len(action) == 2:
        print(camera.get_property(action[1]).value)
        return 0
    if action[0] == "set" and len(action) == 3:
        camera.set_property(action[1], action[2])
        print(f"{action[1]} = {action[2]}")
        return 0
    raise InvalidCommand("use 'props', 'props get NAME' or 'props set NAME VALUE'.")


def _cmd(camera: WifiCamera, args: argparse.Namespace) -> int:
    _note(_connected_line(camera))
    for text in args.commands:
        command, pairs, target = parse_raw_command(text)
        reply = camera.raw(command, pairs)
        if target is not None:
            target = check_output_file(target.expanduser())
            write_atomically(
                target.parent, target.name, [reply.body], expected_size=len(reply.body)
            )
        elif reply.is_text:
            sys.stdout.write(reply.body.decode("utf-8", errors="replace"))
            if reply.body and not reply.body.endswith(b"\n"):
                sys.stdout.write("\n")
        else:
            print(
                f"Command {text.strip()!r} returned {len(reply.body):,} bytes of "
                f"{reply.content_type or 'binary data'}. Re-run with redirection "
                f"('{text.strip()} > FILE') to obtain data."
            )
    return 0


def parse_raw_command(text: str) -> tuple[str, list[tuple[str, str]], Path | None]:
    """``"name k=v ... [> file]"`` -> (name, [(k, v), ...], file or None)."""
    command_part, redirect, target_text = text.partition(">")
    target = None
    if redirect:
        target_text = target_text.strip()
        if not target_text:
            raise InvalidCommand(f"no file name after '>' in {text!r}.")
        target = Path(target_text)
    try:
        words = shlex.split(command_part)
    except ValueError as error:
        raise InvalidCommand(f"cannot read {text!r}: {error}.") from None
    if not words:
        raise InvalidCommand("empty command; give e.g. 'get_caminfo'.")
    pairs = []
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidCommand(f"{word!r} in {text!r} is not KEY=VALUE.")
        pairs.append((key, value))
    return words[0], pairs, target


# -- helpers ----------------------------------------------------------------------------------


def _wanted(ref: ImageRef, since: date | None, extensions: frozenset[str] | None) -> bool:
    if extensions is not None and ref.name.rpartition(".")[2].upper() not in extensions:
        return False
    return not (since is not None and (ref.timestamp is None or ref.timestamp.date() < since))


def _iso(ref: ImageRef) -> str:
    return ref.timestamp.isoformat() if ref.timestamp else "-"


def _note(text: str) -> None:
    print(text, file=sys.stderr)
