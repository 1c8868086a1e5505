"""One GET of a camera file, on a connection of its own.

The camera closes every connection after one reply, so a sync of a thousand small photos is
a thousand connects, requests and reply heads. This module does just that much HTTP/1.1: it
sends the request, reads the status line and headers, and hands over the body as it arrives,
framed by ``Content-Length``, by chunked transfer coding, or by the end of the connection.
For small files it costs a fraction of :mod:`http.client`, whose header parsing goes through
the email package.

Reads wait as the :class:`~camera2mqtt.cameras.wifi.deadline.RequestGuard` says (deadline,
idle timeout, cancel). Failures are ``OSError`` (``TimeoutError`` when a wait ran out) and
:class:`MalformedReply`.
"""

from __future__ import annotations

import socket
from urllib.parse import quote

from camera2mqtt.cameras.wifi.deadline import RequestGuard, guarded_socket

__all__ = ["HEAD_LIMIT", "FileGet", "MalformedReply", "request_bytes"]

HEAD_LIMIT = 64 * 1024
"""The longest reply head (status line and headers) accepted."""
LINE_LIMIT = 4096
"""The longest chunk-size or trailer line accepted."""
RECV_SIZE = 256 * 1024
NO_BODY = frozenset({204, 304})


class MalformedReply(Exception):
    """The reply is not HTTP/1.x as expected; the message says what was wrong."""


def request_bytes(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    """``GET <path> HTTP/1.1`` with ``Host`` (the port only when not 80) and ``headers``."""
    name = f"[{host}]" if ":" in host else host
    lines = [
        f"GET {quote(path, safe='/')} HTTP/1.1",
        f"Host: {name}" if port == 80 else f"Host: {name}:{port}",
        *(f"{key}: {value}" for key, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class FileGet:
    """A GET on a connection of its own: :meth:`connect`, :meth:`send`, then
    :meth:`read_head` reads the reply's status and headers, and :meth:`read1` hands over the
    body until it returns ``b""``, after which :attr:`complete` says whether the body
    arrived whole."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()  # received and not handed over yet
        self._scratch = bytearray(RECV_SIZE)
        self.status = 0
        self.headers: dict[str, str] = {}
        self.complete = False
        self._left: int | None = None  # body bytes still to come; None: until the end
        self._chunked = False
        self._chunk_left = 0

    @classmethod
    def connect(
        cls, address: tuple[int, tuple[object, ...]], *, guard: RequestGuard, timeout: float
    ) -> FileGet:
        """Connect to ``address`` (family, socket address), waiting at most ``timeout`` and
        what is left of the guard's deadline; OSError (TimeoutError when it timed out)."""
        family, sockaddr = address
        left = guard.remaining()
        if left <= 0:
            guard.expired = True
            raise TimeoutError("timed out (deadline)")
        sock = guarded_socket(family, guard)
        try:
            sock.settimeout(min(timeout, left))
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def send(self, request: bytes) -> None:
        """Send the request (:func:`request_bytes`)."""
        self._sock.sendall(request)

    def close(self) -> None:
        self._sock.close()

    # -- the head -----------------------------------------------------------------------

    def read_head(self) -> None:
        """Read the status line and headers (informational 1xx replies are skipped)."""
        while True:
            status, headers = _parse_head(self._head())
            if not 100 <= status < 200:
                break
        self.status, self.headers = status, headers
        if status in NO_BODY:
            self._left = 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise MalformedReply(f"a Content-Length of {length!r}")
            self._left = int(length)

    def _head(self) -> bytes:
        start = 0
        while (end := self._buffer.find(b"\r\n\r\n", start, HEAD_LIMIT + 4)) < 0:
            if len(self._buffer) > HEAD_LIMIT:
                raise MalformedReply(f"a reply head longer than {HEAD_LIMIT} bytes")
            start = max(0, len(self._buffer) - 3)
            if not self._fill():
                when = "in the middle of its reply" if self._buffer else "without a reply"
                raise MalformedReply(f"the camera closed the connection {when}")
        head = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        return head

    # -- the body -----------------------------------------------------------------------

    def read1(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body, as soon as any have arrived; ``b""`` at its
        end."""
        if self._chunked:
            return self._read_chunk(size)
        if self._left == 0:
            self.complete = True
            return b""
        want = size if self._left is None else min(size, self._left)
        if not self._buffer and not self._fill():
            self.complete = self._left is None  # the end of the connection ends the body
            return b""
        data = self._take(want)
        if self._left is not None:
            self._left -= len(data)
        return data

    def read_body(self, limit: int) -> bytes | None:
        """The whole body, or None when it is longer than ``limit`` bytes or cut short."""
        body = bytearray()
        while chunk := self.read1(RECV_SIZE):
            body += chunk
            if len(body) > limit:
                return None
        return bytes(body) if self.complete else None

    def _read_chunk(self, size: int) -> bytes:
        if self.complete:
            return b""
        if self._chunk_left == 0:
            line = self._line()
            if line is None:
                return b""
            digits = line.split(b";", 1)[0].strip()
            try:
                self._chunk_left = int(digits, 16)
            except ValueError:
                raise MalformedReply(f"a chunk size of {digits[:20]!r}") from None
            if self._chunk_left == 0:  # the last chunk; skip the trailer
                while line := self._line():
                    pass
                self.complete = line is not None
                return b""
        if not self._buffer and not self._fill():
            return b""
        data = self._take(min(size, self._chunk_left))
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and self._line() not in (b"", None):
            raise MalformedReply("a chunk longer than its size")
        return data

    # -- buffering ----------------------------------------------------------------------

    def _fill(self) -> bool:
        """Receive what has arrived into the buffer; False at the end of the connection."""
        count = self._sock.recv_into(self._scratch)
        self._buffer += memoryview(self._scratch)[:count]
        return count > 0

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _line(self) -> bytes | None:
        """The next CRLF-terminated line (without it); None at the end of the connection."""
        while (end := self._buffer.find(b"\r\n")) < 0:
            if len(self._buffer) > LINE_LIMIT:
                raise MalformedReply(f"a line longer than {LINE_LIMIT} bytes in a chunked body")
            if not self._fill():
                return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status code and the headers (names lower-cased; repeated ones joined by ", ")."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise MalformedReply(f"a status line of {status_line[:40]!r}")
    headers: dict[str, str] = {}
    name = ""
    for line in lines:
        if line[:1] in (" ", "\t") and name:  # an obsolete folded continuation
            headers[name] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name:
            raise MalformedReply(f"a header line of {line[:40]!r}")
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(code), headers
