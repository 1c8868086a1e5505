"""Device state of the simulated Wi-Fi camera: mode, card contents, properties, clock, power.

Everything here is guarded by one lock, because the wire server answers every connection on
its own thread. Public attributes return snapshots, so tests can read them at any time.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.wifi.models import ModelProfile

__all__ = [
    "DCIM",
    "DEFAULT_FOLDER",
    "CardFile",
    "DeviceState",
    "ListEntry",
    "SimClock",
    "fat_date",
    "fat_time",
    "olympus_name",
]

DCIM = "/DCIM"
DEFAULT_FOLDER = f"{DCIM}/100OLYMP"
ATTRIBUTE_DIRECTORY = 0x10
ATTRIBUTE_FILE = 0
# Files from --images that the simulated card shows (case-insensitive suffixes).
CARD_SUFFIXES = frozenset({".jpg", ".jpeg", ".orf"})
GENERATED_IMAGES = 3
INITIAL_MODE = "play"
DEFAULT_LVQTY = "0640x0480"
_MONTH_LETTERS = "123456789ABC"
_OLYMPUS_NAME = re.compile(r"^P[1-9A-C]\d{2}(\d{4})\.[A-Z0-9]{3}$", re.IGNORECASE)
_COUNTER_LIMIT = 9999
# DCF folder names: a number 100-999 and five characters, e.g. 101OLYMP.
_DCF_FOLDER = re.compile(r"^[1-9]\d{2}[A-Z0-9_]{5}$")
_FAT_EPOCH_YEAR = 1980


def fat_date(moment: datetime) -> int:
    """FAT date word: bits 15-9 year-1980, 8-5 month, 4-0 day."""
    year = max(moment.year - _FAT_EPOCH_YEAR, 0)
    return (year << 9) | (moment.month << 5) | moment.day


def fat_time(moment: datetime) -> int:
    """FAT time word: bits 15-11 hour, 10-5 minute, 4-0 seconds/2."""
    return (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)


def olympus_name(moment: datetime, counter: int, suffix: str = "JPG") -> str:
    """``P`` + month (1-9, A-C) + day + 4-digit counter, as Olympus bodies name files."""
    return f"P{_MONTH_LETTERS[moment.month - 1]}{moment.day:02d}{counter:04d}.{suffix}"


@dataclass(frozen=True)
class CardFile:
    path: str  # camera path, e.g. /DCIM/100OLYMP/P1010001.JPG
    local: Path
    size: int
    taken: datetime  # camera-local wall time, naive

    @property
    def folder(self) -> str:
        return self.path.rsplit("/", 1)[0]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[1]


@dataclass(frozen=True)
class ListEntry:
    """One get_imglist line: directory, name, size, attribute, FAT date, FAT time."""

    directory: str
    name: str
    size: int
    attribute: int
    taken: datetime

    def line(self) -> str:
        return (
            f"{self.directory},{self.name},{self.size},{self.attribute},"
            f"{fat_date(self.taken)},{fat_time(self.taken)}"
        )


class SimClock:
    """The camera's wall clock: local time without a zone, set by set_utctimediff."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = datetime.now() - datetime.now(UTC).replace(tzinfo=None)

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return (datetime.now(UTC).replace(tzinfo=None) + offset).replace(microsecond=0)

    def set(self, utc: datetime, diff: timedelta) -> None:
        """Camera local time becomes ``utc + diff`` and runs on from there."""
        with self._lock:
            self._offset = utc + diff - datetime.now(UTC).replace(tzinfo=None)


class DeviceState:
    """The simulated body: mode state machine, card, properties, live view flag, power."""

    def __init__(
        self, profile: ModelProfile, *, work_dir: Path, images_dir: Path | None = None
    ) -> None:
        self.profile = profile
        self.clock = SimClock()
        self._lock = threading.RLock()
        self._work_dir = work_dir
        self._mode = INITIAL_MODE
        self._lvqty: str | None = None
        self._liveview_dest: tuple[str, int] | None = None
        self._powered = True
        self._shutter_button = "released"
        self._properties = {spec.name: spec.value for spec in profile.properties}
        self._files: dict[str, CardFile] = {}
        if images_dir is not None:
            self._load_images(images_dir)
        else:
            self._generate_images(GENERATED_IMAGES)

    # -- snapshots for tests and the server ------------------------------------------------
    @property
    def mode(self) -> str:
        with self._lock:
            return self._mode

    @property
    def lvqty(self) -> str | None:
        with self._lock:
            return self._lvqty

    @property
    def powered(self) -> bool:
        with self._lock:
            return self._powered

    @property
    def liveview_running(self) -> bool:
        with self._lock:
            return self._liveview_dest is not None

    @property
    def liveview_dest(self) -> tuple[str, int] | None:
        with self._lock:
            return self._liveview_dest

    @property
    def files(self) -> dict[str, Path]:
        """The card: camera path -> local file."""
        with self._lock:
            return {path: card.local for path, card in self._files.items()}

    @property
    def properties(self) -> dict[str, str]:
        with self._lock:
            return dict(self._properties)

    def card_file(self, path: str) -> CardFile | None:
        with self._lock:
            return self._files.get(path)

    def used_bytes(self) -> int:
        with self._lock:
            return sum(card.size for card in self._files.values())

    def newest_file(self) -> CardFile | None:
        with self._lock:
            if not self._files:
                return None
            return max(self._files.values(), key=lambda card: (card.taken, card.path))

    # -- mode -------------------------------------------------------------------------------
    def switch_mode(self, mode: str, lvqty: str | None) -> bool:
        """Enter ``mode``; True when live view was running and stopped by leaving rec.

        Like real bodies, a rec -> rec switch keeps the live-view size it entered rec with:
        a new ``lvqty`` only takes effect after going through play (wifi-protocol.md a.4).
        """
        with self._lock:
            if mode == "rec":
                if self._mode != "rec":
                    self._lvqty = lvqty or self._default_lvqty()
                self._mode = mode
                return False
            stopped = self._liveview_dest is not None
            self._mode = mode
            self._lvqty = None
            self._liveview_dest = None
            self._shutter_button = "released"
            return stopped

    def _default_lvqty(self) -> str:
        offered = self.profile.commandlist.lvqty_values()
        if DEFAULT_LVQTY in offered or not offered:
            return DEFAULT_LVQTY
        return offered[0]

    def set_liveview(self, dest: tuple[str, int] | None) -> None:
        with self._lock:
            self._liveview_dest = dest

    def set_power(self, powered: bool) -> None:
        with self._lock:
            self._powered = powered
            if not powered:
                self._liveview_dest = None

    # -- shutter ----------------------------------------------------------------------------
    @property
    def shutter_button(self) -> str:
        """``released``, ``half`` or ``full`` (pressed through exec_shutter)."""
        with self._lock:
            return self._shutter_button

    def press_shutter(self, position: str) -> str | None:
        """Move the shutter button; returns ``position`` when it changed, else None."""
        with self._lock:
            if position == self._shutter_button:
                return None
            self._shutter_button = position
            return position

    def shoot(self) -> CardFile:
        """Take a picture: a new real JPEG in the newest folder, under the next Olympus name."""
        with self._lock:
            taken = self.clock.now()
            folder = max((card.folder for card in self._files.values()), default=DEFAULT_FOLDER)
            counter = self._next_counter()
            name = olympus_name(taken, counter)
            while f"{folder}/{name}" in self._files:
                counter = counter % _COUNTER_LIMIT + 1
                name = olympus_name(taken, counter)
            return self._store_new(folder, name, taken, seed=counter)

    def _next_counter(self) -> int:
        counters = [
            int(match.group(1))
            for match in (_OLYMPUS_NAME.match(card.name) for card in self._files.values())
            if match
        ]
        return max(counters, default=0) % _COUNTER_LIMIT + 1

    def _store_new(self, folder: str, name: str, taken: datetime, *, seed: int) -> CardFile:
        width, height = self.profile.image_size
        # To the minute, so that simulators started within it share make_jpeg's cached bytes.
        data = make_jpeg(
            width, height, f"{self.profile.model} {name} {taken:%Y-%m-%d %H:%M}", seed=seed
        )
        local_folder = self._work_dir / folder.rsplit("/", 1)[1]
        local_folder.mkdir(exist_ok=True)
        local = local_folder / name
        local.write_bytes(data)
        card = CardFile(path=f"{folder}/{name}", local=local, size=len(data), taken=taken)
        self._files[card.path] = card
        return card

    def add_file(self, folder: str, name: str, data: bytes, taken: datetime) -> CardFile:
        """Put a file on the card (scenario control: reused names, several folders)."""
        if not folder.startswith(DCIM + "/") or "/" in name or not name:
            raise ValueError(f"{folder}/{name} is not a card path under {DCIM}")
        with self._lock:
            local_folder = self._work_dir / "added" / folder.rsplit("/", 1)[1]
            local_folder.mkdir(parents=True, exist_ok=True)
            local = local_folder / name
            local.write_bytes(data)
            card = CardFile(path=f"{folder}/{name}", local=local, size=len(data), taken=taken)
            self._files[card.path] = card
            return card

    def swap_card(self) -> None:
        """Take the card out and put an empty one in (files the simulator made are deleted)."""
        with self._lock:
            paths = list(self._files)
        for path in paths:
            self.erase(path)

    # -- properties -------------------------------------------------------------------------
    def get_property(self, name: str) -> str | None:
        with self._lock:
            return self._properties.get(name)

    def set_property(self, name: str, value: str) -> None:
        with self._lock:
            self._properties[name] = value

    # -- card -------------------------------------------------------------------------------
    def listing(self, directory: str) -> list[ListEntry]:
        """The entries directly inside ``directory`` (empty when it is empty or missing)."""
        directory = directory.rstrip("/") or "/"
        with self._lock:
            cards = list(self._files.values())
        entries: list[ListEntry] = []
        folders: dict[str, datetime] = {}
        prefix = "" if directory == "/" else directory
        for card in cards:
            if card.folder == directory:
                entries.append(
                    ListEntry(directory, card.name, card.size, ATTRIBUTE_FILE, card.taken)
                )
            elif card.folder.startswith(prefix + "/"):
                child = card.folder[len(prefix) + 1 :].split("/", 1)[0]
                first = folders.get(child)
                folders[child] = card.taken if first is None else min(first, card.taken)
        folder_entries = [
            ListEntry(directory, name, 0, ATTRIBUTE_DIRECTORY, taken)
            for name, taken in sorted(folders.items())
        ]
        return folder_entries + sorted(entries, key=lambda entry: entry.name)

    def erase(self, path: str) -> bool:
        """Remove a file from the card; only files the simulator made are deleted on disk."""
        with self._lock:
            card = self._files.pop(path, None)
        if card is None:
            return False
        if card.local.is_relative_to(self._work_dir):
            card.local.unlink(missing_ok=True)
        return True

    def _load_images(self, images_dir: Path) -> None:
        """Top-level files go to 100OLYMP; DCF-named subfolders (101OLYMP...) become folders."""
        folders = [(images_dir, DEFAULT_FOLDER)] + [
            (sub, f"{DCIM}/{sub.name}")
            for sub in sorted(images_dir.iterdir())
            if sub.is_dir() and _DCF_FOLDER.match(sub.name)
        ]
        for source, folder in folders:
            for local in sorted(_card_candidates(source)):
                self._add_existing(local, f"{folder}/{local.name}")

    def _add_existing(self, local: Path, path: str) -> None:
        stat = local.stat()
        self._files[path] = CardFile(
            path=path,
            local=local,
            size=stat.st_size,
            taken=datetime.fromtimestamp(stat.st_mtime).replace(microsecond=0),
        )

    def _generate_images(self, count: int) -> None:
        now = self.clock.now()
        for index in range(count):
            taken = now - timedelta(hours=count - index, seconds=7 * index)
            self._store_new(DEFAULT_FOLDER, olympus_name(taken, index + 1), taken, seed=index + 1)


def _card_candidates(images_dir: Path) -> Iterable[Path]:
    for entry in images_dir.iterdir():
        name = entry.name
        if (
            entry.is_file()
            and entry.suffix.lower() in CARD_SUFFIXES
            and not name.startswith(".")
            and name.isascii()
            and "," not in name
            and name.isprintable()
            and " " not in name
        ):
            yield entry
