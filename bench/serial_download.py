"""Serial download speed: our driver against photopc on the same simulated line.

The simulator paces its bytes at the negotiated speed (115200 baud, 10 bits per byte), so
both clients see a real line's timing. Each downloads the same frame (over 500 kB); the
script prints both times, the ratio ours/photopc (target <= 1.0) and our share of the line
rate: payload bytes * 10 bits / 115200 / time (target >= 90 %).

    python bench/serial_download.py [--frame N] [--speed 115200]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from camera2mqtt.cameras.serial import SerialCamera
from camera2mqtt.sim.serial import SerialSimulator

BITS_PER_BYTE = 10
PHOTOPC_TIMEOUT_S = 600


def time_ours(
    sim: SerialSimulator, frame: int, speed: int, out_dir: Path
) -> tuple[float, float, int, str]:
    """(whole session, download alone, bytes, link counters).

    The session is what photopc's run does too: open, init, speed change, frame
    information, download, end of session.
    """
    started = time.perf_counter()
    camera = SerialCamera(sim.slave_path, speed=speed)
    camera.connect()
    try:
        ref = camera.image(frame)
        download_started = time.perf_counter()
        path = camera.download(ref, out_dir)
        download = time.perf_counter() - download_started
        stats = camera._link.stats if camera._link is not None else None
        counters = (
            f"{stats.packets} packets taken, {stats.failures} NAKed, "
            f"{stats.confirmations} fetched twice"
            if stats is not None
            else "-"
        )
    finally:
        camera.close()
    session = time.perf_counter() - started
    expected = sim.state.frames[frame - 1][1]
    if path.read_bytes() != expected:
        sys.exit("our download differs from the simulator's frame")
    return session, download, len(expected), counters


def time_photopc(sim: SerialSimulator, frame: int, speed: int, out_dir: Path) -> float:
    photopc = shutil.which("photopc")
    if photopc is None:
        sys.exit("photopc is not installed (apt-get install photopc)")
    target = out_dir / "photopc.jpg"
    command = [photopc, "-q", "-s", str(speed), "-l", sim.slave_path, "image", str(frame)]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, str(target)], capture_output=True, text=True, timeout=PHOTOPC_TIMEOUT_S
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"photopc failed ({result.returncode}): {result.stderr.strip()}")
    if target.read_bytes() != sim.state.frames[frame - 1][1]:
        sys.exit("photopc's download differs from the simulator's frame")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frame", type=int, default=1, help="frame to download (default: 1)")
    parser.add_argument("--speed", type=int, default=115200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp, SerialSimulator(pace=True) as sim:
        out = Path(temp)
        ours, download, size, counters = time_ours(sim, args.frame, args.speed, out)
        theirs = time_photopc(sim, args.frame, args.speed, out)
    line = size * BITS_PER_BYTE / args.speed
    print(f"frame {args.frame}: {size} bytes at {args.speed} baud (line time {line:.2f} s)")
    print("whole run: open, init, speed change, frame info, download, end of session")
    print(f"  ours:    {ours:7.2f} s  ({line / ours:6.1%} of the line rate)")
    print(f"  photopc: {theirs:7.2f} s  ({line / theirs:6.1%} of the line rate)")
    print(f"  ratio ours/photopc: {ours / theirs:.3f}   (target <= 1.0)")
    print(f"our link: {counters}")
    print(
        f"our download alone: {download:.2f} s  ({line / download:.1%} of the line rate, "
        "target >= 90 %)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
