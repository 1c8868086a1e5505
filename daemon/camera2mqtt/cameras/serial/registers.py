"""Registers, actions and speeds of the photopc/Sierra protocol, as data.

Numbers and meanings come from E. Crosser's protocol description (seed 004) and the
photopc/gphoto2 notes in the serial reference. The camera driver reads this table; it never
spells a register number itself.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "DEFAULT_SPEED",
    "END_SESSION_SPEED_CODE",
    "FRAME_SELECTED",
    "INIT_SPEED",
    "SETTINGS",
    "SPEED_CODES",
    "Action",
    "PictureSummary",
    "Register",
    "Setting",
    "decode_int",
    "decode_string",
    "setting",
]


class Register(enum.IntEnum):
    """Registers the driver uses (GET_INT/SET_INT for int32, GET_VAR/SET_VAR for vdata)."""

    RESOLUTION = 1
    CLOCK = 2  # int32, UNIX time
    SHUTTER = 3  # microseconds, 0 = auto
    FRAME = 4  # write only: selects the current frame (0 = preview after action 5)
    APERTURE = 5
    COLOR = 6
    FLASH = 7
    FRAMES = 10  # frames in the current folder
    FRAMES_LEFT = 11
    IMAGE_SIZE = 12
    THUMBNAIL_SIZE = 13
    IMAGE = 14  # vdata
    THUMBNAIL = 15  # vdata
    BATTERY = 16  # percent
    SPEED = 17  # SPEED_CODES
    BRIGHTNESS_CONTRAST = 19
    WHITE_BALANCE = 20
    CAMERA_ID = 22  # vdata
    AUTOSHUT_HOST = 23  # seconds (1/10 s on some models)
    AUTOSHUT_FIELD = 24
    SERIAL_NUMBER = 25  # vdata
    VERSION = 26  # vdata
    MODEL = 27  # vdata
    MEMORY_LEFT = 28
    FOCUS = 33
    OPERATION_MODE = 34
    LCD_BRIGHTNESS = 35
    PROTECTION = 39
    FRAMES_TAKEN = 40  # "true number of frames taken"
    PICTURE_SUMMARY = 47  # vdata, 8 x int32
    MANUFACTURER = 48  # vdata
    CARD = 51  # 1 = no card, 2 = card
    LANGUAGE = 53
    METERING = 70
    PACKET_SIZE = 77  # write only: largest data field the camera sends (default 2048)
    FILENAME = 79  # vdata
    DIGITAL_ZOOM = 86


FRAME_SELECTED = frozenset(
    {
        Register.IMAGE_SIZE,
        Register.THUMBNAIL_SIZE,
        Register.IMAGE,
        Register.THUMBNAIL,
        Register.PROTECTION,
        43,
        44,
        Register.PICTURE_SUMMARY,
    }
)
"""Registers that are only read after setting register 4; otherwise the camera may hang."""


class Action(enum.IntEnum):
    """Codes of command 2 (ACTION); each is answered with ACK, then ENQ when done."""

    ERASE_LAST = 0
    ERASE_ALL = 1
    TAKE_PICTURE = 2
    END_SESSION = 4
    PREVIEW = 5
    ERASE_CURRENT = 7  # after setting register 4


INIT_SPEED = 19200
"""Every session starts (and, after an idle reset, restarts) at this speed."""
DEFAULT_SPEED = 115200

SPEED_CODES: Mapping[int, int] = MappingProxyType(
    {9600: 1, 19200: 2, 38400: 3, 57600: 4, 115200: 5, 230400: 6}
)
"""Line speed -> value written to register 17."""

END_SESSION_SPEED_CODE = SPEED_CODES[INIT_SPEED]
"""Written to register 17 at the end of a session (gphoto2: back to 19200)."""

_INT32 = struct.Struct("<i")
_SUMMARY = struct.Struct("<8I")


def decode_int(data: bytes) -> int:
    """A GET_INT reply: 4 bytes, little-endian, signed."""
    if len(data) != _INT32.size:
        raise ValueError(f"an int register reply has 4 bytes, got {len(data)}")
    return _INT32.unpack(data)[0]


def decode_string(data: bytes) -> str:
    """A vdata string: up to the first NUL, trailing blanks removed, Latin-1."""
    return data.split(b"\x00", 1)[0].decode("latin-1").rstrip()


@dataclass(frozen=True, slots=True)
class PictureSummary:
    """Register 47: what the camera knows about the current frame."""

    image_size: int
    thumbnail_size: int
    audio_size: int
    resolution: int
    protected: bool
    taken: int  # UNIX time, 0 if unknown

    @classmethod
    def decode(cls, data: bytes) -> PictureSummary | None:
        """None for the short or empty replies many older models give."""
        if len(data) < _SUMMARY.size:
            return None
        words = _SUMMARY.unpack_from(data)
        return cls(
            image_size=words[0] & 0xFFFFFF,
            thumbnail_size=words[1],
            audio_size=words[2],
            resolution=words[3],
            protected=bool(words[4]),
            taken=words[5],
        )


# ---------------------------------------------------------------------------------------------
# Writable settings, exposed as camera properties


@dataclass(frozen=True, slots=True)
class Setting:
    """A writable int register with its value names (or a numeric range when it has none)."""

    name: str
    register: int
    choices: Mapping[int, str] = field(default_factory=dict)
    minimum: int | None = None
    maximum: int | None = None
    unit: str = ""

    @property
    def allowed(self) -> tuple[str, ...]:
        """The values a user may set, as strings (empty for a free number in a range)."""
        return tuple(self.choices.values())

    def describe_range(self) -> str:
        if self.choices:
            return ", ".join(self.allowed)
        low = "any" if self.minimum is None else str(self.minimum)
        high = "any" if self.maximum is None else str(self.maximum)
        return f"a whole number from {low} to {high}{' ' + self.unit if self.unit else ''}"

    def to_text(self, raw: int) -> str:
        """The camera's number as the user sees it; unknown codes show as the number."""
        return self.choices.get(raw, str(raw))

    def to_raw(self, text: str) -> int:
        """The number to write for ``text``; ValueError naming the allowed values."""
        wanted = text.strip().lower()
        for raw, name in self.choices.items():
            if name == wanted:
                return raw
        if not self.choices:
            try:
                value = int(wanted, 0)
            except ValueError:
                value = None
            if (
                value is not None
                and (self.minimum is None or value >= self.minimum)
                and (self.maximum is None or value <= self.maximum)
            ):
                return value
        raise ValueError(f"{text!r} is not a valid {self.name}; use {self.describe_range()}")


def _choices(*pairs: tuple[int, str]) -> Mapping[int, str]:
    return MappingProxyType(dict(pairs))


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "resolution", Register.RESOLUTION, _choices((1, "standard"), (2, "high"), (3, "extra"))
    ),
    Setting(
        "flash",
        Register.FLASH,
        _choices((0, "auto"), (1, "force"), (2, "off"), (3, "red-eye"), (4, "slow-sync")),
    ),
    Setting(
        "white_balance",
        Register.WHITE_BALANCE,
        _choices(
            (0, "auto"),
            (1, "sunny"),
            (2, "incandescent"),
            (3, "fluorescent"),
            (5, "flash"),
            (6, "preset"),
            (255, "cloudy"),
        ),
    ),
    Setting("color", Register.COLOR, _choices((1, "color"), (2, "black-and-white"))),
    Setting(
        "aperture", Register.APERTURE, _choices((0, "auto"), (1, "low"), (2, "medium"), (4, "high"))
    ),
    Setting(
        "brightness_contrast",
        Register.BRIGHTNESS_CONTRAST,
        _choices(
            (0, "normal"),
            (1, "contrast+"),
            (2, "contrast-"),
            (3, "brightness+"),
            (4, "brightness-"),
        ),
    ),
    Setting("focus", Register.FOCUS, _choices((1, "macro"), (2, "normal"), (3, "infinity"))),
    Setting(
        "metering",
        Register.METERING,
        _choices((2, "center-weighted"), (3, "spot"), (5, "matrix")),
    ),
    Setting("lcd_brightness", Register.LCD_BRIGHTNESS, minimum=1, maximum=7),
    Setting("shutter", Register.SHUTTER, minimum=0, maximum=10_000_000, unit="microseconds"),
    Setting("autoshut_host", Register.AUTOSHUT_HOST, minimum=0, maximum=65535, unit="seconds"),
    Setting("autoshut_field", Register.AUTOSHUT_FIELD, minimum=0, maximum=65535, unit="seconds"),
    Setting("digital_zoom", Register.DIGITAL_ZOOM, minimum=0, maximum=1000, unit="percent"),
)

_SETTINGS_BY_NAME = MappingProxyType({s.name: s for s in SETTINGS})


def setting(name: str) -> Setting:
    """The setting called ``name``; KeyError listing the known names."""
    try:
        return _SETTINGS_BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"unknown setting {name!r}; known settings: {', '.join(_SETTINGS_BY_NAME)}"
        ) from None
