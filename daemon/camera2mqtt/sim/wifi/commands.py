"""The commands the simulated Wi-Fi camera answers, one function each, and their replies.

Each handler gets the simulator and a request that already passed the command-list check and
the mode check, and returns a :class:`Reply` for the wire server to send.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from defusedxml import ElementTree
from PIL import Image, ImageOps

from camera2mqtt.sim.images import resize_jpeg
from camera2mqtt.sim.wifi.models import STARTTAKE_RESPONSE

if TYPE_CHECKING:
    import socket

    from camera2mqtt.sim.wifi.server import WifiSimulator

__all__ = [
    "ERROR_WRONG_MODE",
    "HANDLERS",
    "BadRequest",
    "Reply",
    "Request",
    "camera_error",
    "status_only",
    "xml_reply",
]

log = logging.getLogger(__name__)

ERROR_WRONG_MODE = 1001
THUMBNAIL_SIZE = (160, 120)
SCREENNAIL_SIZE = 1920
RECVIEW_SIZE = 640
CARD_CAPACITY_BYTES = 32 * 1000**3  # a "32 GB" card
XML_DECLARATION = b'<?xml version="1.0"?>'
# exec_shutter com= -> where the shutter button ends up; a picture is taken on reaching "full".
SHUTTER_BUTTON = {
    "1stpush": "half",
    "2ndpush": "full",
    "1st2ndpush": "full",
    "2ndrelease": "half",
    "2nd1strelease": "released",
    "1strelease": "released",
}


@dataclass(frozen=True)
class Reply:
    """What to send: status, body (bytes, or a file streamed from disk), content type."""

    status: int
    body: bytes | Path = b""
    content_type: str | None = None
    # get_imglist: no Content-Length, the body ends when the connection closes.
    length_header: bool = True


class BadRequest(Exception):
    """The request is malformed; answered with 400."""


def xml_reply(body: bytes, status: int = HTTPStatus.OK) -> Reply:
    return Reply(status, body, "text/xml")


def _xml_lines(*lines: str) -> bytes:
    return "".join(f"{line}\r\n" for line in ('<?xml version="1.0"?>', *lines)).encode("ascii")


def camera_error(code: int) -> Reply:
    body = _xml_lines(
        "<response>",
        f"<errorcode>{code}</errorcode>",
        "<errormsg>WIFI_INTERNAL_ERROR</errormsg>",
        "<dbgmsg>reserved</dbgmsg>",
        "</response>",
    )
    return Reply(520, body, "text/xml")


def status_only(status: int) -> Reply:
    return Reply(status)


def _thumbnail(local: Path) -> bytes:
    with Image.open(local) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        padded = ImageOps.pad(image, THUMBNAIL_SIZE, color=(0, 0, 0))
        out = io.BytesIO()
        padded.save(out, "JPEG", quality=80)
    return out.getvalue()


def _is_jpeg(path: Path) -> bool:
    return path.suffix.lower() in (".jpg", ".jpeg")


Handler = Callable[["WifiSimulator", "Request"], Reply]


@dataclass(frozen=True)
class Request:
    command: str
    args: dict[str, str]
    body: bytes | None
    connection: socket.socket

    @property
    def client(self) -> str:
        return self.connection.getpeername()[0]


# -- handlers ------------------------------------------------------------------------------
def _required(request: Request, name: str) -> str:
    value = request.args.get(name)
    if value is None or value == "":
        raise BadRequest(f"{request.command} needs {name}=")
    return value


def _get_caminfo(sim: WifiSimulator, request: Request) -> Reply:
    return xml_reply(sim.profile.caminfo)


def _get_connectmode(sim: WifiSimulator, request: Request) -> Reply:
    return xml_reply(_xml_lines("<connectmode>private</connectmode>"))


def _switch_cammode(sim: WifiSimulator, request: Request) -> Reply:
    mode = _required(request, "mode")
    with sim._liveview_lock:
        if sim.state.switch_mode(mode, request.args.get("lvqty")):
            sim._stop_streamer()
    return status_only(HTTPStatus.OK)


def _get_imglist(sim: WifiSimulator, request: Request) -> Reply:
    directory = _required(request, "DIR")
    entries = sim.state.listing(directory)
    extra = sim.faults.listing_lines(directory.rstrip("/") or "/")
    if not entries and not extra:
        return status_only(HTTPStatus.NOT_FOUND)
    lines = ["VER_100", *(entry.line() for entry in entries), *extra]
    text = "".join(f"{line}\r\n" for line in lines)
    return Reply(HTTPStatus.OK, text.encode("ascii"), "text/plain", length_header=False)


def _card_jpeg(sim: WifiSimulator, request: Request) -> Path | None:
    card = sim.state.card_file(_required(request, "DIR"))
    if card is None or not card.local.is_file() or not _is_jpeg(card.local):
        return None
    return card.local


def _get_thumbnail(sim: WifiSimulator, request: Request) -> Reply:
    local = _card_jpeg(sim, request)
    if local is None:
        return status_only(HTTPStatus.NOT_FOUND)
    return Reply(HTTPStatus.OK, _thumbnail(local), "image/jpeg")


def _get_resizeimg(sim: WifiSimulator, request: Request) -> Reply:
    try:
        size = int(_required(request, "size"))
    except ValueError:
        raise BadRequest("size must be a number") from None
    local = _card_jpeg(sim, request)
    if local is None:
        return status_only(HTTPStatus.NOT_FOUND)
    return Reply(HTTPStatus.OK, resize_jpeg(local.read_bytes(), size), "image/jpeg")


def _get_screennail(sim: WifiSimulator, request: Request) -> Reply:
    local = _card_jpeg(sim, request)
    if local is None:
        return status_only(HTTPStatus.NOT_FOUND)
    return Reply(HTTPStatus.OK, resize_jpeg(local.read_bytes(), SCREENNAIL_SIZE), "image/jpeg")


def _exec_erase(sim: WifiSimulator, request: Request) -> Reply:
    if not sim.state.erase(_required(request, "DIR")):
        return status_only(HTTPStatus.NOT_FOUND)
    return status_only(HTTPStatus.OK)


def _set_utctimediff(sim: WifiSimulator, request: Request) -> Reply:
    utctime = _required(request, "utctime")
    diff = _required(request, "diff")
    try:
        utc = datetime.strptime(utctime, "%Y%m%dT%H%M%S")
        sign = {"+": 1, "-": -1}[diff[0]]
        if len(diff) != 5 or not diff[1:].isdigit():
            raise ValueError(diff)
        offset = sign * timedelta(hours=int(diff[1:3]), minutes=int(diff[3:5]))
    except (ValueError, KeyError, IndexError):
        raise BadRequest("utctime must be YYYYMMDDTHHMMSS and diff +HHMM or -HHMM") from None
    sim.state.clock.set(utc, offset)
    return status_only(HTTPStatus.OK)


def _get_unusedcapacity(sim: WifiSimulator, request: Request) -> Reply:
    # No capture was found; the shape follows clients that parse it (a root <unused> holding
    # the free bytes, CRLF after the declaration and after the element).
    free = max(CARD_CAPACITY_BYTES - sim.state.used_bytes(), 0)
    return xml_reply(_xml_lines(f"<unused>{free}</unused>"))


def _exec_pwoff(sim: WifiSimulator, request: Request) -> Reply:
    # Off before the 202 goes out, so a client that has the reply finds the camera gone.
    log.info("simulated camera powered off")
    sim._power_down(spare=request.connection)
    return status_only(HTTPStatus.ACCEPTED)


def _exec_shutter(sim: WifiSimulator, request: Request) -> Reply:
    com = _required(request, "com")
    position = SHUTTER_BUTTON[com]
    changed = sim.state.press_shutter(position) is not None
    # 1st2ndpush is a whole press on its own, so it shoots even if a release got lost.
    if position == "full" and (changed or com == "1st2ndpush"):
        card = sim.state.shoot()
        log.info("shutter released: %s", card.path)
    return status_only(HTTPStatus.OK)


def _exec_takemotion(sim: WifiSimulator, request: Request) -> Reply:
    com = _required(request, "com")
    if com != "starttake":
        return status_only(HTTPStatus.OK)
    if not sim.state.liveview_running:
        # A rec-mode shot needs live view running (wifi-protocol.md a.8).
        return camera_error(ERROR_WRONG_MODE)
    card = sim.state.shoot()
    log.info("starttake: %s", card.path)
    return xml_reply(STARTTAKE_RESPONSE)


def _exec_takemisc(sim: WifiSimulator, request: Request) -> Reply:
    com = _required(request, "com")
    state = sim.state
    if com == "startliveview":
        try:
            port = int(_required(request, "port"))
        except ValueError:
            raise BadRequest("port must be a number") from None
        if not 0 < port < 65536:
            raise BadRequest("port must be 1-65535")
        sim._start_liveview((request.client, port), state.lvqty or "")
        return status_only(HTTPStatus.OK)
    if com == "stopliveview":
        sim._stop_liveview()
        return status_only(HTTPStatus.OK)
    if com in ("getlastjpg", "getrecview"):
        newest = state.newest_file()
        if newest is None or not _is_jpeg(newest.local):
            return status_only(HTTPStatus.NOT_FOUND)
        data = newest.local.read_bytes()
        if com == "getrecview":
            data = resize_jpeg(data, RECVIEW_SIZE)
        return Reply(HTTPStatus.OK, data, "image/jpeg")
    return status_only(HTTPStatus.OK)


def _desc_xml(sim: WifiSimulator, name: str) -> bytes:
    spec = sim.profile.property_spec(name)
    if spec is None:
        return b""
    value = sim.state.get_property(name) or ""
    parts = [
        f"<desc><propname>{escape(name)}</propname><attribute>{spec.attribute}</attribute>",
        f"<value>{escape(value)}</value>",
    ]
    if spec.enum is not None:
        parts.append(f"<enum>{escape(' '.join(spec.enum))}</enum>")
    parts.append("</desc>")
    return "".join(parts).encode("utf-8")


def _get_camprop(sim: WifiSimulator, request: Request) -> Reply:
    com = _required(request, "com")
    name = _required(request, "propname")
    if com == "desc" and name == "desclist":
        spec = sim.profile.commandlist.commands["get_camprop"]
        names = [n for n in spec.values_of("com", "desc", "propname") if n != "desclist"]
        body = b"".join(_desc_xml(sim, n) for n in names)
        return xml_reply(XML_DECLARATION + b"<desclist>" + body + b"</desclist>")
    if sim.profile.property_spec(name) is None:
        return status_only(HTTPStatus.NOT_FOUND)
    if com == "desc":
        return xml_reply(XML_DECLARATION + _desc_xml(sim, name))
    value = escape(sim.state.get_property(name) or "").encode("utf-8")
    return xml_reply(XML_DECLARATION + b"<get><value>" + value + b"</value></get>")


def _set_camprop(sim: WifiSimulator, request: Request) -> Reply:
    name = _required(request, "propname")
    spec = sim.profile.property_spec(name)
    if spec is None or not spec.writable:
        raise BadRequest(f"{name} cannot be set")
    try:
        root = ElementTree.fromstring(request.body or b"")
    except Exception:
        raise BadRequest("the body must be <set><value>V</value></set>") from None
    value = root.findtext("value") if root.tag == "set" else None
    if value is None:
        raise BadRequest("the body must be <set><value>V</value></set>")
    value = value.strip()
    if spec.enum is not None and value not in spec.enum:
        raise BadRequest(f"{value!r} is not an allowed value of {name}")
    sim.state.set_property(name, value)
    return status_only(HTTPStatus.OK)


HANDLERS: dict[str, Handler] = {
    "get_caminfo": _get_caminfo,
    "get_connectmode": _get_connectmode,
    "switch_cammode": _switch_cammode,
    "get_imglist": _get_imglist,
    "get_thumbnail": _get_thumbnail,
    "get_resizeimg": _get_resizeimg,
    "get_screennail": _get_screennail,
    "exec_erase": _exec_erase,
    "set_utctimediff": _set_utctimediff,
    "exec_pwoff": _exec_pwoff,
    "get_unusedcapacity": _get_unusedcapacity,
    "exec_shutter": _exec_shutter,
    "exec_takemotion": _exec_takemotion,
    "exec_takemisc": _exec_takemisc,
    "get_camprop": _get_camprop,
    "set_camprop": _set_camprop,
}
