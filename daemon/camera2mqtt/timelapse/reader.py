"""Reading ``location:`` and each camera's ``timelapses:`` section of the configuration.

Called by :mod:`camera2mqtt.config` with its section readers, so every problem is reported
like the other config errors (key path, line, what is allowed; exit 78).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path, PurePosixPath

import yaml

from camera2mqtt.config import (
    _BOOL,
    _INVALID,
    _Context,
    _describe,
    _integer,
    _join,
    _number,
    _Reader,
    _Section,
    _text,
)
from camera2mqtt.timelapse.settings import (
    DEFAULT_PATH_TEMPLATE,
    LEGACY_NAME,
    WEEKDAYS,
    Location,
    TimelapseConfig,
    WindowTime,
)
from camera2mqtt.timelapse.video import find_ffmpeg

__all__ = ["read_location", "read_timelapses"]

NAME_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
CLOCK_PATTERN = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
SUN_PATTERN = re.compile(r"(sunrise|sunset)(?:\s*([+-])\s*(\d{1,2}):([0-5]\d))?")
DEFAULT_FPS = 25
MAX_FPS = 120
MAX_DURATION = 366 * 86400.0
_TIMELAPSE_KEYS = (
    "interval",
    "start",
    "end",
    "days",
    "from",
    "until",
    "count",
    "duration",
    "properties",
    "fetch",
    "path",
    "video",
    "autostart",
)
_LOCATION_KEYS = ("latitude", "longitude")
_VIDEO_KEYS = ("fps",)
_DAY_WORDS = {
    "daily": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekends": (5, 6),
}
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NAMES = {
    **{short: i for i, short in enumerate(WEEKDAYS)},
    **{full: i for i, full in enumerate(_FULL_DAY_NAMES)},
}
_DAYS_ALLOWED = (
    "a list of days (mon, tue, wed, thu, fri, sat, sun), a range like mon-fri, "
    "or daily, weekdays, weekends"
)
_WINDOW_ALLOWED = 'a time "HH:MM" or sunrise/sunset with an optional offset like "sunset-00:30"'


def read_location(top: _Section) -> Location | None:
    """The top-level ``location: {latitude, longitude}``, or None."""
    section = top.section("location", _LOCATION_KEYS)
    if section is None:
        return None
    latitude = section.get("latitude", _number(-90, 90))
    longitude = section.get("longitude", _number(-180, 180))
    if latitude is _INVALID or longitude is _INVALID:
        return None
    return Location(latitude, longitude)


def read_timelapses(
    camera: _Section,
    *,
    camera_name: str,
    photos_dir: Path,
    location: Location | None,
    legacy_interval: float,
) -> tuple[TimelapseConfig, ...]:
    """The camera's timelapses, plus the always-on one ``schedule.timelapse_interval`` makes."""
    context = camera.context
    path = _join(camera.path, "timelapses")
    node = camera.value_node("timelapses")
    timelapses: list[TimelapseConfig] = []
    if node is not None and node.tag != "tag:yaml.org,2002:null":
        if not isinstance(node, yaml.MappingNode):
            context.add(
                path,
                node,
                f"must be a mapping of timelapse name -> settings; got {_describe(node)}",
            )
        else:
            names = _Section(context, node, path, ())
            for name, (key_node, value_node) in names.entries.items():
                item = _read_one(
                    context,
                    name,
                    f"{path}.{name}",
                    key_node,
                    value_node,
                    camera_name,
                    photos_dir,
                    location,
                )
                if item is not None:
                    timelapses.append(item)
    if legacy_interval > 0:
        if any(item.name == LEGACY_NAME for item in timelapses):
            context.add(
                _join(camera.path, "schedule.timelapse_interval"),
                camera.value_node("schedule"),
                f"give either schedule.timelapse_interval or timelapses.{LEGACY_NAME}, not "
                f"both; move the interval into timelapses.{LEGACY_NAME}.interval",
            )
        else:
            timelapses.append(
                TimelapseConfig(
                    name=LEGACY_NAME,
                    camera=camera_name,
                    interval=legacy_interval,
                    photos_dir=photos_dir,
                    legacy=True,
                )
            )
    return tuple(timelapses)


def _read_one(
    context: _Context,
    name: str,
    path: str,
    key_node: yaml.Node,
    node: yaml.Node,
    camera_name: str,
    photos_dir: Path,
    location: Location | None,
) -> TimelapseConfig | None:
    if not NAME_PATTERN.fullmatch(name):
        context.add(
            path,
            key_node,
            "timelapse names are MQTT topic levels and Home Assistant ids: use 1 to 64 "
            "lower-case letters, digits, '_' or '-'",
        )
    if not isinstance(node, yaml.MappingNode):
        context.add(
            path, node, f"must be a mapping with at least 'interval'; got {_describe(node)}"
        )
        return None
    section = _Section(context, node, path, _TIMELAPSE_KEYS, key_node)
    interval = section.get("interval", _number(1, 7 * 86400))
    start = _window_time(section, "start", location)
    end = _window_time(section, "end", location)
    if (section.has("start")) != (section.has("end")):
        missing = "end" if section.has("start") else "start"
        context.add(
            _join(path, missing),
            section.anchor,
            f"a window needs both 'start' and 'end'; add '{missing}' or remove the other",
        )
    from_date = _date(section, "from")
    until_date = _date(section, "until")
    if from_date and until_date and until_date < from_date:
        context.add(_join(path, "until"), section.value_node("until"), "must not be before 'from'")
    count = section.get("count", _integer(1, 1_000_000, "a number of shots"), None)
    duration = section.get("duration", _number(1, MAX_DURATION), None)
    if count is not None and duration is not None:
        context.add(
            _join(path, "duration"),
            section.value_node("duration"),
            "give either 'count' or 'duration' per session, not both",
        )
    fetch = section.get("fetch", _BOOL, False)
    template = section.get("path", _text("a path template"), DEFAULT_PATH_TEMPLATE)
    if not _template_ok(context, section, template):
        template = DEFAULT_PATH_TEMPLATE
    fps = _video_fps(section)
    if fps is not None and not fetch:
        context.add(
            _join(path, "video"),
            section.value_node("video"),
            "a video is made from fetched frames; set 'fetch: true' as well",
        )
    if fps is not None and find_ffmpeg() is None:
        context.add(
            _join(path, "video"),
            section.value_node("video"),
            "needs ffmpeg, which is not installed; install it (apt-get install ffmpeg)",
        )
    autostart = section.get("autostart", _BOOL, True)
    if section.has("autostart") and section.has("start"):
        context.add(
            _join(path, "autostart"),
            section.value_node("autostart"),
            "only applies to a timelapse without a window (start/end); remove it",
        )
    days = _days(section)
    properties = _properties(section)
    if interval is _INVALID or start is _INVALID or end is _INVALID:
        return None
    if (start is None) != (end is None):
        return None
    return TimelapseConfig(
        name=name,
        camera=camera_name,
        interval=interval,
        start=start,
        end=end,
        days=days,
        from_date=from_date,
        until_date=until_date,
        count=count,
        duration=duration,
        properties=properties,
        fetch=fetch,
        path=template,
        photos_dir=photos_dir,
        video_fps=fps,
        location=location,
        autostart=autostart,
    )


def _window_time(section: _Section, key: str, location: Location | None) -> WindowTime | None:
    node = section.value_node(key)
    if node is None:
        return None
    path = _join(section.path, key)
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        section.context.add(path, node, f"must be {_WINDOW_ALLOWED}; got {_describe(node)}")
        return _INVALID
    # An unquoted 07:30 is a YAML 1.1 sexagesimal number; its text is still what was meant.
    text = node.value.strip().lower()
    clock = CLOCK_PATTERN.fullmatch(text)
    if clock:
        return WindowTime(None, int(clock.group(1)) * 60 + int(clock.group(2)))
    sun = SUN_PATTERN.fullmatch(text)
    if sun is None:
        section.context.add(path, node, f"must be {_WINDOW_ALLOWED}; got {node.value!r}")
        return _INVALID
    if location is None:
        section.context.add(
            path,
            node,
            f"{sun.group(1)} needs the top-level 'location: {{latitude: ..., longitude: ...}}'",
        )
        return _INVALID
    offset = 0
    if sun.group(2):
        offset = int(sun.group(3)) * 60 + int(sun.group(4))
        offset = -offset if sun.group(2) == "-" else offset
    return WindowTime(sun.group(1), offset)


def _date(section: _Section, key: str) -> date | None:
    reader = _Reader("str", "a date YYYY-MM-DD", _is_date)
    text = section.get(key, reader, None)
    return None if text is None else date.fromisoformat(text.strip())


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _days(section: _Section) -> tuple[int, ...]:
    node = section.value_node("days")
    if node is None or node.tag == "tag:yaml.org,2002:null":
        return tuple(range(7))
    path = _join(section.path, "days")
    items: list[tuple[str, yaml.Node]] = []
    if isinstance(node, yaml.SequenceNode):
        items = [(f"{path}[{i}]", item) for i, item in enumerate(node.value)]
    else:
        items = [(path, node)]
    days: set[int] = set()
    for item_path, item in items:
        if not isinstance(item, yaml.ScalarNode):
            section.context.add(item_path, item, f"must be {_DAYS_ALLOWED}; got {_describe(item)}")
            continue
        for word in str(item.value).replace(",", " ").split():
            parsed = _day_word(word.lower())
            if parsed is None:
                section.context.add(item_path, item, f"must be {_DAYS_ALLOWED}; got {word!r}")
            else:
                days.update(parsed)
    if not days:
        section.context.add(path, node, f"must name at least one day: {_DAYS_ALLOWED}")
        return tuple(range(7))
    return tuple(sorted(days))


def _day_word(word: str) -> tuple[int, ...] | None:
    if word in _DAY_WORDS:
        return _DAY_WORDS[word]
    if "-" in word:
        first, _, last = word.partition("-")
        a, b = _weekday(first), _weekday(last)
        if a is None or b is None:
            return None
        return tuple(range(a, b + 1)) if a <= b else (*range(a, 7), *range(0, b + 1))
    day = _weekday(word)
    return None if day is None else (day,)


def _weekday(word: str) -> int | None:
    return _WEEKDAY_NAMES.get(word)


def _properties(section: _Section) -> tuple[tuple[str, str], ...]:
    node = section.value_node("properties")
    if node is None or node.tag == "tag:yaml.org,2002:null":
        return ()
    path = _join(section.path, "properties")
    if not isinstance(node, yaml.MappingNode):
        section.context.add(
            path, node, f"must be a mapping of camera property -> value; got {_describe(node)}"
        )
        return ()
    props = _Section(section.context, node, path, ())
    reader = _text("a property value")
    values = []
    for key in props.entries:
        value = props.get(key, reader)
        if value is not _INVALID:
            values.append((key, value))
    return tuple(values)


def _video_fps(section: _Section) -> int | None:
    node = section.value_node("video")
    if node is None or node.tag == "tag:yaml.org,2002:null":
        return None
    if isinstance(node, yaml.ScalarNode):
        enabled = section.get("video", _Reader("bool", "true, false or {fps: N}"), False)
        return DEFAULT_FPS if enabled is True else None
    video = section.section("video", _VIDEO_KEYS)
    if video is None:
        return None
    return video.get("fps", _integer(1, MAX_FPS, "frames per second"), DEFAULT_FPS)


def _template_ok(context: _Context, section: _Section, template: str) -> bool:
    path = _join(section.path, "path")
    node = section.value_node("path")
    try:
        first = _render(template, 1)
        second = _render(template, 2)
    except (KeyError, IndexError, ValueError) as error:
        context.add(
            path,
            node,
            "must be a template using {camera}, {name}, {date} and {index} (e.g. "
            f"{DEFAULT_PATH_TEMPLATE}); {type(error).__name__}: {error}",
        )
        return False
    pure = PurePosixPath(first)
    problem = None
    if first == second:
        problem = "must contain {index} so that each frame gets its own file"
    elif pure.is_absolute() or ".." in pure.parts:
        problem = "must be a relative path inside photos_dir (no leading '/', no '..')"
    elif pure.suffix.lower() not in (".jpg", ".jpeg"):
        problem = "must end in .jpg or .jpeg (frames are the shots' JPEG files)"
    elif len(pure.parts) < 2:
        problem = "must put the frames in a folder of their own (e.g. {date}/{index:05d}.jpg)"
    if problem is not None:
        context.add(path, node, problem)
        return False
    return True


def _render(template: str, index: int) -> str:
    return template.format(camera="camera", name="timelapse", date="2024-01-31", index=index)
