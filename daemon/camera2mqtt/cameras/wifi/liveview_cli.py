"""``camera2mqtt wifi liveview``: save one live-view frame, or a run of them, from the camera.

Added under ``camera2mqtt wifi`` by :func:`add_liveview_command`; the command reads the
camera address and HTTP timeout from the ``wifi`` parser (``args.host``, ``args.timeout``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from camera2mqtt.argtypes import positive_int, positive_seconds
from camera2mqtt.cameras.wifi.liveview import DEFAULT_FIRST_FRAME_TIMEOUT, LiveView
from camera2mqtt.files import write_atomically
from camera2mqtt.folders import check_output_file, check_output_folder

__all__ = ["add_liveview_command"]

FRAME_NAME = "liveview-{index:05d}.jpg"
DEFAULT_BIND = "0.0.0.0"
_SIZE = re.compile(r"^\d{4}x\d{4}$")


def add_liveview_command(wifi_subparsers: Any) -> None:
    """Add ``liveview`` to the ``camera2mqtt wifi`` sub-commands."""
    parser = wifi_subparsers.add_parser(
        "liveview",
        help="save live-view frames (RTP over UDP) as JPEG files",
        description="Start the camera's live view, receive it on a UDP port of this computer "
        "and save one frame (--snapshot) or several (--frames N). Incoming UDP from the "
        "camera must be allowed by the firewall.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--snapshot", type=Path, metavar="FILE", help="save one good frame to FILE")
    what.add_argument("--frames", type=positive_int, metavar="N", help="save N frames into --out")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="folder for --frames (default: the current folder)",
    )
    parser.add_argument(
        "--size",
        type=_size,
        metavar="WWWWxHHHH",
        help="live-view size the camera offers, e.g. 0640x0480 (default: the camera's)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=0,
        metavar="N",
        help="UDP port to receive on (default: 0, any free port)",
    )
    parser.add_argument(
        "--bind",
        default=DEFAULT_BIND,
        metavar="ADDRESS",
        help="local address to receive on (default: %(default)s, every interface)",
    )
    parser.add_argument(
        "--first-frame-timeout",
        type=positive_seconds,
        default=DEFAULT_FIRST_FRAME_TIMEOUT,
        metavar="S",
        help="seconds to wait for a frame before giving up (default: %(default)s)",
    )
    parser.set_defaults(func=run_liveview)


def run_liveview(args: argparse.Namespace) -> int:
    # Imported here: the driver module is large and only this command needs it.
    from camera2mqtt.cameras.wifi import WifiCamera

    # Before the camera starts streaming: a path that cannot be written is one sentence.
    if args.snapshot is not None:
        check_output_file(args.snapshot)
    else:
        check_output_folder(args.out)
    host, port = args.host if isinstance(args.host, tuple) else (args.host, 80)
    camera = WifiCamera(host, port, timeout=args.timeout)
    try:
        camera.connect()
        live = LiveView(
            camera,
            port=args.port,
            size=args.size,
            bind_host=args.bind,
            camera_host=host,
            first_frame_timeout=args.first_frame_timeout,
        )
        try:
            with live:
                _say(f"Receiving live view on UDP port {live.port}.")
                if args.snapshot is not None:
                    jpeg = live.snapshot()
                    path = _save(args.snapshot.parent, args.snapshot.name, jpeg)
                    _say(f"Saved {path} ({len(jpeg)} bytes).")
                else:
                    saved = 0
                    for frame in live.frames():
                        saved += 1
                        _save(args.out, FRAME_NAME.format(index=saved), frame.jpeg)
                        if saved == args.frames:
                            break
                    _say(f"Saved {saved} frames in {args.out}.")
        finally:
            _say(f"Counters: {live.counters.summary()}.")
    finally:
        camera.close()
    return 0


def _save(folder: Path, name: str, jpeg: bytes) -> Path:
    return write_atomically(folder, name, [jpeg], expected_size=len(jpeg))


def _say(text: str) -> None:
    print(text)
    sys.stdout.flush()


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a UDP port is 0..65535 (0 picks a free one)")
    return value


def _size(text: str) -> str:
    if not _SIZE.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a live-view size; write it like 0640x0480"
        )
    return text
