"""When a timelapse may run: its windows in wall-clock time, from clock times or the sun.

A window starts on a local date (the session date) and may end on the next one (``22:00`` to
``06:00``). Sun times come from the ``astral`` package for the configured location.

Where the sun does not rise or set on a date (high latitudes), the rule is: on a polar day
(the sun stays up) ``sunrise`` is that date's 00:00 and ``sunset`` the next midnight, so a
``sunrise`` to ``sunset`` window covers the whole day; on a polar night (the sun stays down)
a window that names a sun event has no window that date and the timelapse waits for the next
date where the event happens.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from astral import Observer
from astral.sun import elevation, sunrise, sunset

from camera2mqtt.timelapse.settings import Location, TimelapseConfig, WindowTime

__all__ = ["DAY", "Window", "WindowFinder", "local_date", "next_window", "window_on"]

log = logging.getLogger(__name__)

DAY = 86400.0
SEARCH_DAYS = 400  # how far ahead to look for the next window (covers a polar night)
WINDOW_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Window:
    """One window in wall-clock seconds since the epoch; ``day`` is its session date."""

    day: date
    start: float
    end: float

    def contains(self, wall: float) -> bool:
        return self.start <= wall < self.end


def local_date(wall: float, tz: tzinfo | None) -> date:
    return datetime.fromtimestamp(wall, tz).date()


def _zone(day: date, tz: tzinfo | None) -> tzinfo:
    """``tz``, or the system's zone as it is at noon of ``day`` (astral needs a tzinfo)."""
    if tz is not None:
        return tz
    zone = datetime.combine(day, time(12)).astimezone().tzinfo
    assert zone is not None
    return zone


def _midnight(day: date, tz: tzinfo | None) -> float:
    return datetime.combine(day, time(0), tzinfo=tz).timestamp()


def _sun_event(event: str, day: date, location: Location, tz: tzinfo | None) -> float | None:
    """The event's wall time on ``day``; the polar-day/night rule of the module docstring."""
    observer = Observer(latitude=location.latitude, longitude=location.longitude)
    zone = _zone(day, tz)
    try:
        moment = (sunrise if event == "sunrise" else sunset)(observer, day, tzinfo=zone)
    except ValueError:
        noon = datetime.combine(day, time(12), tzinfo=zone)
        if elevation(observer, noon) <= 0:
            return None  # polar night
        # Polar day: light from midnight to midnight.
        return _midnight(day if event == "sunrise" else day + timedelta(days=1), tz)
    return moment.timestamp()


def _edge(
    edge: WindowTime, day: date, location: Location | None, tz: tzinfo | None
) -> float | None:
    if edge.event is None:
        wall_time = time(edge.minutes // 60, edge.minutes % 60)
        return datetime.combine(day, wall_time, tzinfo=tz).timestamp()
    assert location is not None, "the config reader requires a location for sun times"
    moment = _sun_event(edge.event, day, location, tz)
    return None if moment is None else moment + edge.minutes * 60


def window_on(config: TimelapseConfig, day: date, tz: tzinfo | None) -> Window | None:
    """The window that starts on local date ``day``, or None (day excluded, polar night)."""
    assert config.start is not None and config.end is not None
    if day.weekday() not in config.days:
        return None
    if config.from_date is not None and day < config.from_date:
        return None
    if config.until_date is not None and day > config.until_date:
        return None
    start = _edge(config.start, day, config.location, tz)
    end = _edge(config.end, day, config.location, tz)
    if start is None or end is None:
        return None
    if end <= start:  # crosses midnight: the end is on the next date
        end = _edge(config.end, day + timedelta(days=1), config.location, tz)
        if end is None or end <= start:
            return None
    return Window(day, start, end)


def next_window(config: TimelapseConfig, wall: float, tz: tzinfo | None) -> Window | None:
    """The window open at ``wall`` or the next one to open; None when there is none left."""
    return WindowFinder(config, tz).next(wall)


class WindowFinder:
    """:func:`next_window` for one timelapse, remembering each date's window: a waiting
    timelapse asks for the same dates again and again (up to a polar night ahead), and a
    date's window never changes."""

    def __init__(self, config: TimelapseConfig, tz: tzinfo | None) -> None:
        self._config = config
        self._tz = tz
        self._windows: dict[date, Window | None] = {}

    def on(self, day: date) -> Window | None:
        if day not in self._windows:
            if len(self._windows) >= WINDOW_CACHE_SIZE:
                self._windows.clear()
            self._windows[day] = window_on(self._config, day, self._tz)
        return self._windows[day]

    def next(self, wall: float) -> Window | None:
        config = self._config
        today = local_date(wall, self._tz)
        for offset in range(-1, SEARCH_DAYS):  # yesterday's window may still be open
            day = today + timedelta(days=offset)
            if config.until_date is not None and day > config.until_date:
                return None
            window = self.on(day)
            if window is not None and window.end > wall:
                return window
        return None
