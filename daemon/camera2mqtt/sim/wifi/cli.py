"""``camera2mqtt simulate wifi``: run a simulated Olympus Wi-Fi camera until interrupted."""

from __future__ import annotations

import argparse
import logging
import threading
import time
from pathlib import Path

from camera2mqtt.lifecycle import stop_on_signals
from camera2mqtt.sim.wifi.liveview import RtpStreamer
from camera2mqtt.sim.wifi.models import MODELS
from camera2mqtt.sim.wifi.server import LOOPBACK, SimulatorError, WifiSimulator

__all__ = ["register"]

DEFAULT_MODEL = "e-m1-iii"
POLL_S = 0.2

log = logging.getLogger(__name__)


def register(commands: argparse._SubParsersAction, simulators: argparse._SubParsersAction) -> None:
    parser = simulators.add_parser(
        "wifi",
        help="simulated Olympus Wi-Fi camera (OI.Share HTTP protocol) on loopback",
        description=(
            "Serve the OI.Share HTTP protocol of an Olympus Wi-Fi camera on a loopback "
            "address, with a simulated card, modes and properties. Runs until Ctrl-C."
        ),
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=sorted(MODELS),
        help="camera body to simulate (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port to listen on (default: any free port)"
    )
    parser.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="serve the JPEG files of DIR as /DCIM/100OLYMP/... (never written to); "
        "without it a few pictures are generated in a temporary folder",
    )
    parser.add_argument(
        "--host",
        default=LOOPBACK,
        help="loopback address to listen on (default: %(default)s; other addresses are refused)",
    )
    parser.add_argument(
        "--power-on-after",
        type=float,
        metavar="SECONDS",
        help="after exec_pwoff, switch the camera back on this many seconds later "
        "(default: it stays off until the simulator is stopped)",
    )
    parser.set_defaults(func=run)


def _serve(sim: WifiSimulator, stop: threading.Event, power_on_after: float | None) -> None:
    off_since: float | None = None
    while not stop.wait(POLL_S):
        if sim.state.powered or power_on_after is None:
            off_since = None
            continue
        now = time.monotonic()
        off_since = now if off_since is None else off_since
        if now - off_since >= power_on_after:
            log.info("switching the simulated camera back on")
            sim.power_on()
            off_since = None


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise SimulatorError(f"--port {args.port} is not a TCP port; give 0-65535")
    if args.power_on_after is not None and args.power_on_after < 0:
        raise SimulatorError("--power-on-after must be 0 seconds or more")
    with (
        stop_on_signals() as stop,
        WifiSimulator(
            args.model,
            images_dir=args.images,
            host=args.host,
            port=args.port,
            liveview=RtpStreamer(),
        ) as sim,
    ):
        print(f"camera2mqtt wifi simulator ({args.model}) listening on {sim.url}", flush=True)
        _serve(sim, stop, args.power_on_after)
    return 0
