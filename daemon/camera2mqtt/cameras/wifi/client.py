"""HTTP to an Olympus camera: ``GET|POST /<command>.cgi?k=v&...`` and plain file GETs.

Every request has explicit (connect, read) timeouts. Only idempotent requests are retried
(after a connection failure, a timeout or HTTP 503); a shutter release, a setting change or a
power-off is sent once. Errors come back as the camera errors of :mod:`cameras.base`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from camera2mqtt.cameras.base import (
    CameraBusy,
    CameraError,
    CameraTimeout,
    CameraUnreachable,
    CommandRejected,
    TransferError,
    WrongMode,
)
from camera2mqtt.cameras.wifi.commandlist import parse_xml

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "USER_AGENT",
    "HttpReply",
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
STATUS_BUSY = 503
STATUS_VENDOR_ERROR = 520
RETRY_DELAYS = (0.3, 1.0)  # seconds before the 2nd and 3rd attempt of an idempotent request

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
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connect_timeout = connect_timeout if connect_timeout is not None else timeout
        self.retries = min(retries, len(RETRY_DELAYS))
        self.base_url = f"http://{host}" if port == DEFAULT_PORT else f"http://{host}:{port}"
        self._session = requests.Session()
        # Our own retry loop knows what is idempotent; urllib3's must not resend anything.
        adapter = HTTPAdapter(max_retries=0)
        self._session.mount("http://", adapter)
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

    def file_url(self, path: str) -> str:
        return self.base_url + quote(path, safe="/")

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
    ) -> HttpReply:
        """Send one CGI command and read the whole reply (to EOF if there is no length)."""
        url = self.command_url(command, args)
        headers = {"Content-Type": content_type} if body is not None else None
        timeouts = self._timeouts(timeout, connect_timeout)
        attempts = 1 + (self.retries if idempotent else 0)
        for attempt in range(attempts):
            final = attempt == attempts - 1
            try:
                response = self._session.request(
                    method.upper(), url, data=body, headers=headers, timeout=timeouts
                )
                try:
                    content = response.content
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
                    self._check(command, url, reply)
                    return reply
            time.sleep(RETRY_DELAYS[attempt])
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def stream(self, path: str, *, timeout: float | None = None) -> Iterator[StreamedFile]:
        """GET a file from the card; yields its announced size and a chunk iterator."""
        url = self.file_url(path)
        timeouts = self._timeouts(timeout, None)
        response = None
        for attempt in range(1 + self.retries):
            final = attempt == self.retries
            try:
                response = self._session.get(url, stream=True, timeout=timeouts)
            except requests.RequestException as error:
                failure = self._transport_error(path, error)
                if final:
                    raise failure from None
                log.info("GET %s failed (%s); retrying", path, failure)
            else:
                if response.status_code == STATUS_BUSY and not final:
                    response.close()
                    log.info("GET %s: camera busy (HTTP 503); retrying", path)
                else:
                    break
            time.sleep(RETRY_DELAYS[attempt])
        assert response is not None
        try:
            if response.status_code not in STATUS_OK:
                try:
                    content = response.content
                except requests.RequestException:
                    content = b""
                reply = HttpReply(
                    response.status_code, response.headers.get("Content-Type", ""), content
                )
                self._check(path, url, reply)
            length = response.headers.get("Content-Length")
            yield StreamedFile(
                size=int(length) if length and length.isdigit() else None,
                content_type=response.headers.get("Content-Type", ""),
                chunks=self._chunks(path, response),
            )
        finally:
            response.close()

    # -- helpers --------------------------------------------------------------------------

    def _timeouts(self, read: float | None, connect: float | None) -> tuple[float, float]:
        read = read if read is not None else self.timeout
        connect = connect if connect is not None else min(self.connect_timeout, read)
        return (connect, read)

    def _chunks(self, path: str, response: requests.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_content(CHUNK_SIZE)
        except requests.RequestException as error:
            raise TransferError(
                f"The camera stopped sending {path} ({_reason(error)}); nothing was kept. "
                "Run the download again to fetch it."
            ) from None

    def _transport_error(self, what: str, error: requests.RequestException) -> CameraError:
        if isinstance(error, requests.ConnectTimeout):
            return CameraUnreachable(
                f"The camera at {self.base_url} did not accept a connection within "
                f"{self.connect_timeout:g} s. {unreachable_hint(self.base_url)}"
            )
        if isinstance(error, requests.ConnectionError) and _is_connect_failure(error):
            return CameraUnreachable(
                f"Cannot connect to the camera at {self.base_url} ({_reason(error)}). "
                f"{unreachable_hint(self.base_url)}"
            )
        if isinstance(error, requests.Timeout):
            return CameraTimeout(
                f"The camera at {self.base_url} stopped answering {what} "
                f"(no reply within {self.timeout:g} s). Check that it is still on and in range."
            )
        return CameraTimeout(
            f"The connection to the camera at {self.base_url} broke during {what} "
            f"({_reason(error)}). Check that it is still on and in range."
        )

    def _check(self, what: str, url: str, reply: HttpReply) -> None:
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
    size: int | None
    content_type: str
    chunks: Iterator[bytes]


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
