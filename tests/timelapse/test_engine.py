"""The engine on a settable clock: the grid, sessions, count, duration, clock steps, restart,
pause and resume, missed slots, runtime changes."""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camera2mqtt.cameras.base import CameraBusy, CameraError, CameraUnreachable
from camera2mqtt.timelapse import (
    Location,
    MissReason,
    TimelapseError,
    TimelapseState,
    WindowTime,
    window_on,
)
from tests.timelapse.helpers import OSLO, FakeClock, Shots, make_engine, run_for, timelapse

HOUR = 3600.0


def clock_time(hours: int, minutes: int = 0) -> WindowTime:
    return WindowTime(None, hours * 60 + minutes)


def test_a_window_across_midnight_takes_every_slot_on_its_grid(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T21:00:00")
    config = timelapse(interval=600, start=clock_time(23, 30), end=clock_time(0, 30))
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    assert recorder.last("tl")["state"] == TimelapseState.WAITING
    run_for(engine, clock, shots, 5 * HOUR)
    assert shots.local_times() == [
        "2026-03-10 23:30:00",
        "2026-03-10 23:40:00",
        "2026-03-10 23:50:00",
        "2026-03-11 00:00:00",
        "2026-03-11 00:10:00",
        "2026-03-11 00:20:00",
    ]
    finished = recorder.named("timelapse_finished")
    assert [(e["session"], e["shots"], e["reason"]) for e in finished] == [
        ("2026-03-10", 6, "window end")
    ]
    assert recorder.last("tl")["state"] == TimelapseState.WAITING
    assert recorder.last("tl")["next_shot"].startswith("2026-03-11T23:30:00")


def test_a_daemon_started_inside_a_window_joins_its_grid(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T08:07:30")
    config = timelapse(interval=300, start=clock_time(8), end=clock_time(8, 30))
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, HOUR)
    assert shots.local_times()[:2] == ["2026-03-10 08:10:00", "2026-03-10 08:15:00"]
    assert len(shots.walls) == 4
    assert recorder.named("shot_missed") == []


def test_days_leave_out_the_other_dates(tmp_path) -> None:
    clock = FakeClock.at("2026-03-09T00:00:00")  # a Monday
    config = timelapse(interval=1800, start=clock_time(12), end=clock_time(13), days=(2, 5))
    engine, _, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 7 * 24 * HOUR)
    days = sorted({datetime.fromisoformat(t).strftime("%a") for t in shots.local_times()})
    assert days == ["Sat", "Wed"]
    assert len(shots.walls) == 4


def test_count_ends_a_session_and_the_next_window_starts_a_new_one(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T07:00:00")
    config = timelapse(interval=60, start=clock_time(8), end=clock_time(9), count=5)
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 26 * HOUR)
    assert shots.local_times() == [
        *(f"2026-03-10 08:0{i}:00" for i in range(5)),
        *(f"2026-03-11 08:0{i}:00" for i in range(5)),
    ]
    finished = recorder.named("timelapse_finished")
    reasons = [(e["session"], e["reason"], e["shots"]) for e in finished]
    assert reasons == [("2026-03-10", "count", 5), ("2026-03-11", "count", 5)]


def test_duration_ends_a_manual_session_outside_any_window(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T14:00:00")
    config = timelapse(interval=10, start=clock_time(6), end=clock_time(7), duration=45)
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    state = engine.control("start", "tl")
    assert state["state"] == TimelapseState.RUNNING and state["manual"] is True
    run_for(engine, clock, shots, HOUR)
    assert [round(w - shots.walls[0]) for w in shots.walls] == [0, 10, 20, 30, 40]
    assert recorder.named("timelapse_finished")[0]["reason"] == "duration"
    assert recorder.last("tl")["state"] == TimelapseState.WAITING


def test_a_manual_start_without_limits_runs_until_stopped(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T14:00:00")
    config = timelapse(interval=30, autostart=False)
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, HOUR)
    assert shots.walls == [] and recorder.last("tl")["state"] == TimelapseState.STOPPED
    engine.control("start", "tl")
    run_for(engine, clock, shots, 2 * HOUR)
    assert len(shots.walls) == 2 * 120 + 1  # both ends of the two hours
    engine.control("stop", "tl")
    run_for(engine, clock, shots, HOUR)
    assert len(shots.walls) == 241
    assert recorder.last("tl")["state"] == TimelapseState.STOPPED


@pytest.mark.parametrize("step", [-HOUR, -7.0, 5.5, 2 * HOUR])
def test_a_wall_clock_step_neither_repeats_nor_skips_a_slot(tmp_path, step: float) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    config = timelapse(interval=10)  # no window: runs from the start
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 95)
    clock.step_wall(step)
    run_for(engine, clock, shots, 100)
    first = shots.monos[0]
    assert [round(m - first, 6) for m in shots.monos] == [10.0 * k for k in range(20)]
    assert recorder.named("shot_missed") == []


def test_a_window_end_is_kept_on_the_monotonic_clock_across_a_step(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T08:00:00")
    config = timelapse(interval=60, start=clock_time(8), end=clock_time(8, 10))
    engine, _, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 150)
    clock.step_wall(-HOUR)  # the wall clock goes back an hour: the window still ends at 10 min
    run_for(engine, clock, shots, 30 * 60)
    assert len(shots.walls) == 10


def test_restart_mid_session_keeps_the_grid_and_counts_the_gap(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T08:00:00")
    config = timelapse(interval=60, start=clock_time(8), end=clock_time(9))
    engine, recorder, db = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 10 * 60 + 5)  # 11 shots: 08:00 .. 08:10
    db.close()
    # Down for 5 min 50 s (08:15:55): slots 08:11 to 08:15 are lost (08:15 is too late to
    # take); the new process has a new monotonic clock.
    clock.wall_now += 5 * 60 + 50
    clock.mono_now = 50.0
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    assert recorder.last("tl")["state"] == TimelapseState.RUNNING
    assert recorder.last("tl")["shots"] == 11
    missed = recorder.named("shot_missed")
    assert [(m["count"], m["reason"]) for m in missed] == [(5, MissReason.NOT_RUNNING)]
    run_for(engine, clock, shots, HOUR)
    times = shots.local_times()
    assert times[10:12] == ["2026-03-10 08:10:00", "2026-03-10 08:16:00"]
    assert len(times) == len(set(times)) == 60 - 5
    finished = recorder.named("timelapse_finished")[0]
    assert (finished["shots"], finished["missed"]) == (55, 5)


def test_restart_while_paused_stays_paused(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    engine, _, db = make_engine([timelapse(interval=60)], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 125)
    engine.control("pause", "tl")
    db.close()
    clock.mono_now = 7.0
    engine, recorder, _ = make_engine([timelapse(interval=60)], clock, tmp_path / "state.db")
    run_for(engine, clock, shots, HOUR)
    assert len(shots.walls) == 3
    assert recorder.last("tl")["state"] == TimelapseState.PAUSED
    assert recorder.named("shot_missed") == []


def test_pause_and_resume_keep_the_grid_and_do_not_count_paused_slots(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    engine, recorder, _ = make_engine([timelapse(interval=60)], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 150)
    assert engine.control("pause", "tl")["state"] == TimelapseState.PAUSED
    with pytest.raises(TimelapseError, match="not running"):
        engine.control("pause", "tl")
    run_for(engine, clock, shots, 600)
    assert len(shots.walls) == 3
    engine.control("resume", "tl")
    run_for(engine, clock, shots, 100)
    assert shots.local_times()[3] == "2026-03-10 10:13:00"
    assert recorder.last("tl")["missed"] == 0 and recorder.last("tl")["shots"] == 5
    with pytest.raises(TimelapseError, match="not paused"):
        engine.control("resume", "tl")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (CameraUnreachable("gone"), MissReason.CAMERA_AWAY),
        (CameraBusy("busy"), MissReason.BUSY),
        (CameraError("card full"), MissReason.ERROR),
    ],
)
def test_failed_shots_are_missed_with_their_reason(tmp_path, error, reason) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    engine, recorder, _ = make_engine([timelapse(interval=60)], clock, tmp_path / "state.db")
    shots = Shots(clock, fail=error)
    run_for(engine, clock, shots, 150)
    missed = recorder.named("shot_missed")
    assert [(m["slot"], m["reason"]) for m in missed] == [(0, reason), (1, reason), (2, reason)]
    shots.fail = None
    run_for(engine, clock, shots, 60)
    assert recorder.last("tl")["missed"] == 3 and recorder.last("tl")["shots"] == 1


def test_no_camera_means_camera_away(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    engine, recorder, _ = make_engine([timelapse(interval=60)], clock, tmp_path / "state.db")
    run_for(engine, clock, None, 90)
    assert {m["reason"] for m in recorder.named("shot_missed")} == {MissReason.CAMERA_AWAY}


def test_a_late_worker_misses_slots_once_and_never_shoots_a_slot_twice(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    engine, recorder, _ = make_engine([timelapse(interval=10)], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 5)
    clock.advance(32)  # a long job: slots 1, 2 and 3 pass (slot 3 only 7 s ago: too late)
    engine.run_due(shots)
    engine.run_due(shots)
    run_for(engine, clock, shots, 20)
    first = shots.monos[0]
    assert [round(m - first) for m in shots.monos] == [0, 40, 50]
    missed = recorder.named("shot_missed")
    assert sum(m["count"] for m in missed) == 3
    assert {m["reason"] for m in missed} == {MissReason.BUSY}


def test_set_changes_interval_from_the_next_planned_shot_and_count(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    engine, recorder, db = make_engine([timelapse(interval=60)], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 30)
    state = engine.control("set", "tl", interval=15)
    assert state["interval"] == 15
    run_for(engine, clock, shots, 60)
    first = shots.monos[0]
    assert [round(m - first) for m in shots.monos] == [0, 60, 75, 90]
    engine.control("set", "tl", count=4)
    run_for(engine, clock, shots, 600)
    assert len(shots.walls) == 4
    assert recorder.last("tl")["state"] == TimelapseState.DONE
    with pytest.raises(TimelapseError, match="interval"):
        engine.control("set", "tl", interval=0.1)
    with pytest.raises(TimelapseError, match="no timelapse 'nope'"):
        engine.control("start", "nope")
    db.close()
    engine, recorder, _ = make_engine([timelapse(interval=60)], clock, tmp_path / "state.db")
    assert recorder.last("tl")["interval"] == 15 and recorder.last("tl")["count"] == 4


def test_properties_are_applied_at_each_session_start(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T07:59:00")
    config = timelapse(
        interval=600,
        start=clock_time(8),
        end=clock_time(8, 30),
        properties=(("takemode", "A"), ("isospeedvalue", "200")),
    )
    engine, _, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 25 * HOUR)
    assert shots.properties == [("takemode", "A"), ("isospeedvalue", "200")] * 2
    assert len(shots.walls) == 6


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["run", "late", "step", "away"]),
            st.floats(min_value=0.0, max_value=40.0, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_whatever_happens_each_slot_is_shot_or_missed_exactly_once(tmp_path, steps) -> None:
    clock = FakeClock.at("2026-03-10T10:00:00")
    db_path = tmp_path / f"{uuid.uuid4().hex}.db"
    engine, recorder, _ = make_engine([timelapse(interval=10)], clock, db_path)
    shots = Shots(clock)
    engine.run_due(shots)  # slot 0 at the start
    anchor = shots.monos[0]
    for kind, seconds in steps:
        if kind == "run":
            run_for(engine, clock, shots, seconds)
        elif kind == "late":  # the worker was busy: time passes without run_due
            clock.advance(seconds)
            engine.run_due(shots)
        elif kind == "step":  # the wall clock is set, either way
            clock.step_wall(seconds * 100 - 2000)
            engine.run_due(shots)
        else:  # the camera is away for a while
            run_for(engine, clock, None, seconds)
    slots = [math.floor((m - anchor) / 10 + 1e-9) for m in shots.monos]
    assert slots == sorted(set(slots))  # never a slot twice, always in order
    # Each shot within half an interval of its slot.
    assert all(
        0 <= m - (anchor + k * 10) <= 5 + 1e-6 for m, k in zip(shots.monos, slots, strict=True)
    )
    state = engine.status("tl")
    elapsed_slots = math.floor((clock.monotonic() - anchor) / 10 + 1e-9) + 1
    taken_or_missed = state["shots"] + state["missed"]
    # Every slot that has passed is accounted for once; the current one may still be open.
    assert elapsed_slots - 1 <= taken_or_missed <= elapsed_slots
    assert state["shots"] == len(shots.walls)
    missed_events = sum(e["count"] for e in recorder.named("shot_missed"))
    assert missed_events == state["missed"]


TROMSO = Location(latitude=69.65, longitude=18.96)
OSLO_CITY = Location(latitude=59.91, longitude=10.75)
SUN_UP_TO_DOWN = {"start": WindowTime("sunrise", 0), "end": WindowTime("sunset", 0)}


def test_midnight_sun_runs_a_session_per_day_from_midnight_to_midnight(tmp_path) -> None:
    clock = FakeClock.at("2026-06-21T00:30:00")
    config = timelapse(interval=HOUR, location=TROMSO, **SUN_UP_TO_DOWN)
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 48 * HOUR)  # to 2026-06-23 00:30
    assert shots.local_times()[0] == "2026-06-21 01:00:00"
    assert shots.local_times()[-1] == "2026-06-23 00:00:00"
    assert len(shots.walls) == 23 + 24 + 1
    finished = recorder.named("timelapse_finished")
    assert [(e["session"], e["shots"], e["reason"]) for e in finished] == [
        ("2026-06-21", 23, "window end"),
        ("2026-06-22", 24, "window end"),
    ]


def test_polar_night_waits_for_the_sun_to_come_back(tmp_path) -> None:
    clock = FakeClock.at("2026-12-21T09:00:00")
    config = timelapse(interval=600, location=TROMSO, **SUN_UP_TO_DOWN)
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 3 * 24 * HOUR)
    assert shots.walls == []
    state = recorder.last("tl")
    assert state["state"] == TimelapseState.WAITING
    assert "2027-01-10" <= state["next_shot"][:10] <= "2027-01-20"


def test_a_window_stopped_by_hand_does_not_start_again_until_the_next_one(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T07:59:00")
    config = timelapse(interval=60, start=clock_time(8), end=clock_time(9))
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 10 * 60 + 30)  # 08:00 .. 08:09
    assert engine.control("stop", "tl")["state"] == TimelapseState.WAITING
    run_for(engine, clock, shots, 30 * 60)
    assert len(shots.walls) == 10
    engine.control("start", "tl")  # by hand, inside the used-up window
    run_for(engine, clock, shots, 5 * 60)
    engine.control("stop", "tl")
    run_for(engine, clock, shots, 25 * HOUR)
    times = shots.local_times()
    assert len(times) == 10 + 6 + 60
    assert times[16] == "2026-03-11 08:00:00"
    sessions = [e["session"] for e in recorder.named("timelapse_started")]
    assert sessions == ["2026-03-10", "2026-03-10-2", "2026-03-11"]


def test_restart_after_the_window_closed_counts_only_the_window_slots(tmp_path) -> None:
    clock = FakeClock.at("2026-03-10T08:00:00")
    config = timelapse(interval=600, start=clock_time(8), end=clock_time(9))
    engine, _, db = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, 25 * 60)  # 08:00, 08:10, 08:20
    db.close()
    clock.wall_now += 3 * HOUR  # back at 11:25
    clock.mono_now = 5.0
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    run_for(engine, clock, shots, 60)
    (finished,) = recorder.named("timelapse_finished")
    assert (finished["shots"], finished["missed"], finished["reason"]) == (3, 3, "window end")
    assert recorder.last("tl")["state"] == TimelapseState.WAITING
    assert len(shots.walls) == 3


def test_a_window_inside_a_used_up_one_is_skipped_without_spinning(tmp_path) -> None:
    # 18:00 to sunset in Oslo: while the sun sets before 18:00 the window runs to the next
    # day's sunset; on the day the sunset passes 18:00, that window reaches past 18:00 and
    # holds the whole (short) window of the next day.
    config = timelapse(
        interval=60, start=clock_time(18), end=WindowTime("sunset", 0), location=OSLO_CITY
    )
    days = [date(2026, 2, 1) + timedelta(days=n) for n in range(60)]
    windows = {day: window_on(config, day, OSLO) for day in days}
    overlap = next(d for d in days[:-1] if windows[d].end > windows[d + timedelta(days=1)].start)
    first, inner = windows[overlap], windows[overlap + timedelta(days=1)]
    assert first.start < inner.start < inner.end <= first.end
    clock = FakeClock(first.start - 30, tz=OSLO)
    engine, recorder, _ = make_engine([config], clock, tmp_path / "state.db")
    shots = Shots(clock)
    run_for(engine, clock, shots, first.end - clock.wall_now + HOUR)  # fails if it spins
    finished = [e["session"] for e in recorder.named("timelapse_finished")]
    assert finished == [str(overlap)]
    assert len(shots.walls) == len(set(shots.walls))
    state = recorder.last("tl")
    assert state["state"] == TimelapseState.WAITING
    assert state["next_shot"].startswith(f"{overlap + timedelta(days=2)}T18:00:00")
