"""Wi-Fi simulator serving cost, against the stdlib file server in the same run.

Usage: python bench/wifi_sim.py [--files N] [--rounds R] [--size-kb K]

1. Download: the same JPEG file is fetched R times from (a) ``http.server``'s
   SimpleHTTPRequestHandler on a ThreadingHTTPServer and (b) the simulator's
   ``GET /DCIM/100OLYMP/...``; bytes per second and the ratio (b)/(a) are printed.
2. Listing: R ``get_imglist`` calls on a card of N files (1,107 by default, the size of the
   largest real listing found) against R fetches of a static text file of the same length
   from the reference server; requests per second and the ratio are printed.

Only 127.0.0.1 is used. Both servers run in this process, one at a time.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "daemon"))

from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.wifi import WifiSimulator

HOST = "127.0.0.1"
TIMEOUT_S = 60.0


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _timed_fetches(session: requests.Session, url: str, rounds: int) -> tuple[float, int]:
    total = 0
    started = time.perf_counter()
    for _ in range(rounds):
        response = session.get(url, timeout=TIMEOUT_S)
        response.raise_for_status()
        total += len(response.content)
    return time.perf_counter() - started, total


def _reference_server(folder: Path) -> tuple[ThreadingHTTPServer, threading.Thread]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1107)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--size-kb", type=int, default=4000, help="size of the download")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-wifi-sim-") as tmp:
        folder = Path(tmp)
        big = make_jpeg(2400, 1800, "bench", seed=1, quality=95)
        while len(big) < args.size_kb * 1024:
            big += big[2:]  # still starts FFD8; only the bytes on the wire matter here
        (folder / "P1010001.JPG").write_bytes(big[: args.size_kb * 1024])
        small = make_jpeg(64, 48, "x")
        for index in range(2, args.files + 1):
            (folder / f"P101{index:04d}.JPG").write_bytes(small)
        names = sorted(p.name for p in folder.iterdir())

        session = requests.Session()
        with WifiSimulator("e-m1-iii", images_dir=folder) as sim:
            listing = session.get(
                sim.url + "/get_imglist.cgi?DIR=/DCIM/100OLYMP", timeout=TIMEOUT_S
            ).content
            sim_dl, sim_bytes = _timed_fetches(
                session, sim.url + "/DCIM/100OLYMP/P1010001.JPG", args.rounds
            )
            sim_ls, _ = _timed_fetches(
                session, sim.url + "/get_imglist.cgi?DIR=/DCIM/100OLYMP", args.rounds
            )
        (folder / "listing.txt").write_bytes(listing)
        server, thread = _reference_server(folder)
        try:
            base = f"http://{HOST}:{server.server_address[1]}"
            ref_dl, ref_bytes = _timed_fetches(session, base + "/P1010001.JPG", args.rounds)
            ref_ls, _ = _timed_fetches(session, base + "/listing.txt", args.rounds)
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)

    assert sim_bytes == ref_bytes
    mb = 1024 * 1024
    print(f"card: {len(names)} files; listing body {len(listing)} bytes; rounds {args.rounds}")
    print(
        f"download {args.size_kb} KiB: reference {ref_bytes / ref_dl / mb:8.1f} MiB/s, "
        f"simulator {sim_bytes / sim_dl / mb:8.1f} MiB/s, ratio {ref_dl / sim_dl:.2f}"
    )
    print(
        f"get_imglist ({len(names)} files): reference {args.rounds / ref_ls:8.1f} req/s, "
        f"simulator {args.rounds / sim_ls:8.1f} req/s, ratio {ref_ls / sim_ls:.2f}"
    )
    print("(ratio = simulator speed / reference speed; 1.00 = as fast as the stdlib server)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
