"""Photo sync through MQTT: the daemon in-process, the Wi-Fi simulator over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.library.conftest import FOLDER, add, photo_bytes
from tests.library.daemon import (
    Daemon,
    check_consistent,
    local_files,
    start_in_process,
)


@pytest.fixture
def daemon(broker, sim, tmp_path) -> Iterator[Daemon]:
    yield from start_in_process(broker, sim, tmp_path)


def card_bytes(sim) -> dict[str, bytes]:
    return {path: local.read_bytes() for path, local in sim.state.files.items()}


def test_card_swap_and_two_folders_and_moved_files(daemon: Daemon, sim, tmp_path) -> None:
    add(sim, "P5170001.JPG", "first card")
    add(sim, "P5170001.JPG", "other folder", folder="/DCIM/101OLYMP")
    reply = daemon.command({"action": "download"})
    assert reply["status"] == "ok", reply
    assert reply["result"]["done_count"] == 2
    first = card_bytes(sim)
    assert sorted(local_files(daemon.photos).values()) == sorted(first.values())
    assert daemon.command({"action": "download"})["result"]["files"] == []

    sim.state.swap_card()
    add(sim, "P5170001.JPG", "second card", when=datetime(2024, 5, 17, 12, 0), size=2900)
    reply = daemon.command({"action": "download"})
    assert [f["path"] for f in reply["result"]["files"]] == [f"{FOLDER}/P5170001.JPG"]
    everything = [*first.values(), photo_bytes("second card", 2900)]
    assert sorted(local_files(daemon.photos).values()) == sorted(everything)

    moved = tmp_path / "photo-manager"
    daemon.photos.rename(moved)
    assert daemon.command({"action": "download", "which": "all"})["result"]["files"] == []
    assert not daemon.photos.exists()
    forced = daemon.command({"action": "download", "which": [f"{FOLDER}/P5170001.JPG"]})
    assert forced["result"]["skipped_count"] == 1
    again = daemon.command(
        {"action": "download", "which": [f"{FOLDER}/P5170001.JPG"], "force": True}
    )
    assert again["result"]["done_count"] == 1


def test_cut_bodies_and_a_hostile_name_do_not_stop_the_sync(daemon: Daemon, sim) -> None:
    sim.faults.add_listing_line(FOLDER, "/DCIM/../..,EVIL3.JPG,100,32,22705,20000")
    # One body cut at each offset (all above the listings), then retried.
    for round_, cut in enumerate((700, 1500, 2999)):
        for index in (1, 2):
            add(sim, f"P51{round_}000{index}.JPG", f"{round_} {index}", size=3000 + index)
        mark = daemon.probe.mark()
        sim.faults.cut_after_bytes, sim.faults.cut_bodies = cut, 1
        reply = daemon.command({"action": "download"})
        assert reply["status"] == "ok", reply
        assert reply["result"]["done_count"] == 2
        [failed] = reply["result"]["failed"]
        assert failed["path"] == "/DCIM/../../EVIL3.JPG" and "escape" in failed["reason"]
        [event] = daemon.events(mark, "download_failed")
        assert event["file"]["path"] == failed["path"]
        assert sorted(local_files(daemon.photos).values()) == sorted(card_bytes(sim).values())

    add(sim, "P5190001.JPG", "big", size=6000)
    add(sim, "P5190002.JPG", "small", size=1000)
    sim.faults.cut_after_bytes, sim.faults.cut_bodies = 4000, None  # every body over 4000
    reply = daemon.command({"action": "download"})
    assert [f["path"] for f in reply["result"]["files"]] == [f"{FOLDER}/P5190002.JPG"]
    reasons = {f["path"]: f["reason"] for f in reply["result"]["failed"]}
    assert "cut short" in reasons[f"{FOLDER}/P5190001.JPG"]
    sim.faults.reset()
    reply = daemon.command({"action": "download"})
    assert [f["path"] for f in reply["result"]["files"]] == [f"{FOLDER}/P5190001.JPG"]
    assert sorted(local_files(daemon.photos).values()) == sorted(card_bytes(sim).values())


def test_progress_events_and_state_fields(daemon: Daemon, sim) -> None:
    for index in range(1, 4):
        add(sim, f"P517000{index}.JPG", f"p{index}")
    mark = daemon.probe.mark()
    reply = daemon.command({"action": "download"})
    assert reply["result"]["done_count"] == 3
    progress = daemon.events(mark, "sync_progress")
    assert [(e["files_done"], e["files_total"]) for e in progress if e["path"]][-1] == (3, 3)
    assert progress[-1]["bytes"] == progress[-1]["bytes_total"] == 9000
    state = daemon.probe.wait_for(
        lambda m: m.topic == daemon.topic("state") and m.json()["last_sync"] is not None,
        timeout=30,
        since=mark,
    ).json()
    assert state["sync_state"] == "idle" and state["photos_waiting"] == 0
    states = [m.json()["sync_state"] for m in daemon.probe.messages(daemon.topic("state"), mark)]
    assert "running" in states


def test_sync_now_button_in_discovery(daemon: Daemon) -> None:
    message = daemon.probe.wait_for(
        lambda m: m.topic.endswith("/config") and b"sync_now" in m.payload,
        timeout=30,
        what="discovery with sync_now",
    )
    components = message.json()["components"]
    assert components["sync_now"]["payload_press"] == '{"action":"download","which":"new"}'
    for key in ("sync_state", "photos_waiting", "last_sync"):
        assert f"value_json.get('{key}')" in components[key]["value_template"]


def test_whole_card_survives_and_is_consistent(daemon: Daemon, sim, tmp_path) -> None:
    for index in range(1, 4):
        add(sim, f"P517000{index}.JPG", f"c{index}")
    daemon.command({"action": "download"})
    check_consistent(tmp_path, daemon.photos, card_bytes(sim))


@pytest.fixture
def daemon_with_photos(broker, sim, tmp_path) -> Iterator[Daemon]:
    """The daemon started with three photos already on the card."""
    for index in range(1, 4):
        add(sim, f"P517000{index}.JPG", f"w{index}")
    yield from start_in_process(broker, sim, tmp_path)


def test_photos_waiting_is_known_before_the_first_sync(daemon_with_photos: Daemon) -> None:
    daemon = daemon_with_photos
    topic = daemon.topic("state")
    state = daemon.probe.wait_for(
        lambda m: m.topic == topic and m.json()["photos_waiting"] is not None,
        timeout=30,
        what="a state with photos_waiting",
    ).json()
    assert state["photos_waiting"] == 3 and state["last_sync"] is None
    mark = daemon.probe.mark()
    daemon.command({"action": "download", "which": [f"{FOLDER}/P5170001.JPG"]})
    state = daemon.probe.wait_for(
        lambda m: m.topic == topic and m.json()["last_sync"] is not None,
        timeout=30,
        since=mark,
    ).json()
    assert state["photos_waiting"] == 2
