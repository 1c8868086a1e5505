"""Device state of the simulated serial camera: frames, registers, clock, line speed.

Everything the camera stores lives here and nothing here knows about bytes on the wire.
The wire side and a test may use it at the same time: hold :attr:`DeviceState.lock`
while changing several fields together.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.sim.images import make_jpeg, resize_jpeg
from camera2mqtt.sim.serial.models import ModelProfile

__all__ = [
    "BASE_SPEED",
    "FRAME_REGISTERS",
    "SPEED_CODES",
    "DeviceState",
    "ImagesFolderError",
    "default_frames",
    "load_frames",
]

BASE_SPEED = 19200
SPEED_CODES = {1: 9600, 2: 19200, 3: 38400, 4: 57600, 5: 115200, 6: 230400}
"""Register 17 values (0 means "back to the default", 19200)."""

FRAME_REGISTERS = frozenset({12, 13, 14, 15, 39, 43, 44, 47})
"""Registers that only answer once register 4 selected a frame in this session."""

JPEG_SUFFIXES = frozenset({".jpg", ".jpeg"})
JPEG_MAGIC = b"\xff\xd8"
PACKET_SIZE_REGISTER = 77

# Integer registers every profile starts with (seed 004 register table); model values win.
BASE_INT_REGISTERS: dict[int, int] = {
    1: 2,  # resolution: Hi
    3: 0,  # shutter: auto
    5: 0,  # aperture: auto
    6: 1,  # colour
    7: 0,  # flash: auto
    8: 128,
    9: 128,
    18: 1,
    19: 0,  # bright/contrast: normal
    20: 0,  # white balance: auto
    23: 60,  # autoshut on host (s)
    24: 180,  # autoshut in field (s)
    30: 0,  # LED off
    33: 2,  # focus: normal
    34: 2,  # operation mode: record
    35: 4,  # LCD brightness
    36: 3,
    38: 60,  # LCD autoshut (s)
    41: 1,  # date format
    50: 0,
    53: 3,  # language: english
    70: 5,  # metering: matrix
    72: 0,
    PACKET_SIZE_REGISTER: 2048,
    82: 0,
    86: 0,  # digital zoom off
}
WRITABLE_INT_REGISTERS = frozenset(
    {1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 19, 20, 23, 24, 30, 33, 35, 41, 53, 70, 72, 77, 82, 83, 86}
)
# Vdata registers with fixed contents; the profile's identity strings are added to these.
BASE_VAR_REGISTERS: dict[int, bytes] = {
    21: b"",
    22: b"\0",  # camera I.D.
    31: b"\0",
    37: b"\0",
    42: b"",
    45: b"",
    49: b"",
    52: b"",
    69: bytes((0, 0, 0, 0, 10, 0, 0, 0)),  # exposure compensation 0
    71: bytes((65, 0, 0, 0, 10, 0, 0, 0)),  # zoom 6.5 mm
    78: b"",
}
WRITABLE_VAR_REGISTERS = frozenset({21, 22, 52})


class ImagesFolderError(Camera2MqttError):
    """The folder of images for the simulator cannot be used."""


@dataclass(frozen=True)
class _FrameInfo:
    taken: int  # time_t
    protected: bool = False


def default_frames(profile: ModelProfile) -> list[tuple[str, bytes]]:
    """Three generated pictures; the first (1600x1200) is over 500 kB, for benchmarks."""
    del profile  # the same pictures on every model, so tests can compare bytes
    sizes = ((1600, 1200, 60), (800, 600, 85), (640, 480, 85))
    return [
        (f"P101{number:04d}.JPG", make_jpeg(w, h, f"frame {number}", seed=number, quality=q))
        for number, (w, h, q) in enumerate(sizes, start=1)
    ]


def load_frames(folder: Path) -> list[tuple[str, bytes, int]]:
    """The JPEG files of ``folder`` in name order as (name, data, mtime)."""
    if not folder.is_dir():
        raise ImagesFolderError(f"images folder {folder} does not exist; give an existing folder")
    frames = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in JPEG_SUFFIXES or not path.is_file():
            continue
        data = path.read_bytes()
        if not data.startswith(JPEG_MAGIC):
            continue
        frames.append((path.name, data, int(path.stat().st_mtime)))
    return frames


class DeviceState:
    """Frames, registers, clock and line speed of one simulated camera."""

    def __init__(
        self,
        profile: ModelProfile,
        frames: Iterable[tuple[str, bytes]] | None = None,
        *,
        taken: Mapping[str, int] | None = None,
    ) -> None:
        """``frames`` default to :func:`default_frames`; ``taken`` maps names to time_t."""
        self.lock = threading.RLock()
        self.profile = profile
        now = int(time.time())
        self.frames: list[tuple[str, bytes]] = []
        self._info: dict[str, _FrameInfo] = {}
        for name, data in default_frames(profile) if frames is None else frames:
            self.add_frame(name, data, taken=(taken or {}).get(name, now))
        self.int_registers: dict[int, int] = {**BASE_INT_REGISTERS, **profile.int_overrides}
        self.var_registers: dict[int, bytes] = {
            **BASE_VAR_REGISTERS,
            25: profile.serial.encode() + b"\0",
            26: profile.version.encode() + b"\0",
            27: profile.model.encode() + b"\0",
            48: profile.manufacturer.encode() + b"\0",
        }
        self.battery = 87
        self.card_present = True
        self.clock_offset = 0.0
        self.speed = BASE_SPEED
        self.current_frame = 0
        self.frame_selected = False
        self.preview: bytes | None = None
        self.folder: tuple[str, ...] = profile.folders
        self.folder_choice = 0
        self._shots = len(self.frames)
        self._previews = 0
        self._thumbnails: dict[tuple[str, int], bytes] = {}

    # -- frames ---------------------------------------------------------------------------------

    def add_frame(self, name: str, data: bytes, *, taken: int | None = None) -> int:
        """Append a picture; returns its frame number (from 1)."""
        with self.lock:
            self.frames.append((name, data))
            self._info[name] = _FrameInfo(int(self.clock if taken is None else taken))
            return len(self.frames)

    def take_picture(self) -> int:
        """Action 2: a new real JPEG at the profile's resolution; returns its frame number."""
        with self.lock:
            taken = datetime.fromtimestamp(self.clock)
            names = {name for name, _ in self.frames}
            while True:
                self._shots += 1
                number = self._shots
                name = f"P{taken.month:X}{taken.day:02d}{number:04d}.JPG"
                if name not in names:
                    break
            width, height = self.profile.image_size
            data = make_jpeg(width, height, f"{self.profile.name} shot {number}", seed=number)
            return self.add_frame(name, data)

    def take_preview(self) -> bytes:
        """Action 5: a small live-view JPEG, readable as frame 0."""
        with self.lock:
            width, height = self.profile.preview_size
            self._previews += 1
            self.preview = make_jpeg(
                width, height, f"live {self._previews}", seed=10_000 + self._previews, quality=60
            )
            return self.preview

    def frame(self, number: int) -> tuple[str, bytes] | None:
        """Frame ``number`` (1-based); 0 is the newest picture's name with the preview data."""
        with self.lock:
            if 1 <= number <= len(self.frames):
                return self.frames[number - 1]
            return None

    def taken(self, name: str) -> int:
        with self.lock:
            info = self._info.get(name)
            return info.taken if info else int(self.clock)

    def protected(self, name: str) -> bool:
        with self.lock:
            info = self._info.get(name)
            return bool(info and info.protected)

    def set_protected(self, number: int, protected: bool) -> bool:
        with self.lock:
            frame = self.frame(number)
            if frame is None:
                return False
            self._info[frame[0]] = _FrameInfo(self.taken(frame[0]), protected)
            return True

    def erase(self, number: int) -> bool:
        """Remove frame ``number`` (protected frames stay); never touches files on disk."""
        with self.lock:
            frame = self.frame(number)
            if frame is None or self.protected(frame[0]):
                return False
            del self.frames[number - 1]
            return True

    def erase_all(self) -> None:
        with self.lock:
            self.frames[:] = [f for f in self.frames if self.protected(f[0])]

    def thumbnail(self, name: str, data: bytes) -> bytes:
        with self.lock:
            key = (name, len(data))
            if key not in self._thumbnails:
                self._thumbnails[key] = resize_jpeg(data, self.profile.thumbnail_side)
            return self._thumbnails[key]

    @property
    def frames_left(self) -> int:
        with self.lock:
            return max(0, self.profile.capacity - len(self.frames)) if self.card_present else 0

    # -- clock, speed, folders ------------------------------------------------------------------

    @property
    def clock(self) -> float:
        """The camera's clock as a UNIX time."""
        return time.time() + self.clock_offset

    def set_clock(self, value: int) -> None:
        self.clock_offset = value - time.time()

    @property
    def packet_size(self) -> int:
        size = self.int_registers.get(PACKET_SIZE_REGISTER, 2048)
        return size if 1 <= size <= 2048 else 2048

    @property
    def in_image_folder(self) -> bool:
        return self.folder == self.profile.folders

    def subfolders(self) -> tuple[str, ...]:
        """Names below the current folder (one chain: root -> DCIM -> 100OLYMP)."""
        depth = len(self.folder)
        chain = self.profile.folders
        return (chain[depth],) if depth < len(chain) else ()

    def summary(self, number: int) -> bytes:
        """Register 47: eight little-endian int32s describing frame ``number``."""
        with self.lock:
            frame = self.frame(number)
            if frame is None:
                return b""
            name, data = frame
            return struct.pack(
                "<8I",
                len(data) & 0xFFFFFF,
                len(self.thumbnail(name, data)),
                0,
                self.int_registers.get(1, 2),
                int(self.protected(name)),
                self.taken(name) & 0xFFFFFFFF,
                0,
                0,
            )

    def camera_summary(self) -> bytes:
        """Register 46: copies of other registers."""
        with self.lock:
            count = len(self.frames)
            return struct.pack(
                "<8I",
                self.int_registers.get(1, 2),
                self.int_registers.get(35, 4),
                count,
                0,
                0,
                0,
                0,
                0,
            )

    def new_session(self) -> None:
        """What the camera forgets when a session starts or ends."""
        with self.lock:
            self.speed = BASE_SPEED
            self.frame_selected = False
            self.current_frame = 0
            self.folder = self.profile.folders
