"""SIGKILL of the daemon during syncs, shots during a long sync, and fast join."""

from __future__ import annotations

import itertools
import random
import signal
import time
from datetime import datetime, timedelta

import pytest

from tests.daemon.daemon_process import DaemonProcess
from tests.library.conftest import add
from tests.library.daemon import (
    READY,
    Daemon,
    check_consistent,
    config_text,
    new_base,
    probe_for,
    start_in_process,
)

KILLS = 6


def card_bytes(sim) -> dict[str, bytes]:
    return {path: local.read_bytes() for path, local in sim.state.files.items()}


@pytest.mark.parametrize("honour_range", [True, False])
def test_sigkill_during_syncs_loses_and_repeats_nothing(broker, sim, tmp_path, honour_range):
    sim.honour_range = honour_range
    start = datetime(2024, 5, 17, 9, 0, 0)
    for index in range(30):
        add(
            sim,
            f"P517{index:04d}.JPG",
            f"k{index}",
            size=40_000,
            when=start + timedelta(minutes=index),
        )
    card = card_bytes(sim)
    sim.faults.throttle_bytes_per_s = 800_000  # about 50 ms a file: kills land mid-file
    base = new_base()
    config = tmp_path / "camera2mqtt.yaml"
    config.write_text(
        config_text(
            mqtt_port=broker.port,
            wifi_port=sim.port,
            base=base,
            root=tmp_path,
            extra=("schedule: {sync_on_connect: true}",),
        )
    )
    chooser = random.Random(1234 + honour_range)
    card_size = sum(len(data) for data in card.values())
    for probe in probe_for(broker.port, base):
        daemon = Daemon(probe, base, tmp_path)
        for run in range(KILLS):
            mark = probe.mark()
            # Killed once the simulator has sent a random number of bytes more: anywhere
            # in a file, between files, or while one is being placed and recorded.
            kill_at = sim.file_bytes_sent + chooser.randint(1, card_size // (KILLS + 2))
            process = DaemonProcess(config, tmp_path / f"daemon-{run}.log").start()
            try:
                daemon.wait_event("sync_started", since=mark)
                assert sim.wait_file_bytes(kill_at, READY)
            finally:
                process.stop(signal.SIGKILL)
        mark = probe.mark()
        process = DaemonProcess(config, tmp_path / "daemon-last.log").start()
        try:
            finished = daemon.wait_event("sync_finished", since=mark)
        finally:
            assert process.stop() == 0
    assert finished["failed"] == 0
    check_consistent(tmp_path, daemon.photos, card)
    # What crossed the link: the card once, plus per kill at most the file it cut (without
    # Range) or what was in flight (with Range); files fetched but not yet recorded when
    # killed are placed from their partial files, not fetched again.
    allowance = KILLS * (40_000 if not honour_range else 16_384)
    assert sim.file_bytes_sent <= card_size + allowance, (sim.file_bytes_sent, card_size)


def test_timelapse_misses_no_slot_during_a_200_file_sync(broker, sim, tmp_path):
    for index in range(200):
        add(sim, f"P517{index:04d}.JPG", f"t{index}", size=4000)
    sim.faults.delay_s = 0.03  # before every reply: the sync lasts several slots
    extra = ("schedule: {timelapse_interval: 2}",)
    for daemon in start_in_process(broker, sim, tmp_path, extra):
        mark = daemon.probe.mark()
        shots_before = len(sim.state.files)
        reply = daemon.command({"action": "download"}, timeout=120)
        events = daemon.probe.messages(daemon.topic("event"), mark)
        [plan] = [m.json() for m in events if m.json()["event"] == "sync_started"]
        # The 200 files, and any shot the timelapse took before the sync listed the card.
        assert reply["result"]["done_count"] == plan["files_total"] >= 200
        started = next(m.received for m in events if m.json()["event"] == "sync_started")
        finished = next(m.received for m in events if m.json()["event"] == "sync_finished")
        shots = [
            m.received
            for m in events
            if m.json()["event"] == "photo_taken" and started <= m.received <= finished
        ]
    slots = int((finished - started) // 2)
    assert slots >= 3, "the sync was too short to test anything"
    assert len(shots) >= slots
    gaps = [later - earlier for earlier, later in itertools.pairwise(shots)]
    assert max(gaps) < 3.0, gaps  # a missed slot would leave a gap of 4 s
    assert len(sim.state.files) - shots_before >= len(shots)  # the simulator's own count


def test_a_returning_camera_is_synced_within_seconds(broker, sim, tmp_path):
    extra = (
        "presence_interval: 0.5",
        "allow: {power_off: true}",
        "schedule: {sync_on_connect: true}",
    )
    for daemon in start_in_process(broker, sim, tmp_path, extra, poll_interval=30):
        mark = daemon.probe.mark()
        assert daemon.command({"action": "power_off"})["status"] == "ok"
        availability = daemon.topic("availability")
        daemon.probe.wait_for(
            lambda m, topic=availability: m.topic == topic and m.text() == "offline",
            timeout=30,
            since=mark,
        )
        add(sim, "P5170001.JPG", "back")
        mark = daemon.probe.mark()
        sim.power_on()
        back = time.monotonic()
        daemon.wait_event("sync_started", since=mark, timeout=30)
        assert time.monotonic() - back < 5.0
        daemon.wait_event("sync_finished", since=mark, timeout=30, done=1)
