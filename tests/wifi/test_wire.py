"""What the HTTP client puts on the wire, seen by a bare socket server on 127.0.0.1.

The simulator logs paths only; this server keeps the whole request and answers with canned
bytes, so headers, option order, reads to EOF and file bodies in every framing (length,
chunked, to EOF, cut short, stalled) can be checked byte for byte.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from camera2mqtt.cameras.base import (
    CameraBusy,
    CameraTimeout,
    CameraUnreachable,
    CommandRejected,
    TransferError,
    WrongMode,
)
from camera2mqtt.cameras.wifi.client import USER_AGENT, RequestCancelled, WifiClient
from camera2mqtt.sim.wifi.hostile import FILE, FOLDER, PHOTO, PHOTO_NAME, Attack, HostileCamera

WAIT = 10.0
PROMPTLY = 2.0
"""Seconds within which a cancelled read must end (it looks every CANCEL_POLL = 0.1 s); far
less than WAIT, the read timeout of these tests."""


class CannedServer:
    """Answers each connection with the next canned reply, then closes it (``stall``: keeps
    it open, sending nothing more, until the server is closed)."""

    def __init__(self, replies: list[bytes], *, stall: bool = False) -> None:
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self._stall = stall
        self._closing = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(WAIT)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        for reply in self.replies:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(WAIT)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(body) < length:
                    body += connection.recv(4096)
                self.requests.append(head + b"\r\n\r\n" + body)
                connection.sendall(reply)
                if self._stall:
                    self._closing.wait(WAIT)

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        self._thread.join(WAIT)


@pytest.fixture
def canned(request) -> Iterator[CannedServer]:
    server = CannedServer(request.param)
    yield server
    server.close()


def _headers(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head)}


IMGLIST_NO_LENGTH = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    b"VER_100\r\n/DCIM,100OLYMP,0,16,19623,28007\r\n" + b"/DCIM/100OLYMP,P1.JPG,1,0,1,1\r\n" * 500
)


@pytest.mark.parametrize("canned", [[IMGLIST_NO_LENGTH]], indirect=True)
def test_headers_option_order_and_body_to_eof(canned):
    client = WifiClient("127.0.0.1", canned.port, timeout=WAIT)
    reply = client.command("get_imglist", [("DIR", "/DCIM/100OLYMP"), ("z", "+0100")])
    client.close()
    (request,) = canned.requests
    assert request.startswith(b"GET /get_imglist.cgi?DIR=/DCIM/100OLYMP&z=%2B0100 HTTP/1.1\r\n")
    headers = _headers(request)
    assert headers["user-agent"] == USER_AGENT == "OI.Share v2"
    assert headers["host"] == f"127.0.0.1:{canned.port}"
    assert reply.body == IMGLIST_NO_LENGTH.split(b"\r\n\r\n", 1)[1]


def test_host_header_for_the_default_port():
    # Port 80 is left out of the URL, so Host is the bare address cameras expect.
    client = WifiClient()
    assert client.command_url("get_caminfo") == "http://192.168.0.10/get_caminfo.cgi"
    client.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("canned", [[OK]], indirect=True)
def test_post_has_a_length_and_xml_body(canned):
    client = WifiClient("127.0.0.1", canned.port, timeout=WAIT)
    body = b'<?xml version="1.0"?><set><value>400</value></set>'
    client.command(
        "set_camprop", [("com", "set"), ("propname", "isospeedvalue")], method="post", body=body
    )
    client.close()
    (request,) = canned.requests
    assert request.startswith(b"POST /set_camprop.cgi?com=set&propname=isospeedvalue HTTP/1.1")
    headers = _headers(request)
    assert headers["content-length"] == str(len(body))
    assert headers["content-type"] == "text/xml"
    assert request.endswith(body)


WRONG_MODE = (
    b"HTTP/1.1 520 Vendor Internal Error\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n"
    b'<?xml version="1.0"?><response><errorcode>1001</errorcode>'
    b"<errormsg>WIFI_INTERNAL_ERROR</errormsg><dbgmsg>reserved</dbgmsg></response>"
)
OTHER_520 = WRONG_MODE.replace(b"1001", b"1004")
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
POWER_OFF = b"HTTP/1.1 202 Accepted\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("canned", [[WRONG_MODE, OTHER_520, BUSY, POWER_OFF]], indirect=True)
def test_status_codes(canned):
    client = WifiClient("127.0.0.1", canned.port, timeout=WAIT)
    with pytest.raises(WrongMode, match="wrong mode"):
        client.command("get_camprop", [("com", "get"), ("propname", "takemode")])
    with pytest.raises(CommandRejected, match="errorcode 1004") as caught:
        client.command("get_camprop")
    assert (caught.value.status, caught.value.code) == (520, "1004")
    with pytest.raises(CameraBusy):
        client.command("exec_shutter", [("com", "1st2ndpush")], idempotent=False)
    assert client.command("exec_pwoff").status == 202
    client.close()
    assert len(canned.requests) == 4  # nothing was retried


# -- file bodies (http.client) ----------------------------------------------------------------

PATH = "/DCIM/100OLYMP/P1010001.JPG"
DATA = bytes(range(256)) * 8
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nConnection: close\r\n"
WITH_LENGTH = HEAD + b"Content-Length: %d\r\n\r\n" % len(DATA) + DATA
TO_EOF = HEAD + b"\r\n" + DATA
CHUNKED = (
    HEAD
    + b"Transfer-Encoding: chunked\r\n\r\n"
    + b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (DATA[:100], DATA[100:]))
    + b"0\r\n\r\n"
)
CUT_AT = 300
CUT_LENGTH = WITH_LENGTH[: len(WITH_LENGTH) - len(DATA) + CUT_AT]
CUT_CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(DATA) + DATA[:CUT_AT]


def _open(client: WifiClient, **options: float) -> None:
    with client.stream(PATH, **options):
        pytest.fail("the stream opened")


def _read(stream_chunks: Iterator[bytes], received: bytearray) -> None:
    for chunk in stream_chunks:
        received += chunk


@pytest.mark.parametrize(
    ("canned", "size"),
    [([WITH_LENGTH], len(DATA)), ([TO_EOF], None), ([CHUNKED], None)],
    indirect=["canned"],
    ids=["content-length", "to-eof", "chunked"],
)
def test_a_file_body_is_read_whole_in_any_framing(canned, size):
    client = WifiClient("127.0.0.1", canned.port, timeout=WAIT)
    with client.stream(PATH) as stream:
        assert (stream.status, stream.size, stream.content_type) == (200, size, "image/jpeg")
        assert b"".join(stream.chunks) == DATA


@pytest.mark.parametrize("canned", [[WITH_LENGTH, WITH_LENGTH]], indirect=True)
def test_a_file_request_sends_the_camera_headers_and_range(canned):
    client = WifiClient("127.0.0.1", canned.port, timeout=WAIT)
    for offset in (0, 100):
        with client.stream("/DCIM/100OLYMP/P 1.JPG", offset=offset) as stream:
            b"".join(stream.chunks)
    whole, rest = canned.requests
    assert whole.startswith(b"GET /DCIM/100OLYMP/P%201.JPG HTTP/1.1\r\n")
    headers = {
        "host": f"127.0.0.1:{canned.port}",
        "user-agent": USER_AGENT,
        "accept-encoding": "identity",
        "connection": "close",
    }
    assert _headers(whole) == headers
    assert _headers(rest) == {**headers, "range": "bytes=100-"}


@pytest.mark.parametrize(
    "canned", [[CUT_LENGTH], [CUT_CHUNKED]], indirect=True, ids=["content-length", "chunked"]
)
def test_a_body_cut_short_fails_after_handing_over_what_arrived(canned):
    client = WifiClient("127.0.0.1", canned.port, timeout=WAIT)
    received = bytearray()
    with pytest.raises(TransferError) as caught, client.stream(PATH) as stream:
        _read(stream.chunks, received)
    assert type(caught.value) is TransferError
    assert f"The camera stopped sending {PATH} (the reply was cut short)" in str(caught.value)
    assert bytes(received) == DATA[:CUT_AT]


@pytest.mark.parametrize("canned", [[b""]], indirect=True)
def test_a_connection_closed_before_the_reply_is_a_timeout(canned):
    client = WifiClient("127.0.0.1", canned.port, timeout=WAIT, retries=0)
    with pytest.raises(CameraTimeout, match="closed the connection without a reply"):
        _open(client)


def test_a_refused_connection_is_unreachable():
    with socket.create_server(("127.0.0.1", 0)) as spare:
        port = spare.getsockname()[1]  # nothing listens there once closed
    client = WifiClient("127.0.0.1", port, timeout=WAIT, retries=0)
    with pytest.raises(CameraUnreachable, match=r"\(connection refused\)\. Check that"):
        _open(client)


def test_no_connection_is_opened_past_the_deadline():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = WifiClient("127.0.0.1", listener.getsockname()[1], timeout=WAIT)
        with pytest.raises(CameraTimeout, match="within its deadline"):
            _open(client, deadline=0)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # no connection is waiting


@pytest.fixture
def stalled() -> Iterator[CannedServer]:
    """Sends the headers and the first CUT_AT bytes of a body, then nothing."""
    server = CannedServer([CUT_LENGTH], stall=True)
    yield server
    server.close()


def _cancel_when(start: threading.Event, cancel: threading.Event) -> threading.Thread:
    """A thread that sets ``cancel`` as soon as ``start`` is set."""
    thread = threading.Thread(target=lambda: start.wait(WAIT) and cancel.set(), daemon=True)
    thread.start()
    return thread


def test_cancel_ends_a_read_waiting_for_data_promptly(stalled):
    client = WifiClient("127.0.0.1", stalled.port, timeout=WAIT)
    cancel, reading = threading.Event(), threading.Event()
    canceller = _cancel_when(reading, cancel)
    received = bytearray()
    with (
        pytest.raises(RequestCancelled, match="was cancelled"),
        client.stream(PATH, cancel=cancel) as stream,
    ):
        while len(received) < CUT_AT:
            received += next(stream.chunks)
        reading.set()
        started = time.monotonic()
        _read(stream.chunks, received)  # waits for data that never comes
    assert time.monotonic() - started < PROMPTLY
    assert bytes(received) == DATA[:CUT_AT]
    canceller.join(WAIT)


def test_cancel_during_a_trickled_body_ends_it_promptly():
    with HostileCamera(trickle_interval=0.002) as hostile:
        hostile.attack(FILE, Attack.TRICKLE)  # the whole reply a byte at a time
        client = WifiClient("127.0.0.1", hostile.port, timeout=WAIT)
        cancel, started = threading.Event(), threading.Event()
        canceller = _cancel_when(started, cancel)
        received = bytearray()
        with (
            pytest.raises(RequestCancelled, match="was cancelled"),
            client.stream(f"{FOLDER}/{PHOTO_NAME}", cancel=cancel) as stream,
        ):
            for chunk in stream.chunks:
                received += chunk
                if not started.is_set():
                    started.set()
                    began = time.monotonic()
        assert time.monotonic() - began < PROMPTLY
        assert PHOTO.startswith(received) and 0 < len(received) < len(PHOTO)
        canceller.join(WAIT)
