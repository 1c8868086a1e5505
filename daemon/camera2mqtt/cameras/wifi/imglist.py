"""``get_imglist.cgi`` listings: ``VER_100`` then ``dir,name,size,attribute,date,time`` lines.

Date and time are FAT words in camera local time; the time word counts seconds in units of
two. Attribute bits follow FAT: folders have bit 4, hidden/system/volume entries are skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from camera2mqtt.cameras.base import ProtocolError

__all__ = [
    "ATTR_DIRECTORY",
    "ATTR_SKIPPED",
    "IMGLIST_HEADER",
    "ImgEntry",
    "fat_datetime",
    "parse_imglist",
]

log = logging.getLogger(__name__)

IMGLIST_HEADER = "VER_100"
ATTR_HIDDEN = 0x02
ATTR_SYSTEM = 0x04
ATTR_VOLUME = 0x08
ATTR_DIRECTORY = 0x10
ATTR_SKIPPED = ATTR_HIDDEN | ATTR_SYSTEM | ATTR_VOLUME


@dataclass(frozen=True, slots=True)
class ImgEntry:
    """One line of a listing."""

    directory: str
    name: str
    size: int
    attribute: int
    timestamp: datetime | None

    @property
    def path(self) -> str:
        return f"{self.directory.rstrip('/')}/{self.name}"

    @property
    def is_directory(self) -> bool:
        return bool(self.attribute & ATTR_DIRECTORY)

    @property
    def is_skipped(self) -> bool:
        """Hidden, system and volume-label entries, which are not the user's files."""
        return bool(self.attribute & ATTR_SKIPPED)


def fat_datetime(date_word: int, time_word: int) -> datetime | None:
    """Decode FAT date and time words; None for impossible values (an unset camera clock)."""
    year = 1980 + (date_word >> 9)
    month = (date_word >> 5) & 0x0F
    day = date_word & 0x1F
    hour = time_word >> 11
    minute = (time_word >> 5) & 0x3F
    second = 2 * (time_word & 0x1F)
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


_UNSAFE_IN_NAMES = ("/", "\\", "\x00")


def parse_imglist(body: bytes | str) -> list[ImgEntry]:
    """Parse a listing (CRLF lines; bare LF tolerated). Garbled lines are logged and skipped."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != IMGLIST_HEADER:
        first = lines[0][:40] if lines else ""
        raise ProtocolError(
            f"The camera's image list does not start with {IMGLIST_HEADER} (got {first!r})."
        )
    entries = []
    for line in lines[1:]:
        line = line.strip()
        if not line:
            continue
        entry = _parse_line(line)
        if entry is None:
            log.warning("Skipping an unreadable image list line: %r", line[:200])
            continue
        entries.append(entry)
    return entries


def _parse_line(line: str) -> ImgEntry | None:
    head, *numbers = line.rsplit(",", 4)
    directory, sep, name = head.partition(",")
    if len(numbers) != 4 or not sep or not name:
        return None
    try:
        size, attribute, date_word, time_word = (int(n) for n in numbers)
    except ValueError:
        return None
    if size < 0 or attribute < 0 or name in {".", ".."} or any(c in name for c in _UNSAFE_IN_NAMES):
        return None  # such a name could leave the folder it is listed in, here or on disk
    return ImgEntry(
        directory=directory.rstrip("/") or "/",
        name=name,
        size=size,
        attribute=attribute,
        timestamp=fat_datetime(date_word, time_word),
    )
