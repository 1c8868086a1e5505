"""Wi-Fi download throughput and memory: our driver against curl, same files, same simulator.

The simulator (in this process, on 127.0.0.1) serves a card with a few JPEGs and one large
ORF file (1.1 GB by default, sparse on disk so the bench needs no real data). Each round
downloads the whole card twice, alternating: (a) with curl, one request per file, each file
then fsynced, timed from the first curl's start to the last fsync; and (b) with
``camera2mqtt.cameras.wifi.WifiCamera`` in a child process (connect, list the card, download
each file through a temp file with fsync and rename), timed by the child from connect() to
the last file, so Python's own start-up (about 0.2 s of imports) is not counted. The best
round of each gives the throughput ratio b/a; the median ratio is printed too. Our child
reports its peak RSS (VmHWM) itself.

    python bench/wifi_download.py [--size-mb 1100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.wifi import WifiSimulator

USER_AGENT = "OI.Share v2"
TARGET_RATIO = 0.95
TARGET_RSS_MB = 60

# Runs in the child: list the card, download every file into DEST, exit.
OUR_DOWNLOAD = """
import sys
import time
from pathlib import Path
from camera2mqtt.cameras.wifi import WifiCamera

host, port, dest = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
began = time.perf_counter()
camera = WifiCamera(host, port, timeout=30)
camera.connect()
try:
    for ref in camera.list_images():
        camera.download(ref, dest)
finally:
    camera.close()
seconds = time.perf_counter() - began
# This process's own high-water mark (ru_maxrss would include the parent's, through exec).
status = Path("/proc/self/status").read_text()
print(seconds, next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
"""

CURL_DOWNLOAD = """
import os, subprocess, sys
base, dest, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
for path in paths:
    target = os.path.join(dest, os.path.basename(path))
    subprocess.run(["curl", "-sf", "-A", "OI.Share v2", "-o", target, base + path], check=True)
    fd = os.open(target, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
"""


def make_card(folder: Path, size_mb: int) -> None:
    """A DCIM folder: three real JPEGs and one sparse ORF of ``size_mb`` MiB."""
    card = folder / "100OLYMP"
    card.mkdir(parents=True)
    for number in range(1, 4):
        jpeg = make_jpeg(1600, 1200, f"bench {number}", seed=number)
        (card / f"P101000{number}.JPG").write_bytes(jpeg)
    with open(card / "P1010004.ORF", "wb") as raw:
        raw.truncate(size_mb * 1024 * 1024)


def timed_child(argv: list[str]) -> tuple[float, str]:
    """Seconds from start to exit, and what the child printed."""
    began = time.perf_counter()
    process = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - began
    if process.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed with exit status {process.returncode}")
    return elapsed, process.stdout


def same_files(left: Path, right: Path) -> bool:
    names = sorted(p.name for p in left.iterdir())
    if names != sorted(p.name for p in right.iterdir()):
        return False
    return all(
        subprocess.run(["cmp", "-s", left / name, right / name]).returncode == 0 for name in names
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1100, help="size of the large file")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed (apt-get install curl)")

    with tempfile.TemporaryDirectory(prefix="c2m-bench-") as scratch:
        scratch_dir = Path(scratch)
        images = scratch_dir / "card"
        make_card(images, args.size_mb)
        with WifiSimulator("e-m1-iii", images_dir=images) as sim:
            paths = [f"/DCIM/100OLYMP/{p.name}" for p in sorted((images / "100OLYMP").iterdir())]
            total = sum((images / "100OLYMP" / Path(p).name).stat().st_size for p in paths)
            print(f"card: {len(paths)} files, {total / 1e6:.1f} MB (largest {args.size_mb} MiB)")
            times: dict[str, list[float]] = {"curl": [], "ours": []}
            peak_rss = 0.0
            for round_number in range(1, args.rounds + 1):
                for name in ("curl", "ours"):
                    dest = scratch_dir / name
                    shutil.rmtree(dest, ignore_errors=True)
                    dest.mkdir()
                    if name == "curl":
                        argv = [sys.executable, "-c", CURL_DOWNLOAD, sim.url, str(dest), *paths]
                    else:
                        argv = [sys.executable, "-c", OUR_DOWNLOAD, "127.0.0.1", str(sim.port)]
                        argv.append(str(dest))
                    seconds, output = timed_child(argv)
                    if name == "ours":
                        # From connect to the last file, without the interpreter's start-up.
                        seconds, high_water_kb = output.split()
                        seconds = float(seconds)
                        peak_rss = max(peak_rss, int(high_water_kb) / 1024)
                    times[name].append(seconds)
                    rate = total / seconds / 1e6
                    print(f"round {round_number}: {name:4} {seconds:6.2f} s  {rate:7.1f} MB/s")
                if not same_files(scratch_dir / "curl", scratch_dir / "ours"):
                    raise SystemExit("the two downloads differ")
                for name in ("curl", "ours"):
                    shutil.rmtree(scratch_dir / name, ignore_errors=True)

    best = {name: min(values) for name, values in times.items()}
    ratio = best["curl"] / best["ours"]
    median_ratio = statistics.median(times["curl"]) / statistics.median(times["ours"])
    print(f"(a) curl          : {total / best['curl'] / 1e6:7.1f} MB/s (best of {args.rounds})")
    print(f"(b) camera2mqtt   : {total / best['ours'] / 1e6:7.1f} MB/s (best of {args.rounds})")
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"throughput b/a    : {ratio:7.2f}   (target >= {TARGET_RATIO}: {verdict})")
    print(f"  median b/a      : {median_ratio:7.2f}   (rounds scatter on a busy machine)")
    verdict = "met" if peak_rss < TARGET_RSS_MB else "MISSED"
    print(f"our peak RSS      : {peak_rss:7.1f} MB (target < {TARGET_RSS_MB} MB: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
