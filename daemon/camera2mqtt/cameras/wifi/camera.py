"""The Olympus Wi-Fi (OI.Share) camera driver.

The driver owns the camera's mode (``play``, ``rec``, ``shutter``): each operation names the
mode it needs in :data:`OPERATION_MODES`, the driver remembers the mode it last set and
switches only when needed. Every command is checked against the camera's own command list
before it is sent. Cameras without a ``shutter`` mode (E-M10 Mark IV) shoot in ``rec`` with
live view running, through ``exec_takemotion com=starttake``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from xml.sax.saxutils import escape

from camera2mqtt.cameras.base import (
    CARD_STATES,
    Camera,
    CameraBusy,
    CameraError,
    CameraInfo,
    CameraStatus,
    CameraTimeout,
    Capability,
    CommandRejected,
    FileStream,
    ImageRef,
    InvalidCommand,
    ProgressCallback,
    Property,
    ProtocolError,
    RawReply,
    TransferError,
    UnsafeFilename,
    Unsupported,
    WrongMode,
)
from camera2mqtt.cameras.wifi.client import (
    DEFAULT_DEADLINE,
    DEFAULT_HOST,
    DEFAULT_PORT,
    STATUS_PARTIAL,
    HttpReply,
    StreamedFile,
    WifiClient,
)
from camera2mqtt.cameras.wifi.commandlist import CommandList, parse_commandlist, parse_xml
from camera2mqtt.cameras.wifi.imglist import parse_imglist
from camera2mqtt.cameras.wifi.liveview import DEFAULT_FIRST_FRAME_TIMEOUT, LiveView
from camera2mqtt.cameras.wifi.rtp import FrameInfo, MediaInfo
from camera2mqtt.cameras.wifi.udp import accept_only, local_address_towards
from camera2mqtt.files import write_atomically

__all__ = ["OPERATION_MODES", "WifiCamera"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

PLAY, REC, SHUTTER = "play", "rec", "shutter"
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")

# The mode each operation needs (a command in another mode fails with 520/1001).
OPERATION_MODES: Mapping[str, str] = {
    "properties": REC,
    "shutter_release": SHUTTER,
    "takemotion_release": REC,
    "liveview": REC,
    "list": PLAY,
    "download": PLAY,
    "thumbnail": PLAY,
    "resize": PLAY,
    "erase": PLAY,
    "clock": PLAY,
}

# The mode each camera command needs (wifi-protocol.md a.4), for raw commands' error messages.
COMMAND_MODES: Mapping[str, str] = {
    "get_camprop": REC,
    "set_camprop": REC,
    "exec_takemisc": REC,
    "exec_takemotion": REC,
    "exec_shutter": SHUTTER,
    "get_imglist": PLAY,
    "get_thumbnail": PLAY,
    "get_resizeimg": PLAY,
    "get_screennail": PLAY,
    "exec_erase": PLAY,
    "set_utctimediff": PLAY,
}

IMAGE_ROOT = "/DCIM"
MAX_FOLDER_DEPTH = 8
MAX_FOLDERS = 1000
"""Folders listed at most in one walk of the card (a card holds at most 900 in DCIM)."""
MAX_LISTED_FILES = 100_000
LIST_DEADLINE = 120.0
"""Seconds a whole walk of the card may take, however many folders it lists."""
XML_REPLY_BYTES = 1 << 20
"""Largest XML reply read (command lists and property lists are tens of kilobytes)."""
IMGLIST_REPLY_BYTES = 8 << 20
"""Largest listing of one folder read (about 150,000 lines)."""
THUMBNAIL_REPLY_BYTES = 2 << 20
IMAGE_REPLY_BYTES = 32 << 20
"""Largest resized image or raw command reply read."""
CLOCK_YEARS = (1980, 2099)
"""The years a camera clock is set to (FAT timestamps start in 1980)."""
MIN_TRANSFER_RATE = 100_000
"""Bytes a second a download must average at least, or it ends at its deadline."""
STATUS_TIMEOUT = 2.0  # seconds, connect and read, for the presence poll
SHUTTER_HOLD = 0.5  # seconds between pressing and releasing the shutter (as OI.Share does)
NEW_FILE_WAIT = 10.0  # seconds to wait for a shot to appear on the card
NEW_FILE_POLL = 0.5
PREFERRED_LIVEVIEW_SIZE = "0640x0480"
DESCLIST = "desclist"

# Which commands the driver needs for each capability; RAW is always there.
CAPABILITY_COMMANDS: Mapping[Capability, tuple[str, ...]] = {
    Capability.LIST: ("get_imglist",),
    Capability.DOWNLOAD: ("get_imglist",),
    Capability.THUMBNAIL: ("get_imglist", "get_thumbnail"),
    Capability.SET_CLOCK: ("set_utctimediff",),
    Capability.POWER_OFF: ("exec_pwoff",),
    Capability.PROPERTIES: ("get_camprop",),
    Capability.ERASE: ("exec_erase",),
}

# Commands whose repetition changes nothing, so a lost reply may be retried.
_IDEMPOTENT_PREFIXES = ("get_", "check_")
_IDEMPOTENT_COMMANDS = frozenset({"switch_cammode"})


@dataclass(frozen=True, slots=True)
class _Desc:
    value: str
    allowed: tuple[str, ...]
    writable: bool


class WifiCamera(Camera):
    """An Olympus/OM System camera over Wi-Fi (OI.Share protocol)."""

    kind = "wifi"

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        timeout: float = 5.0,
        liveview_port: int = 0,
        liveview_size: str | None = None,
        status_timeout: float = STATUS_TIMEOUT,
        shutter_hold: float = SHUTTER_HOLD,
        new_file_wait: float = NEW_FILE_WAIT,
        deadline: float | None = None,
        min_transfer_rate: float = MIN_TRANSFER_RATE,
        liveview_timeout: float = DEFAULT_FIRST_FRAME_TIMEOUT,
        list_deadline: float = LIST_DEADLINE,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.liveview_port = liveview_port
        self.liveview_size = liveview_size
        self.status_timeout = status_timeout
        self.shutter_hold = shutter_hold
        self.new_file_wait = new_file_wait
        # A command's overall deadline leaves room for its retries at the read timeout.
        self.deadline = deadline if deadline is not None else max(DEFAULT_DEADLINE, 3 * timeout)
        self.min_transfer_rate = min_transfer_rate
        self.liveview_timeout = liveview_timeout
        self.list_deadline = list_deadline
        self._client = WifiClient(host, port, timeout=timeout, deadline=self.deadline)
        self._commands: CommandList | None = None
        self._mode: str | None = None
        self._lvqty: str | None = None
        self._liveview: tuple[int, str | None] | None = None  # (port, size) while running
        self._desc: dict[str, _Desc] | None = None
        # What the last live-view frame's extension said (frames left, card state); the
        # OI.Share protocol reports them nowhere else.
        self._frame_info: FrameInfo | None = None
        self.honours_range: bool | None = None  # None until a resume has tried it

    @classmethod
    def from_config(cls, cfg: Any) -> WifiCamera:
        return cls(
            cfg.host,
            cfg.port,
            timeout=cfg.timeout,
            liveview_port=cfg.liveview.port,
            liveview_size=cfg.liveview.size,
        )

    def __repr__(self) -> str:
        return f"WifiCamera({self._client.base_url!r})"

    # -- life cycle -----------------------------------------------------------------------

    def connect(self) -> CameraInfo:
        reply = self._client.command("get_commandlist", idempotent=True, max_bytes=XML_REPLY_BYTES)
        self._commands = parse_commandlist(reply.body)
        details = self._caminfo()
        model = details.get("model", "")
        capabilities = {Capability.RAW}
        for capability, needed in CAPABILITY_COMMANDS.items():
            if all(name in self._commands for name in needed):
                capabilities.add(capability)
        if self._shoot_method() is not None:
            capabilities.add(Capability.SHOOT)
        if self._commands.allows("exec_takemisc", (("com", "startliveview"),)):
            capabilities.add(Capability.SNAPSHOT)
        if self._commands.oitrackversion:
            details["oitrackversion"] = self._commands.oitrackversion
        self._info = CameraInfo(
            model=model,
            manufacturer="OM Digital Solutions / Olympus",
            firmware=self._commands.version,
            capabilities=frozenset(capabilities),
            details=details,
        )
        log.info("Connected to %s (version %s)", model, self._commands.version)
        return self._info

    def close(self) -> None:
        self._client.close()

    @property
    def commands(self) -> CommandList:
        """The camera's command list (after :meth:`connect`)."""
        if self._commands is None:
            raise CameraError("The camera is not connected yet; call connect() first.")
        return self._commands

    @property
    def mode(self) -> str | None:
        """The mode the driver last put the camera in (None: not known)."""
        return self._mode

    def modes(self) -> tuple[str, ...]:
        return self.commands.values("switch_cammode", "mode")

    def liveview_sizes(self) -> tuple[str, ...]:
        """The ``lvqty`` sizes the camera offers in rec mode, e.g. ``0640x0480``."""
        return self.commands.values("switch_cammode", "lvqty", after=(("mode", REC),))

    def resize_sizes(self) -> tuple[str, ...]:
        """The sizes :meth:`resized_image` accepts, from the command list."""
        return self.commands.values("get_resizeimg", "size", after=(("DIR", IMAGE_ROOT),))

    # -- status ---------------------------------------------------------------------------

    def status(self) -> CameraStatus:
        """One short request: ``get_unusedcapacity`` if listed, else ``get_connectmode``.

        Works before :meth:`connect` too (then it asks ``get_caminfo`` for the model).
        Raises :class:`CameraUnreachable` when the camera does not answer within
        ``status_timeout``.
        """
        details: dict[str, str] = {}
        if self._commands is None:
            reply = self._quick("get_caminfo")
            details.update(_leaf_texts(parse_xml(reply.body, "get_caminfo")))
            return CameraStatus(mode=self._mode, details=details)
        details["model"] = self.info.model
        free_bytes: int | None = None
        if "get_unusedcapacity" in self._commands:
            try:
                reply = self._quick("get_unusedcapacity")
            except (WrongMode, CommandRejected, CameraBusy):  # it answered: it is there
                pass
            else:
                capacity = _first_number(reply.body)
                if capacity is not None:
                    details["unused_capacity"] = capacity
                    free_bytes = int(capacity)
        else:
            probe = "get_connectmode" if "get_connectmode" in self._commands else "get_caminfo"
            self._quick(probe)
        frame = self._frame_info
        return CameraStatus(
            mode=self._mode,
            free_bytes=free_bytes,
            frames_left=frame.max_take_num if frame else None,
            card_state=_card_state(frame.media) if frame and frame.media else None,
            details=details,
        )

    def _quick(self, command: str) -> HttpReply:
        return self._client.command(
            command,
            timeout=self.status_timeout,
            connect_timeout=self.status_timeout,
            idempotent=False,
            deadline=2 * self.status_timeout,
            max_bytes=XML_REPLY_BYTES,
        )

    # -- shooting -------------------------------------------------------------------------

    def shoot(self) -> list[ImageRef]:
        self.require(Capability.SHOOT)
        before = {ref.path for ref in self.list_images()}
        if self._shoot_method() == "shutter":
            self._shutter_release()
        else:
            self._takemotion_release()
        deadline = time.monotonic() + self.new_file_wait
        while True:
            new = [ref for ref in self.list_images() if ref.path not in before]
            if new or time.monotonic() >= deadline:
                break
            time.sleep(NEW_FILE_POLL)
        if not new:
            raise CommandRejected(
                f"The camera accepted the shot but no new file appeared within "
                f"{self.new_file_wait:g} s; check that a card is inserted and has space."
            )
        return new

    def _shoot_method(self) -> str | None:
        commands = self.commands
        if SHUTTER in self.modes() and commands.allows("exec_shutter", (("com", "1st2ndpush"),)):
            return "shutter"
        if commands.allows("exec_takemotion", (("com", "starttake"),)) and commands.allows(
            "exec_takemisc", (("com", "startliveview"),)
        ):
            return "takemotion"
        return None

    def _shutter_release(self) -> None:
        with self._operation(OPERATION_MODES["shutter_release"]):
            try:
                self._send("exec_shutter", [("com", "1st2ndpush")])
                time.sleep(self.shutter_hold)
            except CameraError:
                # Never leave the button held down; the push's error is the one to report.
                with contextlib.suppress(CameraError):
                    self._send("exec_shutter", [("com", "2nd1strelease")])
                raise
            self._send("exec_shutter", [("com", "2nd1strelease")])

    def _takemotion_release(self) -> None:
        """Rec mode + live view + ``starttake`` (cameras without a shutter mode)."""
        if self._liveview is not None:
            with self._operation(OPERATION_MODES["takemotion_release"]):
                reply = self._send("exec_takemotion", [("com", "starttake")])
            _check_take(reply)
            return
        # Live view must run for starttake; it needs a UDP port to send to, which we open
        # and drop again (nobody reads the frames).
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
            local = local_address_towards(self.host)
            try:
                sink.bind((local, self.liveview_port))
            except OSError:  # the configured port is taken (by a live-view receiver)
                sink.bind((local, 0))
            accept_only(sink, self.host)
            port = sink.getsockname()[1]
            self.start_liveview(port, self._liveview_size(None, strict=False))
            try:
                reply = self._send("exec_takemotion", [("com", "starttake")])
            finally:
                self.stop_liveview()
        _check_take(reply)

    # -- live view ------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """One live-view JPEG: start the stream, keep the first good frame, stop it again."""
        self.require(Capability.SNAPSHOT)
        with LiveView(
            self,
            port=self.liveview_port,
            size=self.liveview_size,
            camera_host=self.host,
            first_frame_timeout=self.liveview_timeout,
        ) as live:
            frame = live.latest_frame()
        self._frame_info = frame.info
        return frame.jpeg

    def start_liveview(self, port: int, size: str | None = None) -> None:
        """Rec mode at ``size`` (through play when the size changes), then stream to ``port``."""
        if not self.commands.allows("exec_takemisc", (("com", "startliveview"),)):
            raise Unsupported("live view", self._model())
        size = self._liveview_size(size)
        if self._liveview == (port, size) and self._mode == REC:
            return
        if self._liveview is not None:
            self.stop_liveview()
        self._switch(REC, lvqty=size)
        self._send("exec_takemisc", [("com", "startliveview"), ("port", str(port))])
        self._liveview = (port, size)

    def stop_liveview(self) -> None:
        """Stop the stream; the camera stays in rec mode."""
        if self._liveview is None:
            return
        self._liveview = None
        if self._mode == REC:
            self._send("exec_takemisc", [("com", "stopliveview")])

    def _liveview_size(self, size: str | None, *, strict: bool = True) -> str | None:
        """``size``, else the configured size, else a default; checked against the list.

        Not ``strict``: a configured size the camera lacks falls back to the default.
        """
        sizes = self.liveview_sizes()
        if size is None:
            size = self.liveview_size
            if not strict and size not in sizes:
                size = None
        if size is None:
            if not sizes:
                return None
            return PREFERRED_LIVEVIEW_SIZE if PREFERRED_LIVEVIEW_SIZE in sizes else sizes[0]
        if size not in sizes:
            raise InvalidCommand(
                f"live view size {size!r} is not offered by this camera; supported: "
                f"{', '.join(sizes) or 'none'}.",
                valid=sizes,
            )
        return size

    # -- files ----------------------------------------------------------------------------

    def list_images(self) -> list[ImageRef]:
        self.require(Capability.LIST)
        refs: list[ImageRef] = []
        with self._operation(OPERATION_MODES["list"]):
            self._walk(IMAGE_ROOT, refs)
        refs.sort(key=lambda ref: ref.path)
        return refs

    def _walk(self, root: str, refs: list[ImageRef]) -> None:
        """Every file under ``root``, folder by folder, within the folder and file caps."""
        folders = [(root, 0)]
        listed = 0
        deadline = time.monotonic() + self.list_deadline
        while folders:
            folder, depth = folders.pop()
            if time.monotonic() > deadline:
                raise CameraTimeout(
                    f"Listing the card took more than {self.list_deadline:g} s ({listed} "
                    "folders); the camera answers too slowly. Check that it is still in range."
                )
            listed += 1
            if listed > MAX_FOLDERS:
                raise ProtocolError(
                    f"The camera lists more than {MAX_FOLDERS} folders under {root}; "
                    "refusing to walk further. Check the card in the camera."
                )
            reply = self._send(
                "get_imglist", [("DIR", folder)], allow_404=True, max_bytes=IMGLIST_REPLY_BYTES
            )
            if reply.status == 404:  # the camera's answer for an empty folder
                continue
            subfolders = []
            for entry in parse_imglist(reply.body):
                if entry.is_skipped:
                    continue
                if entry.is_directory:
                    if depth < MAX_FOLDER_DEPTH and entry.name not in {".", ".."}:
                        subfolders.append((entry.path, depth + 1))
                    continue
                if len(refs) >= MAX_LISTED_FILES:
                    raise ProtocolError(
                        f"The camera lists more than {MAX_LISTED_FILES} files; refusing to "
                        "list further. Check the card in the camera."
                    )
                refs.append(ImageRef(path=entry.path, size=entry.size, timestamp=entry.timestamp))
            folders.extend(reversed(subfolders))  # in the camera's order, depth first

    def download(
        self,
        ref: ImageRef,
        dest_dir: Path,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Stream ``ref`` into ``dest_dir`` through a temp file; size checked, mtime set."""
        self.require(Capability.DOWNLOAD)
        path = _camera_path(ref.path)
        with self._operation(OPERATION_MODES["download"]):
            return self._retry_in_download_mode(
                ref, lambda: self._download(ref, path, Path(dest_dir), progress, cancel)
            )

    def _retry_in_download_mode(self, ref: ImageRef, send: Callable[[], _T]) -> _T:
        """``send()``, once more after switching to download mode again if the camera refused
        it for the mode; a 404 means the file is gone."""
        mode = OPERATION_MODES["download"]
        for attempt in range(2):
            try:
                return send()
            except WrongMode:
                # Refused before any byte was written: the mode changed behind our back.
                if attempt:
                    raise WrongMode(
                        f"The camera refused to send {ref.path} in {mode} mode.", mode=mode
                    ) from None
                self._mode = None
                self._switch(mode)
            except CommandRejected as error:
                if error.status == 404:
                    raise TransferError(
                        f"{ref.path} is not on the card any more; list the images again."
                    ) from None
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _download(
        self,
        ref: ImageRef,
        path: str,
        dest_dir: Path,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
    ) -> Path:
        deadline = self.deadline + ref.size / self.min_transfer_rate
        with self._client.stream(path, deadline=deadline, cancel=cancel) as stream:
            _check_announced_size(ref, stream)
            return write_atomically(
                dest_dir,
                ref.name,
                stream.chunks,
                expected_size=ref.size,
                mtime=ref.timestamp,
                progress=progress,
                cancel=cancel,
            )

    @contextlib.contextmanager
    def open_file(self, ref: ImageRef, *, offset: int = 0) -> Iterator[FileStream]:
        """Stream ``ref`` from ``offset`` with an HTTP Range request when the camera honours
        Range (learned on the first resume and remembered), else from the start."""
        self.require(Capability.DOWNLOAD)
        path = _camera_path(ref.path)
        ask = offset if 0 < offset < ref.size and self.honours_range is not False else 0
        with self._operation(OPERATION_MODES["download"]), contextlib.ExitStack() as stack:
            stream = self._open_stream(stack, ref, path, ask)
            start = _range_start(stream, ask, ref.size)
            if ask:
                if self.honours_range is None:
                    log.info("The camera %s HTTP Range requests", "honours" if start else "ignores")
                self.honours_range = start is not None and start > 0
            if start is None:
                raise TransferError(
                    f"{ref.name}: the camera sent another part of the file than asked for; "
                    "it will be fetched from the start."
                )
            if start == 0:
                _check_announced_size(ref, stream)
            yield FileStream(offset=start, size=ref.size, chunks=stream.chunks)

    def _open_stream(
        self, stack: contextlib.ExitStack, ref: ImageRef, path: str, offset: int
    ) -> StreamedFile:
        deadline = self.deadline + (ref.size - offset) / self.min_transfer_rate
        return self._retry_in_download_mode(
            ref,
            lambda: stack.enter_context(
                self._client.stream(path, deadline=deadline, offset=offset)
            ),
        )

    def thumbnail(self, ref: ImageRef) -> bytes:
        self.require(Capability.THUMBNAIL)
        with self._operation(OPERATION_MODES["thumbnail"]):
            args = [("DIR", _camera_path(ref.path))]
            return self._send("get_thumbnail", args, max_bytes=THUMBNAIL_REPLY_BYTES).body

    def resized_image(self, ref: ImageRef, size: int | str) -> bytes:
        """A JPEG of ``ref`` scaled by the camera; ``size`` is one of :meth:`resize_sizes`."""
        if "get_resizeimg" not in self.commands:
            raise Unsupported("resized images", self._model())
        with self._operation(OPERATION_MODES["resize"]):
            args = [("DIR", _camera_path(ref.path)), ("size", str(size))]
            return self._send("get_resizeimg", args, max_bytes=IMAGE_REPLY_BYTES).body

    def erase(self, ref: ImageRef) -> None:
        self.require(Capability.ERASE)
        with self._operation(OPERATION_MODES["erase"]):
            self._send("exec_erase", [("DIR", _camera_path(ref.path))])

    # -- clock and power ------------------------------------------------------------------

    def set_clock(self, when: datetime | None = None) -> None:
        """Set the camera to ``when`` (naive = local time; default now) with its UTC offset."""
        self.require(Capability.SET_CLOCK)
        try:
            local = (when or datetime.now()).astimezone()
            utc = local.astimezone(UTC)
        except (OverflowError, ValueError, OSError):
            utc = None
        if utc is None or not CLOCK_YEARS[0] <= utc.year <= CLOCK_YEARS[1]:
            raise InvalidCommand(
                f"The time {when} cannot be set on the camera; give a time between "
                f"{CLOCK_YEARS[0]} and {CLOCK_YEARS[1]}."
            )
        args = [("utctime", utc.strftime("%Y%m%dT%H%M%S")), ("diff", local.strftime("%z"))]
        with self._operation(OPERATION_MODES["clock"]):
            self._send("set_utctimediff", args)

    def power_off(self, *, keep_bluetooth: bool = False) -> None:
        """``exec_pwoff`` (HTTP 202 is success); ``keep_bluetooth`` adds ``mode=withble``."""
        self.require(Capability.POWER_OFF)
        args = [("mode", "withble")] if keep_bluetooth else []
        self._send("exec_pwoff", args)
        self._mode = None
        self._liveview = None

    # -- properties -----------------------------------------------------------------------

    def properties(self) -> list[Property]:
        self.require(Capability.PROPERTIES)
        desc = self._descriptions(refresh=True)
        return [Property(name, d.value, d.allowed, d.writable) for name, d in desc.items()]

    def get_property(self, name: str) -> Property:
        self.require(Capability.PROPERTIES)
        gettable = self.commands.values("get_camprop", "propname", after=(("com", "get"),))
        # A property the camera only describes is read from a fresh description list.
        desc = self._descriptions(refresh=name not in gettable)
        if name in gettable:
            with self._operation(OPERATION_MODES["properties"]):
                reply = self._send("get_camprop", [("com", "get"), ("propname", name)])
            value = (parse_xml(reply.body, "get_camprop").findtext(".//value") or "").strip()
        elif name in desc:
            value = desc[name].value
        else:
            valid = tuple(dict.fromkeys((*gettable, *desc)))
            raise InvalidCommand(
                f"property {name!r} is not offered by this camera; supported: {', '.join(valid)}.",
                valid=valid,
            )
        known = desc.get(name)
        return Property(
            name,
            value,
            known.allowed if known else (),
            known.writable if known else False,
        )

    def set_property(self, name: str, value: str) -> None:
        self.require(Capability.PROPERTIES)
        args = [("com", "set"), ("propname", name)]
        self.commands.validate("set_camprop", args)
        desc = self._descriptions()
        known = desc.get(name)
        if known is not None and not known.writable:
            raise InvalidCommand(f"property {name!r} is read-only on this camera.")
        if known is not None and known.allowed and value not in known.allowed:
            valid = known.allowed
            raise InvalidCommand(
                f"{value!r} is not an allowed value of {name}; supported: {', '.join(valid)}.",
                valid=valid,
            )
        body = f'<?xml version="1.0"?><set><value>{escape(value)}</value></set>'.encode()
        with self._operation(OPERATION_MODES["properties"]):
            self._send("set_camprop", args, body=body)
        if self._desc is not None and known is not None:
            self._desc[name] = _Desc(value, known.allowed, known.writable)

    def _descriptions(self, *, refresh: bool = False) -> dict[str, _Desc]:
        if self._desc is not None and not refresh:
            return self._desc
        args = [("com", "desc"), ("propname", DESCLIST)]
        if not self.commands.allows("get_camprop", args):
            self._desc = {}
            return self._desc
        with self._operation(OPERATION_MODES["properties"]):
            reply = self._send("get_camprop", args)
        root = parse_xml(reply.body, "get_camprop desclist")
        desc: dict[str, _Desc] = {}
        for element in root.iter("desc"):
            name = (element.findtext("propname") or "").strip()
            if not name:
                continue
            desc[name] = _Desc(
                value=(element.findtext("value") or "").strip(),
                # Real enums repeat values (cameradrivemode); keep each once, in order.
                allowed=tuple(dict.fromkeys((element.findtext("enum") or "").split())),
                writable=(element.findtext("attribute") or "").strip() == "getset",
            )
        self._desc = desc
        return desc

    # -- raw ------------------------------------------------------------------------------

    def raw(
        self,
        command: str,
        args: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        *,
        body: bytes | None = None,
    ) -> RawReply:
        """Send any listed command as it is (no mode switch); the mode is tracked."""
        pairs = list(args.items()) if isinstance(args, Mapping) else list(args or ())
        spec = self.commands.validate(command, pairs)
        if spec.method == "post" and body is None:
            raise InvalidCommand(f"{command} is a POST command and needs a request body.")
        try:
            reply = self._send(
                command,
                pairs,
                body=body if spec.method == "post" else None,
                recover=False,
                max_bytes=IMAGE_REPLY_BYTES,
            )
        except WrongMode as error:
            needed = COMMAND_MODES.get(command)
            if needed is None:
                raise WrongMode(
                    f"{error} Switch first with 'switch_cammode mode=...'; modes: "
                    f"{', '.join(self.modes())}."
                ) from None
            raise WrongMode(
                f"{error} {command} needs {needed} mode: send 'switch_cammode mode={needed}' "
                "first.",
                mode=needed,
            ) from None
        self._track(command, dict(pairs))
        return RawReply(reply.content_type, reply.body)

    def _track(self, command: str, args: Mapping[str, str]) -> None:
        """Keep the remembered mode right after a raw command changed it."""
        if command == "switch_cammode":
            self._mode = args.get("mode")
            self._lvqty = args.get("lvqty")
            self._liveview = None
        elif command == "exec_pwoff":
            self._mode = None
            self._liveview = None
        elif command == "exec_takemisc" and args.get("com") == "startliveview":
            self._liveview = (int(args.get("port", "0") or 0), self._lvqty)
        elif command == "exec_takemisc" and args.get("com") == "stopliveview":
            self._liveview = None

    # -- modes and sending ----------------------------------------------------------------

    @contextlib.contextmanager
    def _operation(self, mode: str) -> Iterator[None]:
        """Run an operation in ``mode``; restart live view afterwards if it had to stop."""
        resume = self._liveview if mode != REC else None
        self._switch(mode)
        try:
            yield
        finally:
            if resume is not None and self._liveview is None:
                try:
                    self.start_liveview(*resume)
                except CameraError as error:
                    log.warning("Could not restart live view after %s mode: %s", mode, error)

    def _switch(self, mode: str, *, lvqty: str | None = None) -> None:
        if mode not in self.modes():
            raise Unsupported(f"{mode} mode", self._model())
        if self._mode == mode and (lvqty is None or lvqty == self._lvqty):
            return
        if mode == REC and lvqty is not None and self._mode != PLAY:
            # A different live-view size only takes effect when entering rec from play.
            self._switch(PLAY)
        args = [("mode", mode)]
        if (
            lvqty is not None
            and mode in (REC, SHUTTER)
            and self.commands.allows("switch_cammode", [*args, ("lvqty", lvqty)])
        ):
            args.append(("lvqty", lvqty))
        self._mode = None  # unknown until the camera confirms
        self._liveview = None
        self._send("switch_cammode", args)
        self._mode = mode
        self._lvqty = args[1][1] if len(args) > 1 else None
        log.debug("Camera now in %s mode", mode)

    def _send(
        self,
        command: str,
        args: Sequence[tuple[str, str]] = (),
        *,
        body: bytes | None = None,
        allow_404: bool = False,
        recover: bool = True,
        max_bytes: int = XML_REPLY_BYTES,
    ) -> HttpReply:
        """Validate and send; after a wrong-mode refusal, switch once and try again."""
        spec = self.commands.validate(command, args)
        idempotent = command in _IDEMPOTENT_COMMANDS or command.startswith(_IDEMPOTENT_PREFIXES)

        def send() -> HttpReply:
            return self._client.command(
                command,
                args,
                method=spec.method,
                body=body,
                idempotent=idempotent and body is None,
                allow_404=allow_404,
                max_bytes=max_bytes,
            )

        try:
            return send()
        except WrongMode:
            wanted = self._mode
            if not recover or command == "switch_cammode" or wanted is None:
                raise
        # The mode changed behind our back (a button on the camera): switch again, once.
        log.info("Camera left %s mode on its own; switching back", wanted)
        self._mode = None
        self._switch(wanted, lvqty=self._lvqty if wanted == REC else None)
        try:
            return send()
        except WrongMode:
            raise WrongMode(
                f"The camera refused {command} in {wanted} mode (HTTP 520, errorcode 1001); "
                "it may need another mode on this model.",
                mode=wanted,
            ) from None

    def _caminfo(self) -> dict[str, str]:
        if "get_caminfo" not in self.commands:
            return {}
        reply = self._client.command("get_caminfo", idempotent=True, max_bytes=XML_REPLY_BYTES)
        return _leaf_texts(parse_xml(reply.body, "get_caminfo"))


# ---------------------------------------------------------------------------------------------
# Helpers


def _camera_path(path: str) -> str:
    """A card path that is safe to put in a URL and whose name is safe on disk."""
    if (
        not path.startswith("/")
        or "\x00" in path
        or "\\" in path
        or any(part in {"..", "."} for part in path.split("/"))
        or not path.rsplit("/", 1)[1]
    ):
        raise UnsafeFilename(f"Refusing the camera path {path!r}: it is not a plain card path.")
    return path


def _check_announced_size(ref: ImageRef, stream: StreamedFile) -> None:
    if stream.size is not None and stream.size != ref.size:
        raise TransferError(
            f"{ref.name}: the camera announces {stream.size} bytes but listed "
            f"{ref.size}; list the images again and retry."
        )


def _range_start(stream: StreamedFile, asked: int, size: int) -> int | None:
    """Where the streamed bytes start: 0 for a whole file, ``asked`` for a matching 206,
    None for a part that is not the one asked for."""
    if stream.status != STATUS_PARTIAL:
        return 0
    match = _CONTENT_RANGE.fullmatch((stream.content_range or "").strip())
    if match is None or int(match[1]) != asked or int(match[3]) != size:
        return None
    if int(match[2]) != size - 1:
        return None
    return asked


def _leaf_texts(root: Any) -> dict[str, str]:
    """Every leaf element's text, first occurrence wins (flat and nested caminfo alike)."""
    texts: dict[str, str] = {}
    for element in root.iter():
        if len(element) == 0 and element.text and element.text.strip():
            texts.setdefault(element.tag, element.text.strip())
    return texts


def _card_state(media: MediaInfo) -> str:
    """The card state of a live-view frame's media TLV, as one of CARD_STATES."""
    if media.error:
        state = "error"
    elif not media.mounted:
        state = "no_card"
    elif media.write_protected:
        state = "write_protected"
    elif not media.not_full:
        state = "full"
    elif media.writing:
        state = "writing"
    else:
        state = "ok"
    assert state in CARD_STATES
    return state


def _first_number(body: bytes) -> str | None:
    try:
        root = parse_xml(body, "reply")
    except ProtocolError:
        text = body.decode("ascii", errors="replace").strip()
        return text if text.isdigit() else None
    for text in _leaf_texts(root).values():
        if text.isdigit():
            return text
    return None


def _check_take(reply: HttpReply) -> None:
    try:
        take = parse_xml(reply.body, "exec_takemotion").findtext(".//take")
    except ProtocolError:
        return
    if take is not None and take.strip().lower() not in {"ok", ""}:
        raise CommandRejected(f"The camera did not take the picture (take={take.strip()}).")
