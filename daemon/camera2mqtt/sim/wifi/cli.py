"""``camera2mqtt simulate wifi``: run a simulated Olympus Wi-Fi camera until interrupted."""

from __future__ import annotations

import argparse
import logging
import threading
import time
from pathlib import Path

from camera2mqtt.lifecycle import stop_on_signals
from camera2mqtt.sim.wifi.hostile import Attack, HostileCamera
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
    parser.add_argument(
        "--hostile",
        action="append",
        metavar="TARGET=ATTACK",
        help="play a hostile camera instead, whose reply to TARGET (a command such as "
        "get_imglist, or FILE for downloads) attacks the client; ATTACK is one of "
        f"{', '.join(attack.value for attack in Attack)}; repeatable",
    )
    parser.add_argument(
        "--range",
        action="store_true",
        help="answer 'Range: bytes=N-' on card files with 206 (default: the whole file, "
        "since whether real bodies honour Range is not known)",
    )
    parser.set_defaults(func=run)


def _attacks(specs: list[str]) -> list[tuple[str, Attack]]:
    attacks = []
    for spec in specs:
        target, _, name = spec.partition("=")
        try:
            attacks.append((target.strip(), Attack(name.strip())))
        except ValueError:
            raise SimulatorError(
                f"--hostile {spec}: give TARGET=ATTACK with ATTACK one of "
                f"{', '.join(attack.value for attack in Attack)}"
            ) from None
        if not target.strip():
            raise SimulatorError(f"--hostile {spec}: name the command (or FILE) to attack")
    return attacks


def _run_hostile(args: argparse.Namespace) -> int:
    attacks = _attacks(args.hostile)
    with (
        stop_on_signals() as stop,
        HostileCamera(args.model, host=args.host, port=args.port) as camera,
    ):
        for target, attack in attacks:
            camera.attack(target, attack)
        shown = ", ".join(f"{target}={attack.value}" for target, attack in attacks)
        print(
            f"camera2mqtt hostile wifi camera ({shown}) listening on "
            f"http://{args.host}:{camera.port}",
            flush=True,
        )
        stop.wait()
    return 0


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
    if args.hostile:
        return _run_hostile(args)
    with (
        stop_on_signals() as stop,
        WifiSimulator(
            args.model,
            images_dir=args.images,
            host=args.host,
            port=args.port,
            liveview=RtpStreamer(),
            honour_range=args.range,
        ) as sim,
    ):
        print(f"camera2mqtt wifi simulator ({args.model}) listening on {sim.url}", flush=True)
        _serve(sim, stop, args.power_on_after)
    return 0
