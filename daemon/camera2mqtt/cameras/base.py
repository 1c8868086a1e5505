"""The one camera interface both drivers implement, its value types and its errors.

The rest of the program (CLI, daemon, jobs) talks to cameras only through :class:`Camera`
and never sees a protocol byte. A driver declares what it can do in ``capabilities``; an
operation it lacks raises :class:`Unsupported` from one place, :meth:`Camera.require`.
"""

from __future__ import annotations

import contextlib
import enum
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import ClassVar

from camera2mqtt.errors import Camera2MqttError

__all__ = [
    "CARD_STATES",
    "Camera",
    "CameraBusy",
    "CameraError",
    "CameraInfo",
    "CameraStatus",
    "CameraTimeout",
    "CameraUnreachable",
    "Capability",
    "CommandRejected",
    "FileStream",
    "ImageRef",
    "InvalidCommand",
    "NotAllowed",
    "ProgressCallback",
    "Property",
    "ProtocolError",
    "RawReply",
    "TransferError",
    "UnsafeFilename",
    "Unsupported",
    "WrongMode",
    "newest_picture",
]

CARD_STATES = ("ok", "writing", "full", "write_protected", "error", "no_card")
"""What :attr:`CameraStatus.card_state` can be."""

JPEG_SUFFIXES = (".jpg", ".jpeg")

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(bytes_done, bytes_total)`` while a transfer runs."""


# ---------------------------------------------------------------------------------------------
# Errors


class CameraError(Camera2MqttError):
    """Something went wrong talking to a camera."""


class CameraUnreachable(CameraError):
    """The camera does not answer at all (not on the network, port absent, powered off)."""


class CameraTimeout(CameraUnreachable):
    """The camera stopped answering in the middle of an exchange."""


class CameraBusy(CameraError):
    """The camera (or its port) is in use by someone else."""


class WrongMode(CameraError):
    """The camera refused a command because it is in the wrong mode."""

    def __init__(self, message: str, *, mode: str | None = None) -> None:
        super().__init__(message)
        self.mode = mode


class Unsupported(CameraError):
    """The camera cannot do this operation."""

    def __init__(self, operation: str, model: str | None = None) -> None:
        who = f"the {model}" if model else "this camera"
        super().__init__(f"{operation} is not supported by {who}.")
        self.operation = operation
        self.model = model


class NotAllowed(CameraError):
    """A destructive or raw operation that the configuration has not enabled."""

    def __init__(self, operation: str, setting: str) -> None:
        super().__init__(
            f"{operation} is disabled; enable it with '{setting}' in the configuration "
            "if you really want it."
        )
        self.operation = operation
        self.setting = setting


class CommandRejected(CameraError):
    """The camera understood the request and said no (an HTTP error status, a NAK)."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class InvalidCommand(CameraError):
    """A command or argument the camera does not list as valid; nothing was sent."""

    def __init__(self, message: str, *, valid: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.valid = valid


class ProtocolError(CameraError):
    """The camera's reply does not follow the protocol (garbled, truncated, unexpected)."""


class TransferError(CameraError):
    """A download ended short or with the wrong size; nothing was kept at the final path."""


class UnsafeFilename(CameraError):
    """A file name from the camera would escape the destination folder."""


# ---------------------------------------------------------------------------------------------
# Values


class Capability(enum.StrEnum):
    """What a camera can do; drivers list theirs in :attr:`CameraInfo.capabilities`."""

    SHOOT = "shoot"
    LIST = "list"
    DOWNLOAD = "download"
    THUMBNAIL = "thumbnail"
    SNAPSHOT = "snapshot"
    SET_CLOCK = "set_clock"
    POWER_OFF = "power_off"
    PROPERTIES = "properties"
    RAW = "raw"
    ERASE = "erase"


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """Who the camera is and what it can do, as learned by :meth:`Camera.connect`."""

    model: str
    manufacturer: str = ""
    firmware: str = ""
    serial_number: str = ""
    capabilities: frozenset[Capability] = frozenset()
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A snapshot of the camera's state; ``None`` means the camera does not report it."""

    battery_percent: int | None = None
    frames_left: int | None = None
    frames_taken: int | None = None
    mode: str | None = None
    card_present: bool | None = None
    free_bytes: int | None = None
    card_state: str | None = None
    """One of :data:`CARD_STATES`."""
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One file on the camera.

    ``path`` identifies the file on the camera (``/DCIM/100OLYMP/P1010001.JPG`` on Wi-Fi,
    the frame's file name on serial cameras, whose frames are also numbered by ``index``).
    ``timestamp`` is camera local time without a time zone, as cameras keep it.
    """

    path: str
    size: int
    timestamp: datetime | None = None
    index: int | None = None

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    def age_key(self) -> tuple[datetime, int, str]:
        """Sorts files oldest first: camera time, then frame number, then path."""
        return (self.timestamp or datetime.min, self.index or 0, self.path)

    @property
    def is_jpeg(self) -> bool:
        return self.name.lower().endswith(JPEG_SUFFIXES)


def newest_picture(refs: list[ImageRef]) -> ImageRef:
    """The last JPEG of ``refs`` (a RAW+JPEG shot lists both), else the last file."""
    pictures = [ref for ref in refs if ref.is_jpeg]
    return (pictures or refs)[-1]


@dataclass(frozen=True, slots=True)
class FileStream:
    """A camera file being read (:meth:`Camera.open_file`): ``chunks`` start at byte
    ``offset`` of the file, which is 0 when the camera sent the whole file although a later
    offset was asked for; ``size`` is the whole file's size as the camera announces it."""

    offset: int
    size: int | None
    chunks: Iterator[bytes]


@dataclass(frozen=True, slots=True)
class Property:
    """A camera setting: its current value, what it may be set to, whether it can be set."""

    name: str
    value: str
    allowed: tuple[str, ...] = ()
    writable: bool = False


@dataclass(frozen=True, slots=True)
class RawReply:
    """The answer to a raw command: text for XML/plain replies, bytes for binary ones."""

    content_type: str
    body: bytes

    @property
    def is_text(self) -> bool:
        return self.content_type.startswith("text/") or "xml" in self.content_type


# ---------------------------------------------------------------------------------------------
# The interface


class Camera(ABC):
    """One camera behind one driver.

    Drivers own their protocol state (the Wi-Fi camera's mode, the serial link's speed).
    Callers run one operation at a time per camera (the daemon's per-camera worker does);
    drivers need not be thread-safe. Every wait inside a driver is bounded by a timeout.
    """

    kind: ClassVar[str]
    """The ``type:`` of this driver in the configuration (``wifi``, ``serial``)."""

    _info: CameraInfo | None = None

    # -- life cycle -----------------------------------------------------------------------

    @abstractmethod
    def connect(self) -> CameraInfo:
        """Reach the camera, learn what it is and what it supports."""

    @abstractmethod
    def close(self) -> None:
        """Release the transport; safe to call more than once."""

    def __enter__(self) -> Camera:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def info(self) -> CameraInfo:
        if self._info is None:
            raise CameraError("The camera is not connected yet; call connect() first.")
        return self._info

    def require(self, capability: Capability) -> None:
        """Raise :class:`Unsupported` unless the connected camera has ``capability``."""
        if capability not in self.info.capabilities:
            raise Unsupported(capability.value.replace("_", " "), self.info.model)

    # -- operations -------------------------------------------------------------------------
    # The defaults raise Unsupported; drivers override what their cameras can do.

    @abstractmethod
    def status(self) -> CameraStatus:
        """Battery, frames left, mode and whatever else the camera reports cheaply."""

    def shoot(self) -> list[ImageRef]:
        """Take a picture; return the new file(s) on the camera."""
        raise Unsupported("shoot", self._model())

    def list_images(self) -> list[ImageRef]:
        """Every image file on the camera's card."""
        raise Unsupported("list", self._model())

    def download(
        self,
        ref: ImageRef,
        dest_dir: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Stream ``ref`` to ``dest_dir/ref.name`` atomically; return the final path."""
        raise Unsupported("download", self._model())

    def open_file(
        self, ref: ImageRef, *, offset: int = 0
    ) -> contextlib.AbstractContextManager[FileStream]:
        """Read ``ref`` from byte ``offset`` where the camera can (else from 0); the caller
        writes the bytes (the photo library does, to its own paths)."""
        raise Unsupported("download", self._model())

    def thumbnail(self, ref: ImageRef) -> bytes:
        """A small JPEG of ``ref``."""
        raise Unsupported("thumbnail", self._model())

    def snapshot(self) -> bytes:
        """One live-view JPEG of what the camera sees now."""
        raise Unsupported("snapshot", self._model())

    def set_clock(self, when: datetime | None = None) -> None:
        """Set the camera clock to ``when`` (local time), default now."""
        raise Unsupported("set clock", self._model())

    def power_off(self) -> None:
        """Turn the camera off."""
        raise Unsupported("power off", self._model())

    def erase(self, ref: ImageRef) -> None:
        """Delete one file from the camera."""
        raise Unsupported("erase", self._model())

    def properties(self) -> list[Property]:
        """The camera's settings with their allowed values."""
        raise Unsupported("properties", self._model())

    def get_property(self, name: str) -> Property:
        """One setting by name."""
        raise Unsupported("properties", self._model())

    def set_property(self, name: str, value: str) -> None:
        """Change a setting after checking ``value`` against its allowed values."""
        raise Unsupported("properties", self._model())

    def raw(self, command: str, args: Mapping[str, str] | None = None) -> RawReply:
        """Send a protocol command, validated against what the camera says it supports."""
        raise Unsupported("raw commands", self._model())

    def _model(self) -> str | None:
        return self._info.model if self._info else None
