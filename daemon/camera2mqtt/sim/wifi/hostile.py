"""A hostile Wi-Fi camera: answers like a camera until told to attack one of its replies.

For testing that a client survives a broken or malicious camera on its network. The camera
it plays is minimal (the command list of a real model, one folder with one JPEG, a
thumbnail); :meth:`HostileCamera.attack` turns one reply (a command such as ``get_imglist``,
or ``FILE`` for file downloads) into an :class:`Attack`. Like the simulator it only ever
listens on loopback.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

from camera2mqtt.lifecycle import StartStop
from camera2mqtt.sim.wifi.models import model_profile
from camera2mqtt.sim.wifi.server import LOOPBACK, SimulatorError, check_loopback

__all__ = ["FILE", "Attack", "HostileCamera"]

log = logging.getLogger(__name__)

FILE = "FILE"
"""The target name of file downloads (``GET /DCIM/...``)."""
FOLDER = "/DCIM/100OLYMP"
PHOTO_NAME = "P1010001.JPG"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 16 + b"\xff\xd9"
THUMBNAIL = b"\xff\xd8\xff\xe0" + b"thumbnail" * 8 + b"\xff\xd9"
FAT_DATE = (46 << 9) | (6 << 5) | 1  # 2026-06-01
FAT_TIME = 12 << 11
DIRECTORY = 16
HUGE_FILE_BYTES = 10**12
HUGE_THUMBNAIL_BYTES = 300 << 20
NESTING = 3000
FAN_OUT = 20
ENDLESS_CHUNK = 64 * 1024
ENDLESS_LINES = 2000
POLL_S = 0.05


class Attack(enum.StrEnum):
    """What a hostile reply does."""

    ENCODING_UNDEFINED = "encoding-undefined"
    """XML declared in the codec "undefined" (Python raises on any use of it)."""
    ENCODING_IDNA = "encoding-idna"
    """XML declared as "idna" (a codec that can't replace bad bytes)."""
    DEEP_NESTING = "deep-nesting"
    """XML nested 3,000 levels deep (a command list's options, or any element)."""
    TRICKLE = "trickle"
    """The whole reply, headers included, one byte per ``trickle_interval``."""
    ENDLESS = "endless"
    """A body with no length that never ends (listing lines, or junk)."""
    FAN_OUT = "fan-out"
    """Every folder listed holds 20 more folders."""
    HUGE_SIZE = "huge-size"
    """The photo is listed at 10¹² bytes and served with that length (then zeros)."""
    HUGE_THUMBNAIL = "huge-thumbnail"
    """A thumbnail announced at 300 MiB, then sent for as long as the client reads."""


class HostileCamera(StartStop):
    """A loopback HTTP server playing a camera whose chosen replies attack the client.

    ``requests`` counts the requests seen per target (command name or :data:`FILE`).
    """

    def __init__(
        self,
        model: str = "e-m1-iii",
        *,
        host: str = LOOPBACK,
        port: int = 0,
        trickle_interval: float = 0.01,
    ) -> None:
        check_loopback(host)
        try:
            self.profile = model_profile(model)
        except ValueError as error:
            raise SimulatorError(str(error)) from None
        self.host = host
        self.trickle_interval = trickle_interval
        self._requested_port = port
        self._lock = threading.Lock()
        self._seen = threading.Condition(self._lock)
        self._attacks: dict[str, Attack] = {}
        self.requests: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scenario controls -------------------------------------------------------------------

    def attack(self, target: str, attack: Attack | None) -> None:
        """Make ``target``'s reply (a command name or :data:`FILE`) attack; None: behave."""
        with self._lock:
            if attack is None:
                self._attacks.pop(target, None)
            else:
                self._attacks[target] = Attack(attack)

    def attack_of(self, target: str) -> Attack | None:
        with self._lock:
            return self._attacks.get(target)

    def count(self, target: str) -> int:
        with self._lock:
            return self.requests[target]

    def wait_requests(self, target: str, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``target`` was requested ``count`` times; False on timeout."""
        with self._seen:
            return self._seen.wait_for(lambda: self.requests[target] >= count, timeout)

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> HostileCamera:
        try:
            server = _Server((self.host, self._requested_port), self)
        except OSError as error:
            raise SimulatorError(
                f"cannot listen on {self.host}:{self._requested_port} ({error.strerror})"
            ) from None
        self._stopping.clear()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_S},
            name="hostile-camera",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise SimulatorError("the hostile camera is not started; call start() first")
        return int(self._server.server_address[1])

    # -- replies ------------------------------------------------------------------------------

    def _reply(self, path: str, query: str) -> tuple[str, bytes, str]:
        """(target, the well-behaved body, content type) for a request."""
        if path.startswith("/DCIM/"):
            return FILE, PHOTO, "image/jpeg"
        command = path.strip("/").removesuffix(".cgi")
        args = dict(parse_qsl(query))
        if command == "get_commandlist":
            return command, self.profile.commandlist.raw, "text/xml"
        if command == "get_caminfo":
            return command, self.profile.caminfo, "text/xml"
        if command == "get_unusedcapacity":
            return command, _xml("<unused>1000000000</unused>"), "text/xml"
        if command == "get_connectmode":
            return command, _xml("<connectmode>private</connectmode>"), "text/xml"
        if command == "get_camprop":
            return command, _xml("<desclist></desclist>"), "text/xml"
        if command == "get_imglist":
            return command, self._listing(args.get("DIR", "")), "text/plain"
        if command == "get_thumbnail":
            return command, THUMBNAIL, "image/jpeg"
        return command, b"", "text/plain"

    def _listing(self, folder: str) -> bytes:
        size = len(PHOTO)
        if self.attack_of("get_imglist") is Attack.FAN_OUT:
            lines = [
                f"{folder},F{i:03d},0,{DIRECTORY},{FAT_DATE},{FAT_TIME}" for i in range(FAN_OUT)
            ]
        elif folder == "/DCIM":
            lines = [f"/DCIM,100OLYMP,0,{DIRECTORY},{FAT_DATE},{FAT_TIME}"]
        elif folder == FOLDER:
            if self.attack_of(FILE) is Attack.HUGE_SIZE:
                size = HUGE_FILE_BYTES
            lines = [f"{FOLDER},{PHOTO_NAME},{size},0,{FAT_DATE},{FAT_TIME}"]
        else:
            lines = []
        return ("\r\n".join(["VER_100", *lines]) + "\r\n").encode()


def _xml(element: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\r\n{element}\r\n'.encode()


def _declared(body: bytes, encoding: str) -> bytes:
    """``body`` with its XML declaration naming ``encoding``."""
    rest = body.split(b"?>", 1)[1] if body.lstrip().startswith(b"<?xml") else body
    return f'<?xml version="1.0" encoding="{encoding}"?>'.encode() + rest


def _nested(target: str, body: bytes) -> bytes:
    if target == "get_commandlist":
        options = '<cmd1 name="a"><param1 name="b">' * (NESTING // 2)
        closes = "</param1></cmd1>" * (NESTING // 2)
        return _xml(
            f'<oishare><version>1.0</version><cgi name="get_caminfo"><http_method type="get">'
            f"{options}{closes}</http_method></cgi></oishare>"
        )
    rest = body.split(b"?>", 1)[1] if body.lstrip().startswith(b"<?xml") else body
    return b"<?xml version='1.0'?>" + b"<a>" * NESTING + rest.strip() + b"</a>" * NESTING


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], camera: HostileCamera) -> None:
        self.camera = camera
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:
        log.debug("hostile camera: " + format, *args)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "0")
        self.rfile.read(int(length) if length.isdigit() else 0)
        self._answer()

    def _answer(self) -> None:
        self.close_connection = True
        camera = self.server.camera
        path, _, query = self.path.partition("?")
        target, body, content_type = camera._reply(unquote(path), query)
        with camera._seen:
            camera.requests[target] += 1
            camera._seen.notify_all()
        attack = camera.attack_of(target)
        try:
            self._send(camera, target, attack, body, content_type)
        except OSError as error:  # the client gave up: what an attack is for
            log.debug("hostile camera: client went away: %s", error)

    def _send(
        self,
        camera: HostileCamera,
        target: str,
        attack: Attack | None,
        body: bytes,
        content_type: str,
    ) -> None:
        if attack is Attack.ENCODING_UNDEFINED:
            body = _declared(body, "undefined")
        elif attack is Attack.ENCODING_IDNA:
            body = _declared(body, "idna")
        elif attack is Attack.DEEP_NESTING:
            body = _nested(target, body)
        elif attack is Attack.ENDLESS:
            self._write(_head(content_type, None))
            self._endless(camera, body)
            return
        elif attack is Attack.HUGE_SIZE and target == FILE:
            self._write(_head(content_type, HUGE_FILE_BYTES) + body)
            self._endless(camera, b"")
            return
        elif attack is Attack.HUGE_THUMBNAIL:
            self._write(_head(content_type, HUGE_THUMBNAIL_BYTES) + body)
            self._endless(camera, b"")
            return
        reply = _head(content_type, len(body)) + body
        if attack is Attack.TRICKLE:
            for index in range(len(reply)):
                self._write(reply[index : index + 1])
                if camera._stopping.wait(camera.trickle_interval):
                    return
            return
        self._write(reply)

    def _endless(self, camera: HostileCamera, start: bytes) -> None:
        """Send ``start`` then filler until the client or the server stops."""
        if start.startswith(b"VER_100"):
            line = f"{FOLDER},P{{:07d}}.JPG,1000,0,{FAT_DATE},{FAT_TIME}\r\n"
            block = "".join(line.format(number) for number in range(ENDLESS_LINES)).encode()
            self._write(b"VER_100\r\n")
            while not camera._stopping.is_set():
                self._write(block)  # the same names over and over
            return
        self._write(start)
        filler = bytes(ENDLESS_CHUNK)
        while not camera._stopping.is_set():
            self._write(filler)

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()


def _head(content_type: str, length: int | None) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"Content-Type: {content_type}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
