"""Timelapse timing: the engine's shots against the ideal grid, next to a plain ``schedule`` loop.

Usage: python bench/timelapse.py [--shots N] [--interval S]

Two Wi-Fi simulators on 127.0.0.1, one per loop, and two drivers making the same request (a
shot: ``WifiCamera.shoot``) every ``interval`` seconds, run at the same time in two threads:

(a) ``schedule.every(interval).seconds.do(shoot)`` with the usual ``run_pending`` loop
    (sleeping ``idle_seconds`` between runs, the most precise form of that loop);
(b) the timelapse engine (``TimelapseEngine`` with the system clock), driven as the camera's
    worker drives it: wait until ``next_due()``, then ``run_due()``.

For each, the time each shot starts is compared with the ideal grid ``t0 + k * interval``
(``t0``: the first shot): the per-shot error (p50, p99, max of the absolute value) and the
cumulative drift (error of the last shot). Target for (b): p99 under 20 ms and no drift.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import schedule

from camera2mqtt.cameras.base import ImageRef
from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.sim.wifi.server import WifiSimulator
from camera2mqtt.statedb import StateDB
from camera2mqtt.timelapse import (
    CameraShooter,
    TimelapseConfig,
    TimelapseEngine,
    TimelapseState,
    TimelapseStore,
)

HOST = "127.0.0.1"
MODEL = "e-m1-iii"
TIMEOUT = 10.0
TARGET_P99 = 0.020  # seconds
NAME = "bench"


@dataclass
class Timings:
    """Start times (time.monotonic) of each shot."""

    starts: list[float] = field(default_factory=list)

    def errors(self, interval: float) -> list[float]:
        t0 = self.starts[0]
        return [start - (t0 + k * interval) for k, start in enumerate(self.starts)]


class TimedShooter(CameraShooter):
    def __init__(self, camera: WifiCamera, timings: Timings) -> None:
        super().__init__(camera)
        self.timings = timings

    def take_shot(self, timelapse: str) -> list[ImageRef]:
        self.timings.starts.append(time.monotonic())
        return super().take_shot(timelapse)


def connect(simulator: WifiSimulator) -> WifiCamera:
    camera = WifiCamera(HOST, simulator.port, timeout=TIMEOUT)
    camera.connect()
    return camera


def schedule_loop(camera: WifiCamera, shots: int, interval: float, timings: Timings) -> None:
    scheduler = schedule.Scheduler()

    def shoot() -> None:
        timings.starts.append(time.monotonic())
        camera.shoot()

    scheduler.every(interval).seconds.do(shoot)
    while len(timings.starts) < shots:
        idle = scheduler.idle_seconds
        if idle is not None and idle > 0:
            time.sleep(idle)
        scheduler.run_pending()


def engine_loop(camera: WifiCamera, shots: int, interval: float, timings: Timings) -> None:
    with tempfile.TemporaryDirectory(prefix="camera2mqtt-bench-") as folder:
        db = StateDB(Path(folder) / "state.db")
        config = TimelapseConfig(name=NAME, camera="bench", interval=interval, count=shots)
        engine = TimelapseEngine(
            [config],
            camera="bench",
            store=TimelapseStore(db),
            publish_state=lambda name, payload: None,
            publish_event=lambda event, **fields: None,
        )
        shooter = TimedShooter(camera, timings)
        wake = threading.Event()  # the worker waits on its job queue the same way
        while engine.status(NAME)["state"] != TimelapseState.DONE:
            wait = engine.next_due() - time.monotonic()
            if wait > 0:
                wake.wait(wait)
            engine.run_due(shooter)
        db.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def report(label: str, timings: Timings, interval: float) -> tuple[float, float]:
    errors = timings.errors(interval)
    absolute = [abs(e) for e in errors]
    p50 = statistics.median(absolute)
    p99 = percentile(absolute, 0.99)
    drift = errors[-1]
    span = timings.starts[-1] - timings.starts[0]
    print(
        f"{label:<22} {len(errors):>5} {p50 * 1000:>9.2f} {p99 * 1000:>9.2f} "
        f"{max(absolute) * 1000:>9.2f} {drift * 1000:>11.1f} {span:>9.1f}"
    )
    return p99, drift


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=300, help="shots per loop (default 300)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds (default 1)")
    args = parser.parse_args()

    with WifiSimulator(MODEL) as sim_a, WifiSimulator(MODEL) as sim_b:
        cameras = (connect(sim_a), connect(sim_b))
        plain, ours = Timings(), Timings()
        threads = [
            threading.Thread(
                target=schedule_loop, args=(cameras[0], args.shots, args.interval, plain)
            ),
            threading.Thread(
                target=engine_loop, args=(cameras[1], args.shots, args.interval, ours)
            ),
        ]
        print(f"{args.shots} shots every {args.interval:g} s against two Wi-Fi simulators at once")
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for camera in cameras:
            camera.close()

    print(
        f"{'loop':<22} {'shots':>5} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} "
        f"{'drift ms':>11} {'span s':>9}"
    )
    report("(a) schedule.every", plain, args.interval)
    p99, drift = report("(b) timelapse engine", ours, args.interval)
    ideal = (args.shots - 1) * args.interval
    cost = _shot_time(plain, args.interval)
    print(f"ideal span {ideal:.1f} s; one shot request takes ~{cost:.0f} ms")
    verdict = "met" if p99 < TARGET_P99 and abs(drift) < TARGET_P99 else "NOT met"
    print(f"target (b) p99 < {TARGET_P99 * 1000:.0f} ms and no cumulative drift: {verdict}")


def _shot_time(timings: Timings, interval: float) -> float:
    """The mean spacing of the plain loop minus its interval: what one request costs."""
    starts = timings.starts
    if len(starts) < 2:
        return 0.0
    spacing = (starts[-1] - starts[0]) / (len(starts) - 1)
    return max(0.0, spacing - interval) * 1000


if __name__ == "__main__":
    main()
