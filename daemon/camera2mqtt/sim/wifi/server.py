"""The HTTP wire server of the Wi-Fi camera simulator (the OI.Share protocol on loopback).

Replies are written byte by byte here rather than through ``send_response``, because the
exact wire format is the point: ``Connection: close`` on everything, no ``Content-Length``
on ``get_imglist`` (the body ends when the connection closes), CRLF list lines, and 520
with an XML error body when a command comes in the wrong mode.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.lifecycle import StartStop
from camera2mqtt.sim.wifi.commands import (
    ERROR_WRONG_MODE,
    HANDLERS,
    BadRequest,
    Reply,
    Request,
    camera_error,
    status_only,
    xml_reply,
)
from camera2mqtt.sim.wifi.faults import RequestLog, WifiFaults
from camera2mqtt.sim.wifi.models import (
    MODE_REQUIREMENTS,
    ModelProfile,
    model_profile,
)
from camera2mqtt.sim.wifi.state import DCIM, DeviceState

__all__ = ["LOOPBACK", "LiveViewStreamer", "SimulatorError", "WifiSimulator", "check_loopback"]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# OPC spec p.19-21: longer request URIs get 414.
MAX_URI_LENGTH = 128
CHUNK_SIZE = 64 * 1024
THROTTLE_CHUNK = 4096
POLL_INTERVAL_S = 0.05
MAX_POST_BODY = 64 * 1024
REQUEST_TIMEOUT_S = 60.0
CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".orf": "application/octet-stream",
    ".mpo": "application/octet-stream",
}
REASONS = {520: "Vendor Internal Error"}
_OPEN_RANGE = re.compile(r"bytes=(\d+)-")


class SimulatorError(Camera2MqttError):
    """The simulator cannot start as asked (bad model, folder or address)."""


class LiveViewStreamer(Protocol):
    """What the simulator needs from an RTP live-view streamer."""

    def start(self, dest: tuple[str, int], size: str) -> None: ...

    def stop(self) -> None: ...


def check_loopback(host: str) -> None:
    """Refuse anything but an IPv4 loopback address: the simulator never listens on a network."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or ":" in host:
        raise SimulatorError(
            f"host {host} is not an IPv4 loopback address; the simulator only listens on "
            f"127.0.0.0/8 (for example {LOOPBACK})"
        )


def _parse_query(query: str) -> list[tuple[str, str]]:
    # unquote, not unquote_plus: a literal "+" in diff=+0100 is a plus sign, not a space.
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = REQUEST_TIMEOUT_S  # a client that connects and sends nothing is dropped
    server: _WireServer

    def setup(self) -> None:
        super().setup()
        self.server.sim._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim._track(self.connection, add=False)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        self.close_connection = True
        sim = self.server.sim
        sim.requests.append(method, self.path)
        delay = sim.faults.delay_s
        if delay and sim._stopping.wait(delay):
            return
        if not sim.state.powered:
            return  # switched off while this connection was being accepted: no answer
        if sim.faults.take_503():
            self._send(status_only(HTTPStatus.SERVICE_UNAVAILABLE))
            return
        try:
            reply = sim._dispatch(method, self.path, self._read_body, self.connection)
        except BadRequest as error:
            log.debug("400 for %s %s: %s", method, self.path, error)
            reply = status_only(HTTPStatus.BAD_REQUEST)
        except Exception:
            log.exception("the simulator failed to answer %s %s", method, self.path)
            reply = status_only(HTTPStatus.INTERNAL_SERVER_ERROR)
        self._send(reply)

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        try:
            size = int(length)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if not 0 <= size <= MAX_POST_BODY:
            raise BadRequest("POST body too large")
        return self.rfile.read(size)

    def _send(self, reply: Reply) -> None:
        sim = self.server.sim
        stream = None
        if isinstance(reply.body, Path):
            try:
                stream = reply.body.open("rb")
            except OSError:  # the file went away since the request was checked
                reply = status_only(HTTPStatus.NOT_FOUND)
        content_range = None
        if stream is not None:
            size = os.fstat(stream.fileno()).st_size
            start = self._range_start(size) if sim.honour_range else None
            if start is not None:
                content_range = f"bytes {start}-{size - 1}/{size}"
                stream.seek(start)
                size -= start
                reply = Reply(HTTPStatus.PARTIAL_CONTENT, reply.body, reply.content_type)
            chunks: Iterable[bytes] = iter(lambda: stream.read(CHUNK_SIZE), b"")
        else:
            body = reply.body if isinstance(reply.body, bytes) else b""
            size, chunks = len(body), [body]
        reason = REASONS.get(reply.status) or HTTPStatus(reply.status).phrase
        headers = [f"HTTP/1.1 {reply.status} {reason}"]
        if reply.content_type:
            headers.append(f"Content-Type: {reply.content_type}")
        if content_range is not None:
            headers.append(f"Content-Range: {content_range}")
        if reply.length_header:
            headers.append(f"Content-Length: {size}")
        headers.append("Connection: close")
        try:
            self.wfile.write(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1"))
            self._write_body(chunks, sim.faults, size, card_file=stream is not None)
            self.wfile.flush()
        except OSError as error:
            log.debug("client went away during the reply: %s", error)
        finally:
            if stream is not None:
                stream.close()

    def _range_start(self, size: int) -> int | None:
        """The start of a ``Range: bytes=N-`` request inside the file, else None (whole file;
        other range forms are answered with the whole file, as HTTP allows)."""
        match = _OPEN_RANGE.fullmatch((self.headers.get("Range") or "").strip())
        if match is None:
            return None
        start = int(match[1])
        return start if 0 < start < size else None

    def _write_body(
        self, chunks: Iterable[bytes], faults: WifiFaults, size: int, *, card_file: bool
    ) -> None:
        """Send the body, cut or throttled as the faults say; card file bytes are counted."""
        count = self.server.sim._count_file_bytes if card_file else _ignore
        cut = faults.take_cut(size)
        rate = faults.throttle_bytes_per_s
        sent = 0
        started = time.monotonic()
        for chunk in chunks:
            pieces = _split(chunk, THROTTLE_CHUNK) if rate else [chunk]
            for piece in pieces:
                if cut is not None and sent + len(piece) >= cut:
                    self.wfile.write(piece[: cut - sent])
                    self.wfile.flush()
                    count(cut - sent)
                    self._cut()
                    return
                self.wfile.write(piece)
                sent += len(piece)
                count(len(piece))
                if rate:
                    self.wfile.flush()
                    # Sleep to an absolute target so the rate does not drift with write time.
                    pause = started + sent / rate - time.monotonic()
                    if pause > 0 and self.server.sim._stopping.wait(pause):
                        return

    def _cut(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _ignore(count: int) -> None:
    pass


def _split(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class _WireServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: WifiSimulator) -> None:
        self.sim = sim
        super().__init__(address, _Handler)


class WifiSimulator(StartStop):
    """A simulated Olympus Wi-Fi camera answering the OI.Share HTTP protocol on loopback.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``state`` is the
    device (mode, card files, properties, power), ``faults`` the injected faults and
    ``requests`` every request received as ``(method, path_with_query)``.
    """

    def __init__(
        self,
        model: str = "e-m1-iii",
        *,
        images_dir: Path | None = None,
        host: str = LOOPBACK,
        port: int = 0,
        liveview: LiveViewStreamer | None = None,
        honour_range: bool = False,
    ) -> None:
        try:
            self.profile: ModelProfile = model_profile(model)
        except ValueError as error:
            raise SimulatorError(str(error)) from None
        check_loopback(host)
        if images_dir is not None and not Path(images_dir).is_dir():
            raise SimulatorError(
                f"the images folder {images_dir} does not exist; give a folder of JPEG files"
            )
        self.host = host
        self._requested_port = port
        self._images_dir = Path(images_dir) if images_dir is not None else None
        self._liveview = liveview
        self._liveview_lock = threading.Lock()
        # Whether card files honour "Range: bytes=N-" (206); the protocol notes do not say
        # whether real bodies do, so the driver must cope with both.
        self.honour_range = honour_range
        self.faults = WifiFaults()
        self.requests = RequestLog()
        self._file_bytes = 0  # card file body bytes written to clients
        self._file_bytes_changed = threading.Condition()
        self._lock = threading.Lock()
        self._server: _WireServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._work_dir: Path | None = None
        self._state: DeviceState | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> WifiSimulator:
        """Create the card and start answering; returns once the port is listening."""
        with self._lock:
            if self._state is not None:
                raise SimulatorError("this simulator was already started; create a new one")
            self._work_dir = Path(tempfile.mkdtemp(prefix="camera2mqtt-wifi-sim-"))
            self._stopping.clear()
        try:
            self._state = DeviceState(
                self.profile, work_dir=self._work_dir, images_dir=self._images_dir
            )
            self._listen(self._requested_port)
        except BaseException:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            raise
        log.info("wifi simulator (%s) listening on %s", self.profile.key, self.url)
        return self

    def _listen(self, port: int) -> None:
        try:
            server = _WireServer((self.host, port), self)
        except OSError as error:
            raise SimulatorError(
                f"cannot listen on {self.host}:{port} ({error.strerror}); choose another --port"
            ) from None
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_S},
            name=f"wifi-sim-{server.server_address[1]}",
            daemon=True,
        )
        with self._lock:
            self._server = server
            self._thread = thread
            self._port = server.server_address[1]
        thread.start()

    def stop(self) -> None:
        """Stop answering, stop live view and remove the simulator's temporary files."""
        self._stopping.set()
        self._power_down()
        with self._lock:
            work_dir, self._work_dir = self._work_dir, None
        if work_dir is not None:
            shutil.rmtree(work_dir, ignore_errors=True)

    def power_on(self) -> None:
        """Switch a powered-off camera back on: it answers again on the same port."""
        state = self.state
        if state.powered:
            return
        if self._port is None or self._stopping.is_set():
            raise SimulatorError("the simulator is stopped; create a new one")
        state.switch_mode("play", None)
        state.set_power(True)
        try:
            self._listen(self._port)
        except SimulatorError:
            state.set_power(False)
            raise

    def _power_down(self, *, spare: socket.socket | None = None) -> None:
        """Stop listening and drop every connection but ``spare`` (which still gets its reply)."""
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
            connections = [c for c in self._connections if c is not spare]
        self._stop_liveview()
        if self._state is not None:
            self._state.set_power(False)
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # -- public view ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise SimulatorError("the simulator is not started; call start() first")
        return self._port

    @property
    def file_bytes_sent(self) -> int:
        """Card file body bytes written to clients so far (what crossed the link)."""
        with self._file_bytes_changed:
            return self._file_bytes

    def wait_file_bytes(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` card file bytes were sent; False on timeout."""
        with self._file_bytes_changed:
            return self._file_bytes_changed.wait_for(lambda: self._file_bytes >= count, timeout)

    def _count_file_bytes(self, count: int) -> None:
        with self._file_bytes_changed:
            self._file_bytes += count
            self._file_bytes_changed.notify_all()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> DeviceState:
        if self._state is None:
            raise SimulatorError("the simulator is not started; call start() first")
        return self._state

    # -- request dispatch -------------------------------------------------------------------
    def _dispatch(
        self,
        method: str,
        raw_path: str,
        read_body: Callable[[], bytes | None],
        connection: socket.socket,
    ) -> Reply:
        if len(raw_path) > MAX_URI_LENGTH:
            return status_only(HTTPStatus.REQUEST_URI_TOO_LONG)
        path, _, query = raw_path.partition("?")
        path = unquote(path)
        state = self.state
        if path == DCIM or path.startswith(DCIM + "/"):
            if method != "GET":
                return status_only(HTTPStatus.METHOD_NOT_ALLOWED)
            if state.mode not in MODE_REQUIREMENTS[DCIM]:
                return camera_error(ERROR_WRONG_MODE)
            return self._download(path)
        if not path.startswith("/") or not path.endswith(".cgi"):
            return status_only(HTTPStatus.NOT_FOUND)
        command = path[1:-4]
        args = _parse_query(query)
        body = None
        if method == "POST":
            body = read_body()
            if body is None:
                return status_only(HTTPStatus.LENGTH_REQUIRED)
        if command == "get_commandlist":
            return xml_reply(self.profile.commandlist.raw)
        spec = self.profile.commandlist.commands.get(command)
        if spec is None:
            return status_only(HTTPStatus.NOT_FOUND)
        if spec.method != method.lower():
            raise BadRequest(f"{command} takes {spec.method.upper()}")
        problem = spec.check(args)
        if problem is not None:
            raise BadRequest(problem)
        if len({name for name, _ in args}) != len(args):
            raise BadRequest("an argument is repeated")
        needed = MODE_REQUIREMENTS.get(command)
        if needed is not None and state.mode not in needed:
            return camera_error(ERROR_WRONG_MODE)
        handler = HANDLERS.get(command)
        if handler is None:
            log.info("%s is in the command list but not simulated; answering 501", command)
            return status_only(HTTPStatus.NOT_IMPLEMENTED)
        return handler(self, Request(command, dict(args), body, connection))

    def _download(self, path: str) -> Reply:
        card = self.state.card_file(path)
        if card is None or not card.local.is_file():
            return status_only(HTTPStatus.NOT_FOUND)
        content_type = CONTENT_TYPES.get(card.local.suffix.lower(), "application/octet-stream")
        return Reply(HTTPStatus.OK, card.local, content_type)

    # -- live view --------------------------------------------------------------------------
    def _start_liveview(self, dest: tuple[str, int], size: str) -> None:
        with self._liveview_lock:
            if self.state.liveview_running:
                self._stop_streamer()
            if self._liveview is not None:
                self._liveview.start(dest, size)
            self.state.set_liveview(dest)

    def _stop_liveview(self) -> None:
        with self._liveview_lock:
            state = self._state
            if state is None or state.liveview_dest is None:
                return
            state.set_liveview(None)
            self._stop_streamer()

    def _stop_streamer(self) -> None:
        if self._liveview is None:
            return
        try:
            self._liveview.stop()
        except Exception:
            log.exception("the live-view streamer failed to stop")
