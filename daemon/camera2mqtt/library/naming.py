"""Where a downloaded photo goes: a path template under the camera's download folder.

A template is a relative POSIX path whose ``{field}`` parts are filled from the camera file:

``{camera}``  the camera's configured name (the CLI uses the model)
``{year}``    four-digit year the photo was taken (camera clock; download time if unknown)
``{month}``   two-digit month, 01-12
``{day}``     two-digit day of the month, 01-31
``{hour}``, ``{minute}``, ``{second}``   two digits each
``{date}``    ``YYYY-MM-DD``
``{folder}``  the DCF folder on the card, e.g. ``100OLYMP`` (``card`` when the camera has none)
``{name}``    the file name as on the card, e.g. ``P1010001.JPG``
``{stem}``    the name without its extension, e.g. ``P1010001``
``{ext}``     the extension without the dot, as on the card, e.g. ``JPG``

The default is :data:`DEFAULT_TEMPLATE`. Two different photos never share a path: when the
rendered path is taken, ``-1``, ``-2``... is added before the extension (:func:`candidates`).
Names from the camera that could leave the folder are refused (:func:`check_camera_path`).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from datetime import datetime
from pathlib import PurePosixPath

from camera2mqtt.cameras.base import ImageRef, UnsafeFilename

__all__ = [
    "DEFAULT_TEMPLATE",
    "TEMPLATE_FIELDS",
    "candidates",
    "check_camera_path",
    "dcf_folder",
    "render",
    "template_problem",
]

DEFAULT_TEMPLATE = "{year}/{month}/{day}/{name}"
TEMPLATE_FIELDS = (
    "camera",
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "date",
    "folder",
    "name",
    "stem",
    "ext",
)
NO_FOLDER = "card"
MAX_SUFFIX = 9999
_UNSAFE_CHARACTER = re.compile(r"[\x00-\x1f\\\x7f]")  # control characters and backslash


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot be used (one sentence), or None when it is fine."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"it is not a valid template ({error}); write fields as {{name}}"
    fields = [name for _text, name, _spec, _conv in parsed if name is not None]
    unknown = sorted({name for name in fields if name not in TEMPLATE_FIELDS})
    if unknown:
        return f"unknown field(s) {', '.join(unknown)}; use {', '.join(TEMPLATE_FIELDS)}"
    if any(spec or conv for _text, name, spec, conv in parsed if name is not None):
        return "fields take no format spec or conversion; write them as {year}"
    if "name" not in fields and "stem" not in fields:
        return "it must contain {name} or {stem}, or every photo would get the same name"
    if template.startswith("/") or "\\" in template:
        return "it must be a relative path with / between folders"
    if any(part in {"", ".", ".."} for part in template.split("/")):
        return "it may not contain empty, '.' or '..' parts"
    return None


def check_camera_path(path: str) -> None:
    """Refuse a camera path whose name or folder could escape a local folder."""
    parts = path.split("/")
    name = parts[-1]
    if (
        not name
        or name.startswith(".")
        or any(part in {".", ".."} for part in parts)
        or _UNSAFE_CHARACTER.search(path)
    ):
        raise UnsafeFilename(
            f"Refusing the camera file {path!r}: its name could escape the folder."
        )


def dcf_folder(ref: ImageRef) -> str:
    """The card folder of ``ref`` (``/DCIM/100OLYMP``), or "" for cameras without folders."""
    parent = ref.path.rpartition("/")[0]
    return "" if parent in {"", "."} else parent


def render(template: str, ref: ImageRef, *, camera: str, now: datetime) -> PurePosixPath:
    """The relative path ``template`` gives ``ref``; raises UnsafeFilename for a bad name."""
    check_camera_path(ref.path)
    taken = ref.timestamp or now
    name = ref.name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    folder = PurePosixPath(dcf_folder(ref)).name or NO_FOLDER
    values = {
        "camera": _plain(camera),
        "year": f"{taken.year:04d}",
        "month": f"{taken.month:02d}",
        "day": f"{taken.day:02d}",
        "hour": f"{taken.hour:02d}",
        "minute": f"{taken.minute:02d}",
        "second": f"{taken.second:02d}",
        "date": f"{taken.year:04d}-{taken.month:02d}-{taken.day:02d}",
        "folder": _plain(folder),
        "name": name,
        "stem": stem,
        "ext": ext,
    }
    relative = PurePosixPath(template.format(**values))
    if relative.is_absolute() or any(part in {".", ".."} for part in relative.parts):
        raise UnsafeFilename(f"Refusing the camera file {ref.path!r}: its path would escape.")
    return relative


def candidates(relative: PurePosixPath) -> Iterator[PurePosixPath]:
    """``relative``, then ``stem-1.ext``, ``stem-2.ext``... for when a path is taken."""
    yield relative
    suffix = relative.suffix
    stem = relative.name[: -len(suffix)] if suffix else relative.name
    for number in range(1, MAX_SUFFIX + 1):
        yield relative.with_name(f"{stem}-{number}{suffix}")


def _plain(text: str) -> str:
    """A camera or folder name made safe as one path part."""
    cleaned = "".join(char if char.isalnum() or char in "-_." else "_" for char in text)
    return cleaned.strip(".") or "_"
