"""The sync job against the Wi-Fi simulator over HTTP: identity, naming, resume, failures."""

from __future__ import annotations

import os
import threading
from datetime import datetime

import pytest

from camera2mqtt.durable import BatchSync
from camera2mqtt.library import (
    PARTIAL_DIR,
    SyncCancelled,
    SyncOptions,
    SyncProgress,
    template_problem,
)
from tests.library.conftest import FOLDER, add, files_under, new_job, photo_bytes, sync


def test_new_photos_go_to_date_folders_and_are_fetched_once(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "a")
    add(sim, "P5180002.JPG", "b", when=datetime(2024, 5, 18, 8, 0, 0))
    out = tmp_path / "photos"
    job = sync(camera, store, out)
    assert [item.path for item in job.summary().done] == [
        f"{FOLDER}/P5170001.JPG",
        f"{FOLDER}/P5180002.JPG",
    ]
    assert files_under(out) == {
        "2024/05/17/P5170001.JPG": photo_bytes("a"),
        "2024/05/18/P5180002.JPG": photo_bytes("b"),
    }
    again = sync(camera, store, out)
    assert again.summary().done == () and again.summary().skipped == ()
    assert len(store.records("cam")) == 2


def test_card_swap_with_reused_names_keeps_both(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "old card")
    out = tmp_path / "photos"
    sync(camera, store, out)
    sim.state.swap_card()
    add(sim, "P5170001.JPG", "new card", when=datetime(2024, 5, 17, 11, 0, 0), size=3100)
    job = sync(camera, store, out)
    [done] = job.summary().done
    assert done.local_path == str(out / "2024/05/17/P5170001-1.JPG")
    assert files_under(out) == {
        "2024/05/17/P5170001.JPG": photo_bytes("old card"),
        "2024/05/17/P5170001-1.JPG": photo_bytes("new card", 3100),
    }


def test_same_name_in_two_folders(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "first")
    add(sim, "P5170001.JPG", "second", folder="/DCIM/101OLYMP")
    out = tmp_path / "photos"
    assert len(sync(camera, store, out).summary().done) == 2
    assert sorted(files_under(out).values()) == sorted(
        [photo_bytes("first"), photo_bytes("second")]
    )
    assert sync(camera, store, out).summary().done == ()


def test_moved_files_are_not_fetched_again_unless_forced(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "a")
    out = tmp_path / "photos"
    sync(camera, store, out)
    (out / "2024/05/17/P5170001.JPG").rename(tmp_path / "elsewhere.jpg")
    assert sync(camera, store, out).summary().done == ()
    assert files_under(out) == {}
    forced = sync(camera, store, out, which="all", force=True)
    assert len(forced.summary().done) == 1
    assert files_under(out) == {"2024/05/17/P5170001.JPG": photo_bytes("a")}


def test_existing_local_file_is_never_overwritten(sim, camera, store, tmp_path):
    out = tmp_path / "photos"
    mine = out / "2024/05/17/P5170001.JPG"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own file")
    add(sim, "P5170001.JPG", "a")
    sync(camera, store, out)
    assert mine.read_bytes() == b"the user's own file"
    assert (out / "2024/05/17/P5170001-1.JPG").read_bytes() == photo_bytes("a")


def test_hostile_name_is_reported_and_the_rest_synced(sim, camera, store, tmp_path):
    for index in range(1, 4):
        add(sim, f"P517000{index}.JPG", f"good {index}")
    sim.faults.add_listing_line(FOLDER, "/DCIM/../..,EVIL3.JPG,100,32,22705,20000")
    out = tmp_path / "photos"
    summary = sync(camera, store, out).summary()
    assert len(summary.done) == 3
    assert [item.path for item in summary.failed] == ["/DCIM/../../EVIL3.JPG"]
    assert "escape" in summary.failed[0].reason
    assert not (tmp_path / "EVIL3.JPG").exists() and len(files_under(out)) == 3


@pytest.mark.parametrize("cut", [400, 1500, 2999])  # above the listing sizes
def test_cut_body_fails_that_file_only_then_a_rerun_completes(sim, camera, store, tmp_path, cut):
    # Without Range every try starts over and is cut again (with Range the retry resumes:
    # test_resume_fetches_only_the_rest).
    add(sim, "P5170001.JPG", "a")
    add(sim, "P5170002.JPG", "b", size=2000)
    out = tmp_path / "photos"
    sim.faults.cut_after_bytes = cut  # cuts every body: the 3000-byte file never completes
    summary = sync(camera, store, out, retry_delays=(0.0,)).summary()  # the retry resumes
    if cut < 2000:
        assert len(summary.failed) == 2
    else:
        assert [item.path for item in summary.failed] == [f"{FOLDER}/P5170001.JPG"]
    assert "cut short" in summary.failed[0].reason or "stopped sending" in summary.failed[0].reason
    assert all(not name.startswith("2024/05/17/P5170001") for name in files_under(out))
    sim.faults.reset()
    sim.requests.clear()
    sync(camera, store, out)
    assert files_under(out) == {
        "2024/05/17/P5170001.JPG": photo_bytes("a"),
        "2024/05/17/P5170002.JPG": photo_bytes("b", 2000),
    }
    assert not (out / PARTIAL_DIR).exists()
    assert camera.honours_range is False  # learned by the retry


def test_resume_fetches_only_the_rest(sim, camera, store, tmp_path):
    sim.honour_range = True
    add(sim, "P5170001.JPG", "big", size=200_000)
    out = tmp_path / "photos"
    sim.faults.cut_after_bytes = 70_000
    job = sync(camera, store, out, retry_delays=(0.0, 0.0))  # three tries, 70 kB each
    assert len(job.summary().done) == 1
    assert (out / "2024/05/17/P5170001.JPG").read_bytes() == photo_bytes("big", 200_000)
    assert camera.honours_range is True


def test_retry_completes_a_once_cut_body(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "a")
    out = tmp_path / "photos"
    sim.faults.cut_after_bytes = 500

    def clear_fault(seconds: float) -> bool:
        sim.faults.reset()
        return False

    job = new_job(camera, store, out, SyncOptions(retry_delays=(0.0,)), wait=clear_fault)
    assert len(job.run().done) == 1


def test_which_latest_and_paths(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "a")
    add(sim, "P5170002.JPG", "b", when=datetime(2024, 5, 17, 12, 0, 0))
    out = tmp_path / "photos"
    [latest] = sync(camera, store, out, which="latest").summary().done
    assert latest.path == f"{FOLDER}/P5170002.JPG"
    summary = sync(camera, store, out, paths=(f"{FOLDER}/P5170001.JPG", "NOPE.JPG")).summary()
    assert [item.path for item in summary.done] == [f"{FOLDER}/P5170001.JPG"]
    assert [item.path for item in summary.failed] == ["NOPE.JPG"]


def test_delete_after_download_erases_only_verified_files(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "a")
    add(sim, "P5170002.JPG", "b")
    sim.faults.add_listing_line(FOLDER, f"{FOLDER},.hidden,100,0,22705,20000")
    out = tmp_path / "photos"
    summary = sync(camera, store, out, delete_after_download=True).summary()
    assert all(item.erased for item in summary.done) and len(summary.done) == 2
    assert sim.state.files == {}


def test_leftover_temp_files_and_stale_partials_are_removed(sim, camera, store, tmp_path):
    from camera2mqtt.library import clean_leftovers

    out = tmp_path / "photos"
    (out / "2024").mkdir(parents=True)
    (out / "2024" / ".camera2mqtt-partial-abc").write_bytes(b"x")
    (out / PARTIAL_DIR).mkdir()
    (out / PARTIAL_DIR / "0123.part").write_bytes(b"stale")
    assert clean_leftovers(out) == 1
    add(sim, "P5170001.JPG", "a")
    sync(camera, store, out)
    assert files_under(out) == {"2024/05/17/P5170001.JPG": photo_bytes("a")}


def test_template_problems():
    assert template_problem("{year}/{name}") is None
    assert "unknown" in template_problem("{yaer}/{name}")
    assert "{name}" in template_problem("{year}/photo.jpg")
    assert "'..'" in template_problem("../{name}")
    assert "relative" in template_problem("/abs/{name}")


def test_a_file_is_done_only_once_durable_placed_and_recorded(
    sim, camera, store, tmp_path, monkeypatch
):
    """Fetched files are finished in batches: their data is fsynced before any link to a
    final path exists, and each is reported done only once it is at that path and recorded."""
    for index in range(1, 6):
        add(sim, f"P517000{index}.JPG", f"photo {index}")
    synced: set[int] = set()
    linked_before_sync: list[str] = []
    real_files, real_link = BatchSync.files, os.link

    def files(self, paths) -> None:
        real_files(self, paths)
        synced.update(os.stat(path).st_ino for path in paths)

    def link(source, target) -> None:
        if os.stat(source).st_ino not in synced:
            linked_before_sync.append(str(target))
        real_link(source, target)

    monkeypatch.setattr(BatchSync, "files", files)
    monkeypatch.setattr(os, "link", link)
    out = tmp_path / "photos"
    reported: list[tuple[str, bool, bool]] = []

    def on_progress(progress: SyncProgress) -> None:
        done = progress.finished
        if done is not None and done.status == "done":
            local = done.local_path
            recorded = any(record.local_path == local for record in store.records("cam"))
            reported.append((done.path, os.path.isfile(local), recorded))

    job = new_job(camera, store, out, on_progress=on_progress)
    job.run()
    assert linked_before_sync == []
    assert reported == [(f"{FOLDER}/P517000{index}.JPG", True, True) for index in range(1, 6)]
    assert not (out / PARTIAL_DIR).exists()


def test_cancel_keeps_the_files_fetched_before_it(sim, camera, store, tmp_path):
    for index in range(1, 5):
        add(sim, f"P517000{index}.JPG", f"photo {index}")
    out = tmp_path / "photos"
    cancel = threading.Event()
    job = new_job(camera, store, out, cancel=cancel)
    assert job.step() and job.step()  # two files fetched, waiting for their batch
    cancel.set()
    with pytest.raises(SyncCancelled):
        job.step()
    assert [item.path for item in job.summary().done] == [
        f"{FOLDER}/P5170001.JPG",
        f"{FOLDER}/P5170002.JPG",
    ]
    assert files_under(out) == {
        "2024/05/17/P5170001.JPG": photo_bytes("photo 1"),
        "2024/05/17/P5170002.JPG": photo_bytes("photo 2"),
    }
    assert len(store.records("cam")) == 2
    assert len(sync(camera, store, out).summary().done) == 2  # the rest, later


def test_a_path_listed_twice_is_one_photo(sim, camera, store, tmp_path):
    add(sim, "P5170001.JPG", "a")
    refs = camera.list_images()
    out = tmp_path / "photos"
    job = new_job(camera, store, out, SyncOptions(which="all"))
    job.plan(refs + refs)
    assert job.files_total == 1
    assert len(job.run().done) == 1
    assert files_under(out) == {"2024/05/17/P5170001.JPG": photo_bytes("a")}


def test_a_slow_disk_holds_up_no_step(sim, camera, store, tmp_path, monkeypatch):
    """While fetched files wait for the disk, step() keeps handing back (so the worker can
    take a due shot); they are finished once the disk is done."""
    for index in range(1, 4):
        add(sim, f"P517000{index}.JPG", f"photo {index}")
    disk_done = threading.Event()
    real_files = BatchSync.files

    def slow_files(self, paths) -> None:
        assert disk_done.wait(30)
        real_files(self, paths)

    monkeypatch.setattr(BatchSync, "files", slow_files)
    out = tmp_path / "photos"
    job = new_job(camera, store, out)
    for _file in range(3):
        assert job.step()
    for _look in range(3):  # every file fetched, none durable yet: the step hands back
        assert job.step()
    assert job.summary().done == () and store.records("cam") == []
    disk_done.set()
    while job.step():
        pass
    assert len(job.summary().done) == 3 and len(store.records("cam")) == 3
