"""Windows in wall time: clock times across midnight, days, dates, and the sun up north."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from camera2mqtt.timelapse import Location, WindowTime, next_window, window_on
from tests.timelapse.helpers import OSLO, timelapse

TROMSO = Location(latitude=69.65, longitude=18.96)  # midnight sun and polar night
OSLO_CITY = Location(latitude=59.91, longitude=10.75)


def clock(hours: int, minutes: int = 0) -> WindowTime:
    return WindowTime(None, hours * 60 + minutes)


def local(wall: float) -> datetime:
    return datetime.fromtimestamp(wall, OSLO).replace(tzinfo=None)


def test_a_window_crossing_midnight_ends_on_the_next_date() -> None:
    config = timelapse(start=clock(22), end=clock(6, 30))
    window = window_on(config, date(2026, 3, 10), OSLO)
    assert window is not None
    assert local(window.start) == datetime(2026, 3, 10, 22, 0)
    assert local(window.end) == datetime(2026, 3, 11, 6, 30)


def test_at_two_in_the_night_the_window_of_the_evening_before_is_open() -> None:
    config = timelapse(start=clock(22), end=clock(6))
    wall = datetime(2026, 3, 11, 2, 0, tzinfo=OSLO).timestamp()
    window = next_window(config, wall, OSLO)
    assert window is not None and window.contains(wall)
    assert window.day == date(2026, 3, 10)


def test_days_pick_the_date_a_window_starts_on() -> None:
    # Friday night to Saturday morning runs; Saturday night does not (days: fri only).
    config = timelapse(start=clock(22), end=clock(6), days=(4,))
    friday_evening = datetime(2026, 3, 13, 12, 0, tzinfo=OSLO).timestamp()
    window = next_window(config, friday_evening, OSLO)
    assert window is not None and window.day == date(2026, 3, 13)
    after = next_window(config, window.end, OSLO)
    assert after is not None and after.day == date(2026, 3, 20)


def test_from_and_until_bound_the_dates() -> None:
    config = timelapse(
        start=clock(8), end=clock(9), from_date=date(2026, 5, 2), until_date=date(2026, 5, 3)
    )
    early = datetime(2026, 4, 1, tzinfo=OSLO).timestamp()
    first = next_window(config, early, OSLO)
    assert first is not None and first.day == date(2026, 5, 2)
    second = next_window(config, first.end, OSLO)
    assert second is not None and second.day == date(2026, 5, 3)
    assert next_window(config, second.end, OSLO) is None


def test_sun_times_with_offsets_follow_the_season_in_oslo() -> None:
    config = timelapse(
        start=WindowTime("sunrise", 0), end=WindowTime("sunset", -30), location=OSLO_CITY
    )
    june = window_on(config, date(2026, 6, 21), OSLO)
    december = window_on(config, date(2026, 12, 21), OSLO)
    assert june is not None and december is not None
    # Oslo: sunrise about 03:54 and sunset about 22:44 in June; 09:18 and 15:12 in December.
    assert timedelta(hours=3, minutes=40) < _clock_of(june.start) < timedelta(hours=4, minutes=10)
    assert timedelta(hours=22) < _clock_of(june.end) < timedelta(hours=22, minutes=30)
    assert timedelta(hours=9) < _clock_of(december.start) < timedelta(hours=9, minutes=30)
    assert timedelta(hours=14, minutes=30) < _clock_of(december.end) < timedelta(hours=15)


def _clock_of(wall: float) -> timedelta:
    moment = local(wall)
    return timedelta(hours=moment.hour, minutes=moment.minute)


def test_midnight_sun_makes_sunrise_to_sunset_the_whole_day() -> None:
    config = timelapse(start=WindowTime("sunrise", 0), end=WindowTime("sunset", 0), location=TROMSO)
    window = window_on(config, date(2026, 6, 21), OSLO)
    assert window is not None
    assert local(window.start) == datetime(2026, 6, 21, 0, 0)
    assert local(window.end) == datetime(2026, 6, 22, 0, 0)


def test_polar_night_has_no_window_and_the_timelapse_waits_for_the_sun() -> None:
    config = timelapse(start=WindowTime("sunrise", 0), end=WindowTime("sunset", 0), location=TROMSO)
    assert window_on(config, date(2026, 12, 21), OSLO) is None
    wall = datetime(2026, 12, 21, 12, 0, tzinfo=OSLO).timestamp()
    upcoming = next_window(config, wall, OSLO)
    # The sun comes back to Tromsø in mid-January.
    assert upcoming is not None
    assert date(2027, 1, 10) <= upcoming.day <= date(2027, 1, 20)
    assert local(upcoming.start).hour in (11, 12)


def test_a_night_window_from_sunset_in_winter_uses_the_days_with_a_sunset() -> None:
    config = timelapse(start=WindowTime("sunset", 0), end=clock(6), location=TROMSO)
    wall = datetime(2026, 12, 1, 12, 0, tzinfo=OSLO).timestamp()
    upcoming = next_window(config, wall, OSLO)
    assert upcoming is not None and upcoming.day >= date(2027, 1, 10)


def test_without_a_zone_windows_are_in_the_systems_local_time() -> None:
    config = timelapse(start=clock(8), end=clock(9, 15))
    window = window_on(config, date(2026, 7, 1), None)
    assert window is not None
    assert window.start == datetime(2026, 7, 1, 8, 0).timestamp()  # naive = local time
    assert window.end - window.start == 75 * 60
    sun = timelapse(start=WindowTime("sunrise", 0), end=WindowTime("sunset", 0), location=OSLO_CITY)
    assert window_on(sun, date(2026, 7, 1), None) is not None


def test_a_window_over_the_spring_clock_change_is_an_hour_shorter() -> None:
    # Oslo, 2026-03-29: 02:00 CET becomes 03:00 CEST.
    config = timelapse(start=clock(1), end=clock(4))
    window = window_on(config, date(2026, 3, 29), OSLO)
    assert window is not None and window.end - window.start == 2 * 3600
