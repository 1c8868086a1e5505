"""The photopc/Sierra serial camera behind the :class:`Camera` interface.

Camera operations as registers and actions (seed 004) over :class:`SerialLink`. The driver
keeps one session open from :meth:`SerialCamera.connect` to :meth:`SerialCamera.close`;
frames are numbered from 1 and :attr:`ImageRef.index` carries the frame number.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import serial

from camera2mqtt.cameras.base import (
    Camera,
    CameraError,
    CameraInfo,
    CameraStatus,
    Capability,
    CommandRejected,
    FileStream,
    ImageRef,
    InvalidCommand,
    NotAllowed,
    ProgressCallback,
    Property,
    ProtocolError,
    Unsupported,
)
from camera2mqtt.cameras.serial.link import (
    LinkTimeouts,
    PacketRetriesExceeded,
    RegisterUnsupported,
    SerialLink,
    open_port,
)
from camera2mqtt.cameras.serial.packets import MAX_DATA
from camera2mqtt.cameras.serial.quirks import ModelQuirks, quirks_for
from camera2mqtt.cameras.serial.registers import (
    DEFAULT_SPEED,
    FRAME_SELECTED,
    SETTINGS,
    SPEED_CODES,
    Action,
    PictureSummary,
    Register,
    Setting,
    decode_string,
    setting,
)
from camera2mqtt.files import write_atomically

__all__ = ["SerialCamera"]

_T = TypeVar("_T")

log = logging.getLogger(__name__)

MAX_REGISTER = 255  # a register number is one byte of the command packet

CAPTURE_TIMEOUT_S = 20.0
"""Longest wait for the ENQ after "take picture" (gphoto2 allows 20 s)."""
ERASE_TIMEOUT_S = 20.0
ERASE_END_WAIT_S = 0.5
"""How long to watch for the 0xff some cameras send after an erase (seed 002)."""
FOLDER_REGISTER = 84  # vdata: current folder name; "\\" is the root
FOLDER_COUNT_REGISTER = 83  # int: number of sub-folders (read) / select one (write)
_FOLDER_DEPTH_LIMIT = 4
_NO_CARD = 1
_CLOCK_MAX = 0xFFFFFFFF  # the clock register holds unsigned 32-bit seconds since 1970
_OPERATION_MODES = {1: "off", 2: "record", 3: "play", 6: "thumbnail"}
_BLANK_NAMES = {"", "        "}
_PACKET_SIZES = (128, 256, 512, 1024, MAX_DATA)
_FAILURES_BEFORE_SHRINK = 4  # NAKs in a row for one packet before smaller packets are tried
_TRANSFER_RESTARTS = 6

_CAPABILITIES = frozenset(
    {
        Capability.SHOOT,
        Capability.LIST,
        Capability.DOWNLOAD,
        Capability.THUMBNAIL,
        Capability.SNAPSHOT,
        Capability.SET_CLOCK,
        Capability.PROPERTIES,
        Capability.ERASE,
    }
)


class SerialCamera(Camera):
    """A photopc/Sierra camera on a serial port (a device path or a pyserial URL).

    ``port`` may also be a pyserial port object the caller opened; the driver then uses it
    as it is and leaves closing it to the caller.
    """

    kind: ClassVar[str] = "serial"

    def __init__(
        self,
        port: str | serial.SerialBase,
        *,
        speed: int = DEFAULT_SPEED,
        model: str | None = None,
        allow_erase: bool = False,
        timeout: float | None = None,
        timeouts: LinkTimeouts | None = None,
    ) -> None:
        if speed not in SPEED_CODES:
            allowed = ", ".join(str(s) for s in SPEED_CODES)
            raise InvalidCommand(f"{speed} baud is not a camera speed; use one of {allowed}.")
        self._port_arg = port
        self._speed = speed
        self._configured_model = model
        self._allow_erase = allow_erase
        if timeouts is None and timeout is not None:
            timeouts = LinkTimeouts.scaled(timeout)
        self._timeouts = timeouts or LinkTimeouts()
        self._quirks: ModelQuirks = quirks_for(model)
        self._port: serial.SerialBase | None = None
        self._owns_port = isinstance(port, str)
        self._link: SerialLink | None = None
        self._packet_size = MAX_DATA
        self._packet_size_settable = True
        self._shrink_packets = False

    @classmethod
    def from_config(cls, cfg: Any, *, timeouts: LinkTimeouts | None = None) -> SerialCamera:
        """Build from a serial camera section (port, speed, model, allow.erase); ``timeouts``
        replaces the link's default deadlines (tests use short ones)."""
        return cls(
            cfg.port,
            speed=cfg.speed,
            model=cfg.model,
            allow_erase=cfg.allow.erase,
            timeouts=timeouts,
        )

    # -- life cycle -----------------------------------------------------------------------

    def connect(self) -> CameraInfo:
        if self._link is not None and self._info is not None:
            return self._info
        if isinstance(self._port_arg, str):
            self._port = open_port(self._port_arg)
        else:
            self._port = self._port_arg
        try:
            self._link = SerialLink(
                self._port, quirks=self._quirks, timeouts=self._timeouts, max_speed=self._speed
            )
            self._link.open_session()
            self._enter_image_folder()
            self._info = self._read_info()
        except BaseException:
            self.close()
            raise
        log.info(
            "connected to %s on %s at %d baud", self._info.model, self._port.port, self.line_speed
        )
        return self._info

    def close(self) -> None:
        link, port = self._link, self._port
        self._link = None
        self._port = None
        try:
            if link is not None:
                link.close_session()
        finally:
            if port is not None and self._owns_port:
                with contextlib.suppress(Exception):
                    port.close()

    @property
    def line_speed(self) -> int:
        """The negotiated speed of the current session."""
        return self._require_link().speed

    @property
    def quirks(self) -> ModelQuirks:
        return self._quirks

    # -- identity and status --------------------------------------------------------------

    def _read_info(self) -> CameraInfo:
        model = self._optional_string(Register.MODEL) or "photopc/Sierra camera"
        if self._configured_model is None:
            self._quirks = quirks_for(model)
        details = {"port": str(self._require_port().port), "speed": str(self.line_speed)}
        if self._configured_model:
            details["configured_model"] = self._configured_model
        return CameraInfo(
            model=model,
            manufacturer=self._optional_string(Register.MANUFACTURER) or "",
            firmware=self._optional_string(Register.VERSION) or "",
            serial_number=self._optional_string(Register.SERIAL_NUMBER) or "",
            capabilities=_CAPABILITIES,
            details=details,
        )

    def status(self) -> CameraStatus:
        self._require_link()
        card: bool | None = None
        if self._quirks.has_card_register:
            value = self._optional_int(Register.CARD)
            card = None if value is None else value != _NO_CARD
        mode = self._optional_int(Register.OPERATION_MODE)
        clock = self._optional_int(Register.CLOCK)
        details = {"speed": str(self.line_speed)}
        if clock is not None:
            details["clock"] = _from_camera_time(clock).isoformat(timespec="seconds")
        return CameraStatus(
            battery_percent=self._optional_int(Register.BATTERY),
            frames_left=self._optional_int(Register.FRAMES_LEFT),
            frames_taken=self.frame_count(),
            mode=None if mode is None else _OPERATION_MODES.get(mode, str(mode)),
            card_present=card,
            details=details,
        )

    def frame_count(self) -> int:
        """Frames on the card: register 10, else register 40."""
        count = self._optional_int(Register.FRAMES)
        if count is None and self._quirks.has_frames_taken:
            count = self._optional_int(Register.FRAMES_TAKEN)
        if count is None:
            raise Unsupported("counting frames", self._model_name())
        return count

    def clock(self) -> datetime:
        """The camera clock as local time."""
        return _from_camera_time(self._link_call(lambda link: link.get_int(Register.CLOCK)))

    def set_clock(self, when: datetime | None = None) -> None:
        moment = when or datetime.now()
        try:
            stamp = int(moment.timestamp())
        except (OverflowError, ValueError, OSError):
            stamp = -1
        if not 0 <= stamp <= _CLOCK_MAX:
            raise InvalidCommand(
                f"The time {moment} cannot be set on the camera; give a time between 1970 and 2106."
            )
        self._link_call(lambda link: link.set_int(Register.CLOCK, stamp))

    # -- pictures -------------------------------------------------------------------------

    def shoot(self) -> list[ImageRef]:
        self._require_link()
        if self._quirks.has_card_register and self._optional_int(Register.CARD) == _NO_CARD:
            raise CommandRejected("The camera has no memory card; insert one and try again.")
        before = self.frame_count()
        try:
            self._require_link().action(Action.TAKE_PICTURE, timeout=CAPTURE_TIMEOUT_S)
        except RegisterUnsupported as error:
            raise CommandRejected(
                "The camera refused to take a picture; is the card full or the lens closed?"
            ) from error
        after = self.frame_count()
        if after <= before:
            log.info("frame count did not grow after the shot (%d -> %d)", before, after)
            after = before + 1
        return [self.image(n) for n in range(before + 1, after + 1)]

    def list_images(self) -> list[ImageRef]:
        return [self.image(n) for n in range(1, self.frame_count() + 1)]

    def image(self, frame: int) -> ImageRef:
        """The :class:`ImageRef` of frame number ``frame`` (from 1)."""
        name = self._filename(frame)
        size = self._frame_int(frame, Register.IMAGE_SIZE)
        summary = self._summary(frame)
        if size <= 0 and summary is not None:
            size = summary.image_size
        taken = _from_camera_time(summary.taken) if summary and summary.taken else None
        return ImageRef(path=name, size=size, timestamp=taken, index=frame)

    def _image_chunks(self, ref: ImageRef) -> tuple[int | None, Iterator[bytes]]:
        """The size (None if neither the camera nor the listing knows it) and the chunks of
        ``ref``'s image, after checking its frame still holds that file."""
        frame = self._frame_of(ref)
        current = self._filename(frame)
        if current != ref.name:
            raise CameraError(
                f"Frame {frame} is now {current}, not {ref.name}: the card changed. List the "
                "pictures again and retry."
            )
        size = self._frame_int(frame, Register.IMAGE_SIZE)
        if size <= 0:
            size = ref.size
        known = size if size > 0 else None
        return known, self._stream(frame, Register.IMAGE, known)

    def download(
        self,
        ref: ImageRef,
        dest_dir: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        size, chunks = self._image_chunks(ref)
        try:
            return write_atomically(
                Path(dest_dir),
                ref.name,
                chunks,
                expected_size=size,
                mtime=ref.timestamp,
                progress=progress,
                cancel=cancel,
            )
        finally:
            _close(chunks)

    @contextlib.contextmanager
    def open_file(self, ref: ImageRef, *, offset: int = 0) -> Iterator[FileStream]:
        """The frame's image from its start (the protocol has no offset to resume from)."""
        size, chunks = self._image_chunks(ref)
        try:
            yield FileStream(offset=0, size=size, chunks=chunks)
        finally:
            _close(chunks)

    def read_image(self, frame: int) -> bytes:
        """The whole image of ``frame`` in memory (small files, tests)."""
        size = self._frame_int(frame, Register.IMAGE_SIZE)
        return b"".join(self._stream(frame, Register.IMAGE, size if size > 0 else None))

    def thumbnail(self, ref: ImageRef) -> bytes:
        frame = self._frame_of(ref)
        size = self._frame_int(frame, Register.THUMBNAIL_SIZE)
        try:
            data = b"".join(self._stream(frame, Register.THUMBNAIL, size if size > 0 else None))
        except RegisterUnsupported as error:
            raise Unsupported("thumbnails", self._model_name()) from error
        return _jpeg_part(data)

    def _stream(self, frame: int, register: int, total: int | None) -> Iterator[bytes]:
        """The data of ``frame`` from ``register`` (14 image, 15 thumbnail), resumable.

        When a packet keeps failing, the transfer starts again with smaller packets
        (register 77) and the bytes already delivered are skipped, so a noisy line costs
        time but never a wrong or failed file.
        """
        link = self._require_link()
        delivered = 0
        restarts = 0
        while True:
            size = self._choose_packet_size(link)
            link.set_int(Register.FRAME, frame)
            skip = delivered
            try:
                for chunk in link.iter_var(
                    register,
                    total=total,
                    packet_size=size,
                    max_failures=_FAILURES_BEFORE_SHRINK if size > _PACKET_SIZES[0] else None,
                ):
                    if skip:
                        if len(chunk) <= skip:
                            skip -= len(chunk)
                            continue
                        chunk = chunk[skip:]
                        skip = 0
                    delivered += len(chunk)
                    yield chunk
                return
            except PacketRetriesExceeded as error:
                restarts += 1
                if restarts > _TRANSFER_RESTARTS:
                    raise
                log.info("frame %d: %s; starting again with smaller packets", frame, error)
                self._shrink_packets = True

    def _choose_packet_size(self, link: SerialLink) -> int:
        """Packet size for the next transfer, from the line's error rate so far."""
        if not self._packet_size_settable:
            return MAX_DATA
        wanted = link.stats.best_packet_size(_PACKET_SIZES)
        if self._shrink_packets:
            self._shrink_packets = False
            smaller = [s for s in _PACKET_SIZES if s < self._packet_size]
            wanted = min(wanted, smaller[-1] if smaller else _PACKET_SIZES[0])
        # Written before every transfer: a camera may forget it between sessions.
        try:
            link.set_int(Register.PACKET_SIZE, wanted)
        except RegisterUnsupported:
            self._packet_size_settable = False
            return MAX_DATA
        if wanted != self._packet_size:
            log.debug("packet size now %d bytes", wanted)
            self._packet_size = wanted
        return self._packet_size

    def snapshot(self) -> bytes:
        link = self._require_link()
        try:
            link.action(Action.PREVIEW)
        except RegisterUnsupported as error:
            raise Unsupported("live preview", self._model_name()) from error
        link.set_int(Register.FRAME, 0)
        return _jpeg_part(b"".join(link.iter_var(Register.IMAGE, packet_size=self._packet_size)))

    def erase(self, ref: ImageRef) -> None:
        if not self._allow_erase:
            raise NotAllowed("Erasing pictures", "allow.erase: true")
        frame = self._frame_of(ref)
        link = self._require_link()
        link.set_int(Register.FRAME, frame)
        try:
            link.action(
                Action.ERASE_CURRENT, timeout=ERASE_TIMEOUT_S, ends_session=ERASE_END_WAIT_S
            )
        except RegisterUnsupported as error:
            raise CommandRejected(
                f"The camera refused to erase frame {frame}; is it protected?"
            ) from error

    def erase_all(self) -> None:
        """Erase every picture on the card (not animations)."""
        if not self._allow_erase:
            raise NotAllowed("Erasing pictures", "allow.erase: true")
        try:
            self._require_link().action(
                Action.ERASE_ALL, timeout=ERASE_TIMEOUT_S, ends_session=ERASE_END_WAIT_S
            )
        except RegisterUnsupported as error:
            raise CommandRejected("The camera refused to erase its pictures.") from error

    # -- settings -------------------------------------------------------------------------

    def properties(self) -> list[Property]:
        found = []
        for item in SETTINGS:
            value = self._optional_int(item.register)
            if value is not None:
                found.append(_property(item, value))
        return found

    def get_property(self, name: str) -> Property:
        item = self._setting(name)
        value = self._optional_int(item.register)
        if value is None:
            raise Unsupported(f"the {name} setting", self._model_name())
        return _property(item, value)

    def set_property(self, name: str, value: str) -> None:
        item = self._setting(name)
        try:
            raw = item.to_raw(value)
        except ValueError as error:
            raise InvalidCommand(f"{error}.", valid=item.allowed) from None
        try:
            self._require_link().set_int(item.register, raw)
        except RegisterUnsupported as error:
            raise Unsupported(f"the {name} setting", self._model_name()) from error

    # -- raw registers (the CLI's get/set for advanced users) -----------------------------

    def read_register(self, register: int, *, frame: int | None = None) -> int | str | bytes:
        """An int register's value, or a vdata register's bytes (decoded when text)."""
        _check_register(register)
        link = self._require_link()
        if register in FRAME_SELECTED and frame is None:
            raise InvalidCommand(
                f"Register {register} needs a frame number first (it may hang the camera "
                "otherwise); give one."
            )
        if frame is not None:
            link.set_int(Register.FRAME, frame)
        try:
            return link.get_int(register)
        except (ProtocolError, RegisterUnsupported):
            pass  # not an integer register on this model: read it as a string below
        if frame is not None:
            link.set_int(Register.FRAME, frame)
        try:
            data = link.get_var(register)
        except RegisterUnsupported as error:
            raise Unsupported(f"register {register}", self._model_name()) from error
        text = data.split(b"\x00", 1)[0]
        if text and all(32 <= b < 127 for b in text):
            return decode_string(data)
        return data

    def write_register(self, register: int, value: int | str) -> None:
        """SET_INT for a number, SET_VAR for text."""
        _check_register(register)
        link = self._require_link()
        try:
            if isinstance(value, int):
                link.set_int(register, value)
            else:
                link.set_var(register, value.encode("latin-1"))
        except RegisterUnsupported as error:
            raise Unsupported(f"writing register {register}", self._model_name()) from error

    # -- helpers --------------------------------------------------------------------------

    def _enter_image_folder(self) -> None:
        """On cameras with folders, change into the first folder that holds frames.

        Mirrors photopc: SET_VAR 84 "\\" tests for folders (DC1: none), then walk down
        the first sub-folder (SET_INT 83 = 1, GET_VAR 84 names it) until frames appear.
        """
        link = self._require_link()
        if self._optional_int(Register.FRAMES):
            return  # already where the pictures are
        try:
            link.set_var(FOLDER_REGISTER, b"\\")
        except (RegisterUnsupported, CameraError):
            log.debug("no folders on this camera")
            return
        for _ in range(_FOLDER_DEPTH_LIMIT):
            count = self._optional_int(Register.FRAMES)
            if count:
                return
            subfolders = self._optional_int(FOLDER_COUNT_REGISTER)
            if not subfolders:
                return
            try:
                link.set_int(FOLDER_COUNT_REGISTER, 1)
                name = decode_string(link.get_var(FOLDER_REGISTER))
                link.set_var(FOLDER_REGISTER, name.encode("latin-1"))
            except RegisterUnsupported:
                return
            log.debug("entered folder %s", name)

    def _filename(self, frame: int) -> str:
        link = self._require_link()
        link.set_int(Register.FRAME, frame)
        try:
            name = decode_string(link.get_var(Register.FILENAME))
        except RegisterUnsupported:
            name = ""
        if name in _BLANK_NAMES:
            name = f"P101{frame:04d}.JPG"  # what gphoto2 makes up for cameras without names
        return name

    def _frame_int(self, frame: int, register: int) -> int:
        link = self._require_link()
        link.set_int(Register.FRAME, frame)
        try:
            return link.get_int(register)
        except RegisterUnsupported:
            return 0

    def _summary(self, frame: int) -> PictureSummary | None:
        if not self._quirks.has_picture_summary:
            return None
        link = self._require_link()
        link.set_int(Register.FRAME, frame)
        try:
            return PictureSummary.decode(link.get_var(Register.PICTURE_SUMMARY))
        except RegisterUnsupported:
            return None

    def _frame_of(self, ref: ImageRef) -> int:
        if ref.index is None or ref.index < 1:
            raise InvalidCommand(
                f"{ref.path} has no frame number; take the reference from list_images()."
            )
        return ref.index

    def _optional_int(self, register: int) -> int | None:
        try:
            return self._require_link().get_int(register)
        except RegisterUnsupported:
            return None

    def _optional_string(self, register: int) -> str | None:
        try:
            return decode_string(self._require_link().get_var(register))
        except RegisterUnsupported:
            return None

    def _setting(self, name: str) -> Setting:
        try:
            return setting(name)
        except KeyError as error:
            raise InvalidCommand(
                f"{error.args[0]}.", valid=tuple(s.name for s in SETTINGS)
            ) from None

    def _link_call(self, operation: Callable[[SerialLink], _T]) -> _T:
        try:
            return operation(self._require_link())
        except RegisterUnsupported as error:
            raise Unsupported(error.what, self._model_name()) from error

    def _require_link(self) -> SerialLink:
        if self._link is None:
            raise CameraError("The serial camera is not connected; call connect() first.")
        return self._link

    def _require_port(self) -> serial.SerialBase:
        if self._port is None:
            raise CameraError("The serial camera is not connected; call connect() first.")
        return self._port

    def _model_name(self) -> str | None:
        return self._info.model if self._info else self._configured_model


def _property(item: Setting, raw: int) -> Property:
    return Property(name=item.name, value=item.to_text(raw), allowed=item.allowed, writable=True)


def _from_camera_time(stamp: int) -> datetime:
    """The camera's UNIX time as naive local time (photopc's default, without -z)."""
    return datetime.fromtimestamp(stamp)


def _jpeg_part(data: bytes) -> bytes:
    """The JPEG inside ``data`` (FFD8 ... FFD9), as gphoto2 cuts thumbnails; else ``data``."""
    start = data.find(b"\xff\xd8")
    end = data.rfind(b"\xff\xd9")
    if start < 0 or end < start:
        return data
    return data[start : end + 2]


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _check_register(register: int) -> None:
    if not 0 <= register <= MAX_REGISTER:
        raise InvalidCommand(
            f"Register {register} does not exist; registers are 0 to {MAX_REGISTER}."
        )
