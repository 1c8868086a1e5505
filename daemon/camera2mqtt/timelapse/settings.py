"""What a timelapse is configured to do: frozen values read from the ``timelapses:`` section.

This module only holds values (no reading, no timing), so that :mod:`camera2mqtt.config` can
use them without importing the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

__all__ = [
    "DEFAULT_PATH_TEMPLATE",
    "LEGACY_NAME",
    "SUN_EVENTS",
    "WEEKDAYS",
    "Location",
    "TimelapseConfig",
    "WindowTime",
]

DEFAULT_PATH_TEMPLATE = "{camera}/timelapse/{name}/{date}/{index:05d}.jpg"
LEGACY_NAME = "timelapse"  # the always-on timelapse that schedule.timelapse_interval becomes
SUN_EVENTS = ("sunrise", "sunset")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


@dataclass(frozen=True, slots=True)
class Location:
    """Where the cameras are, for sunrise and sunset (degrees, north and east positive)."""

    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class WindowTime:
    """A window edge: a local clock time, or a sun event with an offset, in minutes."""

    event: str | None  # None for a clock time, else "sunrise" or "sunset"
    minutes: int  # clock: minutes after midnight; sun event: signed offset

    def describe(self) -> str:
        if self.event is None:
            return f"{self.minutes // 60:02d}:{self.minutes % 60:02d}"
        if not self.minutes:
            return self.event
        sign = "-" if self.minutes < 0 else "+"
        offset = abs(self.minutes)
        return f"{self.event}{sign}{offset // 60:02d}:{offset % 60:02d}"


@dataclass(frozen=True, kw_only=True)
class TimelapseConfig:
    """One named timelapse of one camera."""

    name: str
    camera: str
    interval: float  # seconds between shots
    start: WindowTime | None = None  # no window: runs whenever it is started (or always)
    end: WindowTime | None = None
    days: tuple[int, ...] = tuple(range(7))  # date.weekday() of the window's start
    from_date: date | None = None
    until_date: date | None = None
    count: int | None = None  # shots per session
    duration: float | None = None  # seconds per session
    properties: tuple[tuple[str, str], ...] = ()
    fetch: bool = False
    path: str = DEFAULT_PATH_TEMPLATE  # relative to photos_dir
    photos_dir: Path = Path(".")
    video_fps: int | None = None
    location: Location | None = None
    autostart: bool = True  # a timelapse without a window runs from the daemon's start
    legacy: bool = field(default=False, compare=False)  # from schedule.timelapse_interval

    @property
    def windowed(self) -> bool:
        return self.start is not None
