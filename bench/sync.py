"""Photo sync: the store's cost, finding what is new, and per-file cost against curl.

The Wi-Fi simulator (in a process of its own, like a camera, on 127.0.0.1) serves a card of
``--files`` files of 16 KiB. Three measurements, each side by side in the same run:

1. A sync of the whole card through the SQLite store against the same sync without a store
   (``SyncJob(store=None)``: the same fetch, fsync and link, only no records), each in a
   child process timed from connect to the last file, alternating for ``--rounds`` rounds.
   Goal: the store costs at most 5 %.
2. Finding what is new on a 10,000-file card whose store already holds 9,990 of them:
   ``SyncJob.plan()`` on the listed files (one query, then set lookups). Goal: under 50 ms.
3. Per-file cost of the store sync in (1) against curl fetching the same URL list (one curl
   process, one ``-o`` per URL). Goal: at most 1.5 times curl's. curl does not fsync; our
   sync makes each file durable before it is recorded, so a fourth run, for the breakdown
   only, repeats the store sync with ``os.fsync`` and ``os.fdatasync`` patched out.

The four runs alternate within each round (in the opposite order every other round), each
starting after an ``os.sync()`` (so none pays for the writeback of the files an earlier run
left unsynced), and each ratio is the median of the rounds' own ratios (runs side by side,
so a machine that gets busier between rounds moves both sides).

    python bench/sync.py [--files 1000] [--rounds 6]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from camera2mqtt.cameras.base import ImageRef
from camera2mqtt.library import DownloadStore, Identity, SyncJob, SyncOptions
from camera2mqtt.sim.wifi import WifiSimulator
from camera2mqtt.statedb import StateDB

FILE_SIZE = 16 * 1024
FOLDER = "/DCIM/100OLYMP"
STORE_TARGET = 1.05
FIND_TARGET_MS = 50.0
CURL_TARGET = 1.5
BIG_CARD = 10_000

# Runs in the child: connect, sync the card into DEST (with or without a store), print the
# seconds from connect to the last file.
OUR_SYNC = """
import sys, time
from pathlib import Path
from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.library import DownloadStore, SyncJob, SyncOptions
from camera2mqtt.statedb import StateDB

port, dest, state = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
if sys.argv[5] == "nosync":  # measurement only: what the data fsync costs
    import os
    os.fdatasync = os.fsync = lambda fd: None
began = time.perf_counter()
camera = WifiCamera("127.0.0.1", port, timeout=30)
camera.connect()
db = StateDB.in_state_dir(state) if state != "-" else None
store = DownloadStore(db) if db is not None else None
job = SyncJob(camera, store, camera_id="bench", camera_name="bench", download_dir=dest,
              options=SyncOptions(which="all", template="{name}"))
summary = job.run()
seconds = time.perf_counter() - began
camera.close()
assert len(summary.done) == int(sys.argv[4]), summary.failed[:3]
print(seconds)
"""


# Runs in the camera's process: a simulator with the card filled; prints its port, then
# serves until its standard input closes.
CAMERA = """
import sys
sys.path.insert(0, sys.argv[2])
from sync import fill_card
from camera2mqtt.sim.wifi import WifiSimulator
with WifiSimulator("e-m1-iii") as sim:
    sim.state.swap_card()
    fill_card(sim, int(sys.argv[1]))
    print(sim.port, flush=True)
    sys.stdin.read()
"""


def fill_card(sim: WifiSimulator, count: int) -> list[str]:
    start = datetime(2024, 5, 17, 8, 0, 0)
    paths = []
    for index in range(count):
        data = index.to_bytes(4, "big") * (FILE_SIZE // 4)
        name = f"P{index:07d}.JPG"
        sim.state.add_file(FOLDER, name, data, start + timedelta(seconds=index))
        paths.append(f"{FOLDER}/{name}")
    return paths


def run_child(argv: list[str]) -> float:
    process = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    if process.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed with exit status {process.returncode}")
    return float(process.stdout.split()[-1])


def curl_fetch(base: str, paths: list[str], dest: Path, config: Path) -> float:
    lines = []
    for index, path in enumerate(paths):
        lines.append(f'url = "{base}{path}"')
        lines.append(f'output = "{dest / str(index)}"')
    config.write_text("\n".join(lines) + "\n")
    began = time.perf_counter()
    subprocess.run(["curl", "-sf", "-A", "OI.Share v2", "-K", str(config)], check=True)
    return time.perf_counter() - began


def find_new(scratch: Path) -> float:
    """Milliseconds for plan() on a 10,000-file listing with 9,990 files in the store."""
    start = datetime(2024, 1, 1)
    refs = [
        ImageRef(f"{FOLDER}/P{index:07d}.JPG", 1000 + index, start + timedelta(seconds=index))
        for index in range(BIG_CARD)
    ]
    with StateDB(scratch / "find.sqlite3") as db:
        store = DownloadStore(db)
        with db.transaction() as conn:
            conn.executemany(
                "INSERT INTO library_downloads (camera, folder, name, size, taken, local_path,"
                " sha256, downloaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*Identity.of("bench", ref).key(), f"/p/{ref.name}", "0" * 64, "x")
                    for ref in refs[:-10]
                ],
            )

        class Listed:
            info = None

            def require(self, capability: object) -> None:
                pass

        best = float("inf")
        for _ in range(5):
            job = SyncJob(
                Listed(),  # type: ignore[arg-type]
                store,
                camera_id="bench",
                camera_name="bench",
                download_dir=scratch / "unused",
                options=SyncOptions(),
            )
            began = time.perf_counter()
            job.plan(refs)
            best = min(best, time.perf_counter() - began)
            assert job.files_total == 10, job.files_total
    return best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed (apt-get install curl)")
    with tempfile.TemporaryDirectory(prefix="c2m-sync-bench-") as scratch_name:
        scratch = Path(scratch_name)
        find_ms = find_new(scratch)
        camera = subprocess.Popen(
            [sys.executable, "-c", CAMERA, str(args.files), str(Path(__file__).parent)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert camera.stdin is not None and camera.stdout is not None
        with camera, camera.stdin:
            port = int(camera.stdout.readline())
            url = f"http://127.0.0.1:{port}"
            paths = [f"{FOLDER}/P{index:07d}.JPG" for index in range(args.files)]
            print(f"card: {args.files} files of {FILE_SIZE // 1024} KiB")
            times: dict[str, list[float]] = {
                "curl": [],
                "no store": [],
                "store": [],
                "nosync": [],
            }
            for round_number in range(1, args.rounds + 1):
                # Every other round runs in the opposite order, so that no run always
                # follows the same other one.
                order = list(times) if round_number % 2 else list(reversed(times))
                for name in order:
                    dest = scratch / "dest"
                    state = scratch / "state"
                    shutil.rmtree(dest, ignore_errors=True)
                    shutil.rmtree(state, ignore_errors=True)
                    dest.mkdir()
                    os.sync()  # the previous run's unwritten files must not slow this one
                    if name == "curl":
                        seconds = curl_fetch(url, paths, dest, scratch / "curl.cfg")
                    else:
                        argv = [sys.executable, "-c", OUR_SYNC, str(port), str(dest)]
                        argv.append("-" if name == "no store" else str(state))
                        argv += [str(args.files), name]
                        seconds = run_child(argv)
                    times[name].append(seconds)
                    per_file = seconds / args.files * 1000
                    print(
                        f"round {round_number}: {name:8} {seconds:6.2f} s  {per_file:5.2f} ms/file"
                    )
    median = {name: statistics.median(values) for name, values in times.items()}
    per_file = {name: value / args.files * 1000 for name, value in median.items()}

    def ratio(ours: str, reference: str) -> float:
        return statistics.median(a / b for a, b in zip(times[ours], times[reference], strict=True))

    store_ratio = ratio("store", "no store")
    curl_ratio = ratio("store", "curl")
    print(
        f"store / no store     : {store_ratio:5.3f}  (target <= {STORE_TARGET}: "
        f"{'met' if store_ratio <= STORE_TARGET else 'MISSED'})"
    )
    print(
        f"find new on {BIG_CARD} : {find_ms:5.1f} ms  (target < {FIND_TARGET_MS:g} ms: "
        f"{'met' if find_ms < FIND_TARGET_MS else 'MISSED'})"
    )
    print(
        f"per file: ours {per_file['store']:.2f} ms, curl {per_file['curl']:.2f} ms, "
        f"ratio {curl_ratio:.2f}  (target <= {CURL_TARGET}: "
        f"{'met' if curl_ratio <= CURL_TARGET else 'MISSED'})"
    )
    print(
        f"  of which the data fsync: {per_file['store'] - per_file['nosync']:.2f} ms "
        f"(without it {per_file['nosync']:.2f} ms, ratio {ratio('nosync', 'curl'):.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
