"""The file GET reader on a real socket: heads and bodies as cameras and emulations send them."""

from __future__ import annotations

import socket
import threading

import pytest

from camera2mqtt.cameras.wifi.fileget import HEAD_LIMIT, FileGet, MalformedReply, request_bytes


def reply_to(raw: bytes) -> FileGet:
    """A FileGet reading ``raw`` from a socket whose other end sends it, then closes."""
    ours, theirs = socket.socketpair()
    ours.settimeout(10)

    def send() -> None:
        with theirs:
            theirs.sendall(raw)

    threading.Thread(target=send, daemon=True).start()
    return FileGet(ours)


def body_of(reply: FileGet) -> bytes:
    body = b""
    while chunk := reply.read1(7):  # small reads cross every boundary
        body += chunk
    return body


def test_informational_replies_are_skipped_and_headers_read():
    reply = reply_to(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nX-Note: one\r\n two\r\n"
        b"Set-Thing: a\r\nset-thing: b\r\nContent-Length: 5\r\n\r\nhello and more"
    )
    reply.read_head()
    assert reply.status == 200
    assert reply.headers["content-type"] == "image/jpeg"
    assert reply.headers["x-note"] == "one two"
    assert reply.headers["set-thing"] == "a, b"
    assert body_of(reply) == b"hello" and reply.complete


def test_chunked_body_with_extensions_and_trailer():
    reply = reply_to(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 999\r\n\r\n"
        b"5;name=value\r\nhello\r\n0A\r\n, chunked!\r\n0\r\nX-Trailer: yes\r\n\r\n"
    )
    reply.read_head()
    assert body_of(reply) == b"hello, chunked!" and reply.complete


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
    ],
    ids=["mid-chunk", "before-last-chunk", "content-length"],
)
def test_a_cut_body_is_not_complete(raw):
    reply = reply_to(raw)
    reply.read_head()
    body_of(reply)
    assert not reply.complete


def test_a_body_to_the_end_of_the_connection_is_complete():
    reply = reply_to(b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * 100_000)
    reply.read_head()
    assert body_of(reply) == b"z" * 100_000 and reply.complete


def test_no_body_for_204_and_read_body_limits():
    reply = reply_to(b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc")
    reply.read_head()
    assert reply.read1(10) == b"" and reply.complete
    long = reply_to(b"HTTP/1.1 404 Not Found\r\nContent-Length: 100\r\n\r\n" + b"e" * 100)
    long.read_head()
    assert long.read_body(50) is None
    short = reply_to(b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnot")
    short.read_head()
    assert short.read_body(50) == b"not"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"ICY 200 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 4, 5\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * HEAD_LIMIT + b"\r\n\r\n", "longer than"),
        (b"", "without a reply"),
        (b"HTTP/1.1 200 OK\r\nContent-", "in the middle of its reply"),
    ],
)
def test_malformed_heads_are_refused_with_what_was_wrong(raw, words):
    reply = reply_to(raw)
    with pytest.raises(MalformedReply, match=words):
        reply.read_head()


def test_a_bad_chunk_size_is_refused():
    reply = reply_to(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n")
    reply.read_head()
    with pytest.raises(MalformedReply, match="chunk size"):
        reply.read1(10)


def test_request_bytes():
    request = request_bytes("192.168.0.10", 80, "/DCIM/100OLYMP/P 1.JPG", {"Range": "bytes=5-"})
    assert request == (
        b"GET /DCIM/100OLYMP/P%201.JPG HTTP/1.1\r\nHost: 192.168.0.10\r\nRange: bytes=5-\r\n\r\n"
    )
    assert b"Host: [::1]:8080\r\n" in request_bytes("::1", 8080, "/x", {})
