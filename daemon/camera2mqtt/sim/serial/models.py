"""Camera profiles for the serial simulator: identity, limits and quirks as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from camera2mqtt.errors import Camera2MqttError

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelProfile", "UnknownModel", "get_model"]


class UnknownModel(Camera2MqttError):
    """The simulator was asked for a camera profile it does not have."""


@dataclass(frozen=True)
class ModelProfile:
    """What one simulated camera model says about itself and how it deviates."""

    key: str
    name: str  # human name, e.g. "Olympus C-2020Z"
    model: str  # register 27
    manufacturer: str  # register 48
    version: str  # register 26
    serial: str  # register 25
    max_speed: int  # highest baud rate register 17 accepts
    image_size: tuple[int, int]  # pixels of a picture taken with action 2
    capacity: int  # frames that fit on the card (frames left = capacity - frames)
    idle_reset_s: float  # quiet time after which the camera sends 0xff and drops to 19200
    action_s: float = 0.3  # from the ACK of an action to its ENQ
    folders: tuple[str, ...] = ()  # path of the image folder below the root, () = no folders
    unsupported: frozenset[int] = frozenset()  # registers answered with the reject byte
    empty: frozenset[int] = frozenset()  # vdata registers answered with zero bytes
    reject_byte: int = 0x11  # DC1; some Epson models send CAN (0x18)
    erase_ends_session: bool = False  # after an erase's ENQ the camera sends 0xff (seed 002)
    int_overrides: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    thumbnail_side: int = 160
    preview_size: tuple[int, int] = (320, 240)


MODELS: Mapping[str, ModelProfile] = MappingProxyType(
    {
        profile.key: profile
        for profile in (
            ModelProfile(
                key="c-2020z",
                name="Olympus C-2020Z",
                model="OLYMPUS DIGITAL CAMERA",
                manufacturer="OLYMPUS OPTICAL CO.,LTD",
                version="SR954",
                serial="000000000",
                max_speed=115200,
                image_size=(1600, 1200),
                capacity=60,
                idle_reset_s=10.0,
                folders=("DCIM", "100OLYMP"),
                erase_ends_session=True,
            ),
            ModelProfile(
                key="c-420l",
                name="Olympus C-420L",
                model="OLYMPUS DIGITAL CAMERA",
                manufacturer="OLYMPUS OPTICAL CO.,LTD",
                version="OL420",
                serial="000000000",
                max_speed=57600,  # gphoto2 SIERRA_MID_SPEED
                image_size=(1024, 768),
                capacity=30,
                idle_reset_s=8.0,
                empty=frozenset({47}),  # older models send no picture summary
            ),
            ModelProfile(
                key="epson-650",
                name="Epson PhotoPC 650",
                model="PhotoPC 650",
                manufacturer="SEIKO EPSON CORP.",
                version="v1.00",
                serial="000000000",
                max_speed=38400,  # gphoto2 SIERRA_LOW_SPEED
                image_size=(1152, 864),
                capacity=40,
                idle_reset_s=6.0,
                unsupported=frozenset({51}),  # gphoto2 SIERRA_NO_51
            ),
        )
    }
)

DEFAULT_MODEL = "c-2020z"


def get_model(key: str) -> ModelProfile:
    try:
        return MODELS[key.lower()]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise UnknownModel(
            f"there is no simulated serial camera model {key!r}; choose one of: {known}"
        ) from None
