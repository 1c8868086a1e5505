"""What the HTTP client puts on the wire, seen by a bare socket server on 127.0.0.1.

The simulator logs paths only; this server keeps the whole request and answers with canned
bytes, so headers, option order and reads to EOF can be checked byte for byte.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from camera2mqtt.cameras.base import CameraBusy, CommandRejected, WrongMode
from camera2mqtt.cameras.wifi.client import USER_AGENT, WifiClient

WAIT = 10.0


class CannedServer:
    """Answers each connection with the next canned reply, then closes it."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = list(replies)
        self.requests: list[bytes] = []
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

    def close(self) -> None:
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
