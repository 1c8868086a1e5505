"""Batched UDP reception (recvmmsg), split after a fixed head, over real loopback sockets."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator

import pytest

from camera2mqtt.cameras.wifi import udp


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket, tuple[str, int]]]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.2)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with receiver, sender:
        yield receiver, sender, receiver.getsockname()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="recvmmsg is Linux-only")
def test_linux_uses_batches() -> None:
    assert udp._recvmmsg() is not None


HEAD = 12


@pytest.fixture(params=["recvmmsg", "recv"])
def either_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs a test with batched reception, then with the one-``recv`` fallback."""
    if request.param == "recv":
        monkeypatch.setattr(udp, "_recvmmsg", lambda: None)


def receive(next_batch: Callable[[], udp.DatagramBatch], count: int) -> udp.DatagramBatch:
    """At least ``count`` datagrams, the batches joined into one."""
    heads, bodies = b"", []
    while len(bodies) < count:
        batch = next_batch()
        assert 1 <= len(batch.bodies) <= udp.BATCH
        assert len(batch.heads) == HEAD * len(batch.bodies)
        heads += batch.heads
        bodies += batch.bodies
    return udp.DatagramBatch(heads, bodies)


@pytest.mark.usefixtures("either_way")
def test_datagrams_come_in_order_split_after_the_head_then_the_timeout(
    pair: tuple[socket.socket, socket.socket, tuple[str, int]],
) -> None:
    receiver, sender, address = pair
    sent = [bytes([n % 256]) * (1 + n * 7) for n in range(udp.BATCH * 2 + 5)]
    for datagram in sent:
        sender.sendto(datagram, address)
    next_batch = udp.datagram_source(receiver, 65536, head_size=HEAD)
    received = receive(next_batch, len(sent))
    assert received == udp.split_datagrams(sent, HEAD)
    assert received.bodies[5] == sent[5][HEAD:]
    assert received.heads[5 * HEAD : 6 * HEAD] == sent[5][:HEAD]
    with pytest.raises(TimeoutError):
        next_batch()
    sender.sendto(b"late, and longer than a head", address)
    assert next_batch() == (b"late, and lo", [b"nger than a head"])


@pytest.mark.usefixtures("either_way")
def test_a_datagram_shorter_than_the_head_comes_whole_with_a_zero_head(
    pair: tuple[socket.socket, socket.socket, tuple[str, int]],
) -> None:
    receiver, sender, address = pair
    sent = [b"A" * 20, b"short", b"H" * HEAD, b"", b"B" * 13]
    for datagram in sent:
        sender.sendto(datagram, address)
    received = receive(udp.datagram_source(receiver, 65536, head_size=HEAD), len(sent))
    zero = bytes(HEAD)
    assert received.heads == b"A" * HEAD + zero + b"H" * HEAD + zero + b"B" * HEAD
    assert received.bodies == [b"A" * 8, b"short", b"", b"", b"B"]


def test_an_oversized_datagram_arrives_cut_to_the_slot(
    pair: tuple[socket.socket, socket.socket, tuple[str, int]],
) -> None:
    receiver, sender, address = pair
    sender.sendto(b"x" * (udp.SLOT_BYTES + 100), address)
    sender.sendto(b"next", address)
    received = receive(udp.datagram_source(receiver, udp.SLOT_BYTES, head_size=HEAD), 2)
    assert [len(body) for body in received.bodies] == [udp.SLOT_BYTES - HEAD, 4]
    assert received.heads == b"x" * HEAD + bytes(HEAD)
    assert received.bodies[1] == b"next"


def test_a_closed_socket_raises_oserror(
    pair: tuple[socket.socket, socket.socket, tuple[str, int]],
) -> None:
    receiver, _, _ = pair
    next_batch = udp.datagram_source(receiver, 65536, head_size=HEAD)
    receiver.close()
    with pytest.raises(OSError):
        next_batch()
