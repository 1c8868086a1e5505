"""The camera worker against a hostile camera: it stays alive, answers every command within
a bound set by the driver's deadlines, reports each failure and reconnects afterwards."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera2mqtt.cameras.wifi.camera import IMGLIST_REPLY_BYTES
from camera2mqtt.sim.wifi.hostile import FILE, Attack, HostileCamera
from tests.hostile.conftest import ANSWER_WITHIN, Rig, make_rig

# (target, attack): replies that made the driver fail before (UnicodeError, RecursionError,
# hangs) and now end in a camera error or are read despite the declaration.
STATUS_ATTACKS = [
    ("get_commandlist", Attack.ENCODING_UNDEFINED, "ok"),
    ("get_commandlist", Attack.ENCODING_IDNA, "ok"),
    ("get_commandlist", Attack.DEEP_NESTING, "error"),
    ("get_commandlist", Attack.TRICKLE, "error"),
    ("get_commandlist", Attack.ENDLESS, "error"),
    ("get_caminfo", Attack.ENCODING_UNDEFINED, "ok"),
    ("get_caminfo", Attack.DEEP_NESTING, "ok"),
    ("get_caminfo", Attack.TRICKLE, "error"),
    ("get_unusedcapacity", Attack.ENCODING_IDNA, "ok"),
    ("get_unusedcapacity", Attack.DEEP_NESTING, "ok"),
    ("get_unusedcapacity", Attack.TRICKLE, "error"),
    ("get_unusedcapacity", Attack.ENDLESS, "error"),
]
DOWNLOAD_ATTACKS = [
    ("get_imglist", Attack.TRICKLE, "deadline"),
    ("get_imglist", Attack.ENDLESS, "larger than"),
    ("get_imglist", Attack.FAN_OUT, "more than 1000 folders"),
    (FILE, Attack.TRICKLE, "in time"),
    (FILE, Attack.HUGE_SIZE, "Not enough space"),
]


def _answered(rig: Rig, body: dict, timeout: float = ANSWER_WITHIN) -> tuple[dict, float]:
    started = time.monotonic()
    reply = rig.command(body, timeout=timeout)
    return reply, time.monotonic() - started


@pytest.mark.parametrize(("target", "attack", "outcome"), STATUS_ATTACKS)
def test_status_is_answered_and_the_worker_recovers(
    hostile: HostileCamera, tmp_path: Path, target: str, attack: Attack, outcome: str
) -> None:
    hostile.attack(target, attack)
    rigs = make_rig(hostile, tmp_path)
    rig = next(rigs)
    try:
        hostile.wait_requests(target)
        reply, took = _answered(rig, {"action": "status"})
        assert took < ANSWER_WITHIN
        assert rig.worker.alive
        assert reply["status"] == outcome, reply
        if outcome == "error":
            assert "Internal error" not in reply["error"]
            assert rig.worker.available_text != "online"
            assert rig.state()["last_error"]
        # Once the camera behaves, the worker reconnects and answers normally.
        mark = rig.published.mark()
        hostile.attack(target, None)
        if rig.worker.available_text != "online":
            rig.wait_availability("online", after=mark)
        reply, _ = _answered(rig, {"action": "status"})
        assert reply["status"] == "ok", reply
        assert reply["result"]["model"] == "E-M1MarkIII"
    finally:
        next(rigs, None)


@pytest.mark.parametrize(("target", "attack", "error"), DOWNLOAD_ATTACKS)
def test_download_is_refused_in_time_and_leaves_nothing(
    rig: Rig, target: str, attack: Attack, error: str
) -> None:
    rig.wait_availability("online")
    rig.hostile.attack(target, attack)
    reply, took = _answered(rig, {"action": "download", "which": "new"}, timeout=30)
    assert reply["status"] == "error", reply
    # A fan-out costs one quick request per folder up to the cap.
    assert took < (30 if attack is Attack.FAN_OUT else ANSWER_WITHIN)
    assert error in reply["error"]
    assert rig.worker.alive
    assert not any(rig.download_dir.iterdir()) if rig.download_dir.exists() else True
    if attack is Attack.HUGE_SIZE:
        assert rig.hostile.count(FILE) == 0  # refused before a byte was asked for
    rig.hostile.attack(target, None)
    mark = rig.published.mark()
    if rig.worker.available_text != "online":
        rig.wait_availability("online", after=mark)
    reply, _ = _answered(rig, {"action": "download", "which": "new"})
    assert reply["status"] == "ok", reply
    assert [f["path"] for f in reply["result"]["files"]] == ["/DCIM/100OLYMP/P1010001.JPG"]


@pytest.fixture
def slow_rig(hostile: HostileCamera, tmp_path: Path) -> Iterator[Rig]:
    """Downloads whose deadline is far away (1 byte a second is fast enough)."""
    yield from make_rig(hostile, tmp_path, driver={"min_transfer_rate": 1})


def test_cancel_stops_a_trickled_download_at_once(slow_rig: Rig) -> None:
    rig = slow_rig
    rig.wait_availability("online")
    rig.hostile.attack(FILE, Attack.TRICKLE)
    mark = rig.published.mark()
    transaction = rig.send({"action": "download", "which": "new"})
    assert rig.hostile.wait_requests(FILE)
    cancelled = time.monotonic()
    assert rig.worker.cancel_current()
    reply = rig.reply(transaction, after=mark, timeout=2.0)
    assert time.monotonic() - cancelled < 2.0
    assert reply["status"] == "error"
    assert "cancelled" in reply["error"]
    assert list(rig.download_dir.iterdir()) == []
    assert rig.worker.alive


def test_keep_free_mb_refuses_a_download_that_would_fill_the_disk(
    hostile: HostileCamera, tmp_path: Path
) -> None:
    rigs = make_rig(hostile, tmp_path, keep_free_mb=10**9)  # a petabyte to keep free
    rig = next(rigs)
    try:
        rig.wait_availability("online")
        reply = rig.command({"action": "download", "which": "new"})
        assert reply["status"] == "error"
        assert "keep_free_mb" in reply["error"]
        assert hostile.count(FILE) == 0
    finally:
        next(rigs, None)


def test_set_clock_out_of_range_is_a_clear_error(rig: Rig) -> None:
    rig.wait_availability("online")
    reply = rig.command({"action": "set_clock", "time": "0001-01-01T00:00:00+14:00"})
    assert reply["status"] == "error"
    assert "out of range" in reply["error"] or "cannot be set" in reply["error"]
    assert "Internal error" not in reply["error"]
    reply = rig.command({"action": "set_clock", "time": "0001-01-01T00:00:00"})
    assert reply["status"] == "error"
    assert "between 1980 and 2099" in reply["error"]
    assert not any("set_utctimediff" in name for name in rig.hostile.requests)
    assert rig.worker.available_text == "online"


def test_floods_keep_the_worker_memory_bounded(rig: Rig) -> None:
    rig.wait_availability("online")
    tracemalloc.start()  # every thread: the worker's allocations are counted too
    try:
        for target, attack, body in (
            ("get_imglist", Attack.ENDLESS, {"action": "download", "which": "new"}),
            ("get_unusedcapacity", Attack.ENDLESS, {"action": "status"}),
        ):
            mark = rig.published.mark()
            rig.hostile.attack(target, attack)
            reply = rig.command(body)
            assert reply["status"] == "error", reply
            # Tracing slows the reads: the deadline may come before the cap.
            assert "larger than" in reply["error"] or "deadline" in reply["error"]
            rig.hostile.attack(target, None)
            if rig.worker.available_text != "online":
                rig.wait_availability("online", after=mark)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * IMGLIST_REPLY_BYTES, peak
    assert rig.worker.alive
