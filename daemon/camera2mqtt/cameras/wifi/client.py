"""HTTP to an Olympus camera: ``GET|POST /<command>.cgi?k=v&...`` and plain file GETs.

Every request has explicit (connect, read) timeouts and an overall deadline that covers its
retries and a reply trickled byte by byte; replies larger than the request's ``max_bytes``
are refused. Only idempotent requests are retried (after a connection failure, a timeout or
HTTP 503); a shutter release, a setting change or a power-off is sent once. Errors come back
as the camera errors of :mod:`cameras.base`.

Commands go through a requests session; file bodies through :mod:`.fileget`, a bare
connection each: a pool buys nothing against a camera that closes every connection, and
requests' per-request overhead was twice the transfer of a small file.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import requests

from camera2mqtt.cameras.base import (
    CameraBusy,
    CameraError,
    CameraTimeout,
    CameraUnreachable,
    CommandRejected,
    ProtocolError,
    TransferError,
    WrongMode,
)
from camera2mqtt.cameras.wifi.commandlist import parse_xml
from camera2mqtt.cameras.wifi.deadline import GuardedAdapter, RequestGuard
from camera2mqtt.cameras.wifi.fileget import FileGet, MalformedReply, request_bytes

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_HOST",
    "DEFAULT_MAX_REPLY_BYTES",
    "DEFAULT_PORT",
    "USER_AGENT",
    "HttpReply",
    "ReplyTooLarge",
    "RequestCancelled",
    "WifiClient",
    "unreachable_hint",
]

log = logging.getLogger(__name__)

DEFAULT_HOST = "192.168.0.10"
DEFAULT_PORT = 80
USER_AGENT = "OI.Share v2"
CHUNK_SIZE = 256 * 1024  # small enough for progress and cancel on slow links
ERRORCODE_WRONG_MODE = "1001"
STATUS_OK = (200, 202)
STATUS_PARTIAL = 206
STATUS_BUSY = 503
STATUS_VENDOR_ERROR = 520
ERROR_REPLY_BYTES = 64 * 1024  # what is read of an error reply to a file request
RETRY_DELAYS = (0.3, 1.0)  # seconds before the 2nd and 3rd attempt of an idempotent request
DEFAULT_DEADLINE = 30.0
"""Seconds a command may take in all, its retries included."""
DEFAULT_MAX_REPLY_BYTES = 16 << 20
"""The largest command reply read when the caller names no smaller limit."""


class ReplyTooLarge(ProtocolError):
    """The camera's reply is larger than the request allows; the rest was not read."""


class RequestCancelled(TransferError):
    """The request was abandoned because its cancel event was set."""


Args = Sequence[tuple[str, str]]


def unreachable_hint(base_url: str) -> str:
    return (
        f"Check that the camera's Wi-Fi is on in Private mode, that this computer has joined "
        f"the camera's network, and that {base_url} is the camera's address."
    )


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A complete reply."""

    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class WifiClient:
    """One camera's HTTP endpoint. Not thread-safe; the camera handles one thing at a time."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        timeout: float = 5.0,
        connect_timeout: float | None = None,
        retries: int = len(RETRY_DELAYS),
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        self.host = host
        self.deadline = deadline
        self.port = port
        self.timeout = timeout
        self.connect_timeout = connect_timeout if connect_timeout is not None else timeout
        self.retries = min(retries, len(RETRY_DELAYS))
        self.base_url = f"http://{host}" if port == DEFAULT_PORT else f"http://{host}:{port}"
        self._session = requests.Session()
        # The camera is on the local link: an HTTP_PROXY of the environment must not carry its
        # traffic, and reading the proxy variables and .netrc again for every request cost
        # about a third of a small file's download time.
        self._session.trust_env = False
        self._guard = RequestGuard()
        self._address: tuple[int, tuple[object, ...]] | None = None  # for file requests
        # Our own retry loop knows what is idempotent; urllib3's must not resend anything.
        self._session.mount("http://", GuardedAdapter(self._guard))
        # requests derives Host from the URL (192.168.0.10 for a real camera), as cameras want.
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})

    def close(self) -> None:
        self._session.close()

    # -- URLs -------------------------------------------------------------------------------

    def command_url(self, command: str, args: Args = ()) -> str:
        """``/<command>.cgi?k=v&...`` with the options in the given order."""
        url = f"{self.base_url}/{quote(command, safe='')}.cgi"
        if args:
            url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='/')}" for k, v in args)
        return url

    # -- requests -------------------------------------------------------------------------

    def command(
        self,
        command: str,
        args: Args = (),
        *,
        method: str = "get",
        body: bytes | None = None,
        content_type: str = "text/xml",
        idempotent: bool = False,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        allow_404: bool = False,
        deadline: float | None = None,
        max_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> HttpReply:
        """Send one CGI command and read the whole reply (to EOF if there is no length).

        The whole exchange, retries included, ends within ``deadline`` seconds (default: the
        client's); a reply longer than ``max_bytes`` raises :class:`ReplyTooLarge`.
        """
        url = self.command_url(command, args)
        headers = {"Content-Type": content_type} if body is not None else None
        timeouts = self._timeouts(timeout, connect_timeout)
        attempts = 1 + (self.retries if idempotent else 0)
        within = self.deadline if deadline is None else deadline
        self._guard.arm(within=within, idle_timeout=timeouts[1])
        try:
            return self._command(
                command, url, method, body, headers, timeouts, attempts, allow_404, max_bytes
            )
        finally:
            self._guard.disarm()

    def _command(
        self,
        command: str,
        url: str,
        method: str,
        body: bytes | None,
        headers: dict[str, str] | None,
        timeouts: tuple[float, float],
        attempts: int,
        allow_404: bool,
        max_bytes: int,
    ) -> HttpReply:
        for attempt in range(attempts):
            final = attempt == attempts - 1 or self._guard.remaining() <= RETRY_DELAYS[attempt]
            try:
                response = self._session.request(
                    method.upper(),
                    url,
                    data=body,
                    headers=headers,
                    timeout=self._bounded(timeouts),
                    stream=True,
                )
                try:
                    content = self._read_all(command, response, max_bytes)
                finally:
                    response.close()
            except requests.RequestException as error:
                failure = self._transport_error(command, error)
                if final:
                    raise failure from None
                log.info("%s failed (%s); retrying", command, failure)
            else:
                reply = HttpReply(
                    response.status_code, response.headers.get("Content-Type", ""), content
                )
                if reply.status == STATUS_BUSY and not final:
                    log.info("%s: camera busy (HTTP 503); retrying", command)
                elif reply.status == 404 and allow_404:
                    return reply
                else:
                    self._check(command, reply)
                    return reply
            time.sleep(RETRY_DELAYS[attempt])
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def stream(
        self,
        path: str,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
        offset: int = 0,
    ) -> Iterator[StreamedFile]:
        """GET a file from the card; yields its announced size and a chunk iterator.

        Reading ends within ``deadline`` seconds of the request (default: the client's) and
        soon after ``cancel`` is set, with :class:`CameraTimeout` or :class:`RequestCancelled`.
        ``offset`` > 0 asks for the rest of the file with ``Range: bytes=offset-``; the reply
        may still be the whole file (status 200), which the caller must check.
        """
        timeouts = self._timeouts(timeout, None)
        within = self.deadline if deadline is None else deadline
        self._guard.arm(within=within, idle_timeout=timeouts[1], cancel=cancel)
        try:
            with self._stream(path, timeouts[0], offset) as stream:
                yield stream
        finally:
            self._guard.disarm()

    @contextlib.contextmanager
    def _stream(self, path: str, connect_timeout: float, offset: int) -> Iterator[StreamedFile]:
        reply = self._open(path, connect_timeout, offset)
        try:
            if reply.status not in STATUS_OK and reply.status != STATUS_PARTIAL:
                content = _error_body(reply)
                error = HttpReply(reply.status, reply.headers.get("content-type", ""), content)
                self._check(path, error)
            length = reply.headers.get("content-length")
            yield StreamedFile(
                size=int(length) if length and length.isdigit() else None,
                content_type=reply.headers.get("content-type", ""),
                chunks=self._chunks(path, reply),
                status=reply.status,
                content_range=reply.headers.get("content-range"),
            )
        finally:
            reply.close()

    def _open(self, path: str, connect_timeout: float, offset: int) -> FileGet:
        """GET ``path`` until the camera answers other than busy, within the retry policy."""
        for attempt in range(1 + self.retries):
            final = attempt == self.retries or self._guard.remaining() <= RETRY_DELAYS[attempt]
            try:
                reply = self._get(path, connect_timeout, offset)
            except (CameraUnreachable, CameraTimeout) as failure:
                if final or self._guard.expired:
                    raise
                log.info("GET %s failed (%s); retrying", path, failure)
            else:
                if reply.status != STATUS_BUSY or final:
                    return reply
                reply.close()
                log.info("GET %s: camera busy (HTTP 503); retrying", path)
            time.sleep(RETRY_DELAYS[attempt])
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, path: str, connect_timeout: float, offset: int) -> FileGet:
        """One attempt: connect, send the GET, read the status line and headers."""
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", "Connection": "close"}
        if offset > 0:
            headers["Range"] = f"bytes={offset}-"
        request = request_bytes(self.host, self.port, path, headers)
        try:
            reply = FileGet.connect(
                self._file_address(), guard=self._guard, timeout=connect_timeout
            )
        except OSError as error:
            self._address = None  # looked up again next time
            raise self._connect_error(path, error) from None
        try:
            reply.send(request)
            reply.read_head()
        except (OSError, MalformedReply) as error:
            reply.close()
            raise self._reply_error(path, error) from None
        return reply

    def _file_address(self) -> tuple[int, tuple[object, ...]]:
        """The camera's socket address, looked up once (a lookup per file costs more than a
        small file's transfer)."""
        if self._address is None:
            family, _type, _proto, _name, sockaddr = socket.getaddrinfo(
                self.host, self.port, type=socket.SOCK_STREAM
            )[0]
            self._address = (family, sockaddr)
        return self._address

    # -- helpers --------------------------------------------------------------------------

    def _timeouts(self, read: float | None, connect: float | None) -> tuple[float, float]:
        read = read if read is not None else self.timeout
        connect = connect if connect is not None else min(self.connect_timeout, read)
        return (connect, read)

    def _bounded(self, timeouts: tuple[float, float]) -> tuple[float, float]:
        """The timeouts, the connect one cut to what is left of the deadline."""
        connect, read = timeouts
        left = self._guard.remaining()
        if left <= 0:
            self._guard.expired = True
            raise requests.Timeout("timed out (deadline)")
        return (min(connect, left), read)

    def _read_all(self, what: str, response: requests.Response, max_bytes: int) -> bytes:
        """The whole body, refusing one longer than ``max_bytes`` (announced or sent)."""
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise ReplyTooLarge(_too_large(what, f"it announces {int(length)}", max_bytes))
        body = bytearray()
        for chunk in response.iter_content(CHUNK_SIZE):
            body += chunk
            if len(body) > max_bytes:
                raise ReplyTooLarge(_too_large(what, "it kept sending", max_bytes))
        return bytes(body)

    def _chunks(self, path: str, reply: FileGet) -> Iterator[bytes]:
        # read1 hands over what has arrived, so the bytes before a cut reach the caller (who
        # may resume after them).
        try:
            while chunk := reply.read1(CHUNK_SIZE):
                yield chunk
        except (OSError, MalformedReply) as error:
            raise self._body_error(path, _wire_reason(error)) from None
        if not reply.complete:
            raise self._body_error(path, "the reply was cut short")

    def _body_error(self, path: str, reason: str) -> CameraError:
        if self._guard.cancelled:
            return RequestCancelled(f"The download of {path} was cancelled; nothing was kept.")
        if self._guard.expired:
            return CameraTimeout(
                f"The camera did not finish sending {path} in time; nothing was kept. "
                "Check that it is still on and in range, then run the download again."
            )
        return TransferError(
            f"The camera stopped sending {path} ({reason}). Run the download again to fetch it."
        )

    def _transport_error(self, what: str, error: requests.RequestException) -> CameraError:
        """The camera error for a command that failed on the wire (requests)."""
        if self._guard.cancelled or self._guard.expired:
            return self._guard_error(what)
        if isinstance(error, requests.ConnectTimeout):
            return self._unreachable(None)
        if isinstance(error, requests.ConnectionError) and _is_connect_failure(error):
            return self._unreachable(_reason(error))
        if isinstance(error, requests.Timeout):
            return self._no_reply(what)
        return self._broken(what, _reason(error))

    def _connect_error(self, what: str, error: OSError) -> CameraError:
        """The camera error for a file request whose connection failed."""
        if self._guard.expired:
            return self._guard_error(what)
        return self._unreachable(None if isinstance(error, TimeoutError) else _reason(error))

    def _reply_error(self, what: str, error: OSError | MalformedReply) -> CameraError:
        """The camera error for a file request that failed before its reply."""
        if self._guard.cancelled or self._guard.expired:
            return self._guard_error(what)
        if isinstance(error, TimeoutError):
            return self._no_reply(what)
        return self._broken(what, _wire_reason(error))

    def _guard_error(self, what: str) -> CameraError:
        if self._guard.cancelled:
            return RequestCancelled(f"{what} was cancelled.")
        return CameraTimeout(
            f"The camera at {self.base_url} did not finish answering {what} within its "
            "deadline (it sends too slowly or not at all). Check that it is still on and "
            "in range."
        )

    def _unreachable(self, reason: str | None) -> CameraUnreachable:
        """``reason`` None: the connect timed out."""
        if reason is None:
            return CameraUnreachable(
                f"The camera at {self.base_url} did not accept a connection within "
                f"{self.connect_timeout:g} s. {unreachable_hint(self.base_url)}"
            )
        return CameraUnreachable(
            f"Cannot connect to the camera at {self.base_url} ({reason}). "
            f"{unreachable_hint(self.base_url)}"
        )

    def _no_reply(self, what: str) -> CameraTimeout:
        return CameraTimeout(
            f"The camera at {self.base_url} stopped answering {what} "
            f"(no reply within {self.timeout:g} s). Check that it is still on and in range."
        )

    def _broken(self, what: str, reason: str) -> CameraTimeout:
        return CameraTimeout(
            f"The connection to the camera at {self.base_url} broke during {what} "
            f"({reason}). Check that it is still on and in range."
        )

    def _check(self, what: str, reply: HttpReply) -> None:
        if reply.status in STATUS_OK:
            return
        code = _errorcode(reply) if reply.status == STATUS_VENDOR_ERROR else None
        if code == ERRORCODE_WRONG_MODE:
            raise WrongMode(
                f"The camera refused {what}: it is in the wrong mode (HTTP 520, errorcode 1001)."
            )
        if reply.status == STATUS_BUSY:
            raise CameraBusy(
                f"The camera is overloaded (HTTP 503) and refused {what}; try again in a moment."
            )
        detail = f", errorcode {code}" if code else ""
        raise CommandRejected(
            f"The camera refused {what} (HTTP {reply.status}{detail}).",
            status=reply.status,
            code=code,
        )


@dataclass(frozen=True, slots=True)
class StreamedFile:
    size: int | None  # Content-Length: of the part sent when status is 206
    content_type: str
    chunks: Iterator[bytes]
    status: int = 200
    content_range: str | None = None


def _too_large(what: str, detail: str, max_bytes: int) -> str:
    return (
        f"The camera's reply to {what} is larger than the {max_bytes} bytes allowed "
        f"({detail}); it was refused. Check that the address is really the camera's."
    )


def _errorcode(reply: HttpReply) -> str | None:
    try:
        root = parse_xml(reply.body, "error")
    except CameraError:
        return None
    code = root.findtext(".//errorcode")
    return code.strip() if code else None


def _is_connect_failure(error: requests.ConnectionError) -> bool:
    text = str(error)
    return any(
        marker in text
        for marker in (
            "NewConnectionError",
            "Connection refused",
            "Failed to establish",
            "Name or service not known",
            "No route to host",
            "Network is unreachable",
        )
    )


def _reason(error: BaseException) -> str:
    """A few words for what went wrong on the wire (requests' own texts are nested reprs)."""
    text = str(error)
    for marker, words in _REASONS:
        if marker in text:
            return words
    return type(error).__name__


def _wire_reason(error: OSError | MalformedReply) -> str:
    """A few words for a failure of a file request on the wire."""
    if isinstance(error, TimeoutError):
        return "no data in time"
    if isinstance(error, MalformedReply):
        return str(error)
    return _reason(error)


def _error_body(reply: FileGet) -> bytes:
    """The error reply to a file request, or nothing if it is longer than ERROR_REPLY_BYTES
    or cannot be read."""
    try:
        return reply.read_body(ERROR_REPLY_BYTES) or b""
    except (OSError, MalformedReply):
        return b""


_REASONS = (
    ("IncompleteRead", "the reply was cut short"),
    ("Connection broken", "the connection broke"),
    ("Read timed out", "no data in time"),
    ("Connection refused", "connection refused"),
    ("Connection reset", "connection reset"),
    ("Connection aborted", "connection aborted"),
    ("RemoteDisconnected", "the camera closed the connection without a reply"),
    ("Name or service not known", "unknown host name"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network unreachable"),
    ("timed out", "timed out"),
)
