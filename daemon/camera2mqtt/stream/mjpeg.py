"""Live view over HTTP: a small threaded server of MJPEG streams and snapshots.

``/`` lists the cameras; ``/cameras/<camera>/live.mjpg`` is ``multipart/x-mixed-replace``
(what browsers, VLC and Home Assistant's MJPEG camera show as video);
``/cameras/<camera>/snapshot.jpg`` is the latest frame. Each camera is a :class:`FrameSource`
(a :class:`~camera2mqtt.stream.live.FrameHub`): subscribing is what starts its live view,
and the last viewer leaving stops it.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import quote, unquote, urlsplit

from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.lifecycle import StartStop
from camera2mqtt.stream.live import FrameQueue, LiveFrame

__all__ = ["BOUNDARY", "FrameSource", "MjpegServer", "MjpegServerError", "parse_listen"]

log = logging.getLogger(__name__)

BOUNDARY = "camera2mqtt-frame"
FRAME_TIMEOUT = 10.0
"""How long a snapshot request waits for the first frame before answering 503."""
IDLE_POLL = 0.5
"""How often a waiting stream looks whether the server is stopping."""
SNAPSHOT_FRESH = 1.0
"""A latest frame this recent answers a snapshot request without waiting for a new one."""
STOP_JOIN_TIMEOUT = 2.0


class MjpegServerError(Camera2MqttError):
    """The HTTP server cannot listen where it was asked to."""


class FrameSource(Protocol):
    """A camera's frames: ``subscribe(deliver)`` returns the unsubscribe function."""

    @property
    def latest(self) -> LiveFrame | None: ...

    def subscribe(self, deliver: Callable[[LiveFrame], object]) -> Callable[[], None]: ...


def parse_listen(text: str, *, what: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port); :class:`MjpegServerError` when it is not one."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise MjpegServerError(f"{what} must be HOST:PORT, e.g. 127.0.0.1:8090; got {text!r}.")
    return host.strip("[]"), int(port)


class MjpegServer(StartStop):
    """Serves ``sources`` (camera name -> frames) on ``host:port`` from a background thread."""

    def __init__(
        self,
        host: str,
        port: int,
        sources: Mapping[str, FrameSource],
        *,
        frame_timeout: float = FRAME_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._address = (host, port)
        self.sources = dict(sources)
        self.frame_timeout = frame_timeout
        self.clock = clock
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.frames_served = 0

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server is not None else 0

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}/"

    def start(self) -> MjpegServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        try:
            server = ThreadingHTTPServer(self._address, handler)
        except (OSError, OverflowError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise MjpegServerError(
                f"Cannot serve HTTP on {self._address[0]}:{self._address[1]} ({reason}); "
                "choose a free port and an address of this machine."
            ) from error
        server.daemon_threads = True
        self._server = server
        self.stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": IDLE_POLL}, name="mjpeg-http"
        )
        self._thread.daemon = True
        self._thread.start()
        log.info("Serving live view on %s", self.url)
        return self

    def stop(self) -> None:
        self.stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_JOIN_TIMEOUT)
            self._thread = None


class _Handler(BaseHTTPRequestHandler):
    owner: MjpegServer
    protocol_version = "HTTP/1.1"
    server_version = "camera2mqtt"

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if path in ("/", "/index.html"):
            self._index()
            return
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "cameras" and parts[2] in self.owner.sources:
            source = self.owner.sources[parts[2]]
            if parts[3] == "live.mjpg":
                self._stream(source)
                return
            if parts[3] == "snapshot.jpg":
                self._snapshot(source)
                return
        self._text(HTTPStatus.NOT_FOUND, "Not found; the cameras are listed at /.\n")

    def _text(self, status: HTTPStatus, text: str, content_type: str = "text/plain") -> None:
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def _index(self) -> None:
        items = "\n".join(
            f'<li>{html.escape(name)}: <a href="/cameras/{quote(name)}/live.mjpg">live</a>, '
            f'<a href="/cameras/{quote(name)}/snapshot.jpg">snapshot</a></li>'
            for name in sorted(self.owner.sources)
        )
        page = (
            "<!doctype html><html><head><title>camera2mqtt live view</title></head><body>"
            f"<h1>Cameras</h1><ul>\n{items}\n</ul></body></html>\n"
        )
        self._text(HTTPStatus.OK, page, "text/html")

    def _snapshot(self, source: FrameSource) -> None:
        owner = self.owner
        frame = source.latest
        if frame is None or owner.clock() - frame.captured_at > SNAPSHOT_FRESH:
            frames = FrameQueue(1)
            unsubscribe = source.subscribe(frames.put)
            try:
                frame = frames.get(owner.frame_timeout)
            finally:
                unsubscribe()
        if frame is None:
            self._text(
                HTTPStatus.SERVICE_UNAVAILABLE,
                f"No frame came within {owner.frame_timeout:g} s; is the camera on?\n",
            )
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(frame.jpeg)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(frame.jpeg)
        owner.frames_served += 1

    def _stream(self, source: FrameSource) -> None:
        owner = self.owner
        frames = FrameQueue()
        unsubscribe = source.subscribe(frames.put)
        self.close_connection = True
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache, no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            while not owner.stopping.is_set():
                frame = frames.get(IDLE_POLL)
                if frame is None:
                    continue
                head = (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(frame.jpeg)}\r\n\r\n"
                ).encode("ascii")
                self.wfile.write(head + frame.jpeg + b"\r\n")
                self.wfile.flush()
                owner.frames_served += 1
        except (TimeoutError, ConnectionError, OSError):
            log.debug("An MJPEG viewer left.")
        finally:
            unsubscribe()
