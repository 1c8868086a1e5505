"""``camera2mqtt stream receive``: reassemble a relayed stream, save its frames, serve them.

Runs until ``--frames N`` frames arrived or SIGINT/SIGTERM; prints the counters at the end.
"""

from __future__ import annotations

import argparse
import queue
import sys
from pathlib import Path
from typing import Any

from camera2mqtt.argtypes import positive_int
from camera2mqtt.files import write_atomically
from camera2mqtt.lifecycle import stop_on_signals
from camera2mqtt.stream.live import FrameHub, LiveFrame
from camera2mqtt.stream.mjpeg import MjpegServer, MjpegServerError, parse_listen
from camera2mqtt.stream.receiver import ReceivedFrame, StreamReceiver

__all__ = ["register"]

FRAME_NAME = "stream-{index:05d}.jpg"
DEFAULT_NAME = "stream"
SAVE_QUEUE = 64
POLL_INTERVAL = 0.2


def register(commands: Any, simulators: Any) -> None:
    stream = commands.add_parser(
        "stream", help="live video on the LAN: receive a relayed camera stream"
    )
    actions = stream.add_subparsers(dest="stream_command", required=True, metavar="ACTION")
    receive = actions.add_parser(
        "receive",
        help="reassemble a stream sent by the daemon's relay; save or serve its frames",
        description="Listen for the stream packets of a camera2mqtt relay (stream_start), "
        "reassemble whole frames (a frame missing a packet is dropped) and save them "
        "(--out, --frames) and/or serve them as MJPEG over HTTP (--mjpeg).",
    )
    receive.add_argument(
        "--listen",
        required=True,
        type=_address("--listen"),
        metavar="HOST:PORT",
        help="UDP address to receive on; a multicast group (239.x.x.x) is joined",
    )
    receive.add_argument("--out", type=Path, metavar="DIR", help="save each frame in DIR")
    receive.add_argument(
        "--frames", type=positive_int, metavar="N", help="stop after N complete frames"
    )
    receive.add_argument(
        "--mjpeg",
        type=_address("--mjpeg"),
        metavar="HOST:PORT",
        help="serve the frames over HTTP at /cameras/NAME/live.mjpg and snapshot.jpg",
    )
    receive.add_argument(
        "--name", default=DEFAULT_NAME, help="camera name in the HTTP paths (default: stream)"
    )
    receive.set_defaults(func=run_receive)


def run_receive(args: argparse.Namespace) -> int:
    hub = FrameHub()
    saves: queue.Queue[ReceivedFrame] = queue.Queue(maxsize=SAVE_QUEUE)
    skipped = 0

    def on_frame(frame: ReceivedFrame) -> None:
        nonlocal skipped
        hub.publish(LiveFrame(frame.payload, frame.received_at))
        try:
            saves.put_nowait(frame)
        except queue.Full:
            skipped += 1

    receiver = StreamReceiver(*args.listen, on_frame=on_frame)
    server = MjpegServer(*args.mjpeg, {args.name: hub}) if args.mjpeg else None
    done = 0
    with stop_on_signals() as stop, receiver:
        _say(f"Receiving the stream on UDP {args.listen[0]}:{receiver.port}.")
        if server is not None:
            server.start()
            _say(f"Serving MJPEG at {server.url}cameras/{args.name}/live.mjpg")
        try:
            while not stop.is_set() and (args.frames is None or done < args.frames):
                try:
                    frame = saves.get(timeout=POLL_INTERVAL)
                except queue.Empty:
                    continue
                done += 1
                if args.out is not None:
                    name = FRAME_NAME.format(index=done)
                    write_atomically(args.out, name, [frame.payload], expected_size=None)
        finally:
            if server is not None:
                server.stop()
    counters = receiver.counters
    _say(f"Received {done} frames; {counters.summary()}, not saved (slow disk) {skipped}.")
    return 0


def _say(text: str) -> None:
    print(text)
    sys.stdout.flush()


def _address(option: str) -> Any:
    def parse(text: str) -> tuple[str, int]:
        try:
            return parse_listen(text, what=option)
        except MjpegServerError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse
