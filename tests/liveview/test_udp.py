"""Batched UDP reception (recvmmsg) over real loopback sockets."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

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


@pytest.mark.parametrize("batched", [True, False], ids=["recvmmsg", "recv"])
def test_datagrams_come_in_order_then_the_timeout(
    pair: tuple[socket.socket, socket.socket, tuple[str, int]],
    batched: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver, sender, address = pair
    if not batched:
        monkeypatch.setattr(udp, "_recvmmsg", lambda: None)
    sent = [bytes([n % 256]) * (1 + n * 7) for n in range(udp.BATCH * 2 + 5)]
    for datagram in sent:
        sender.sendto(datagram, address)
    next_batch = udp.datagram_source(receiver, 65536)
    received: list[bytes] = []
    while len(received) < len(sent):
        batch = next_batch()
        assert 1 <= len(batch) <= udp.BATCH
        received += batch
    assert received == sent
    with pytest.raises(TimeoutError):
        next_batch()
    sender.sendto(b"late", address)
    assert next_batch() == [b"late"]


def test_an_oversized_datagram_arrives_cut_to_the_slot(
    pair: tuple[socket.socket, socket.socket, tuple[str, int]],
) -> None:
    receiver, sender, address = pair
    sender.sendto(b"x" * (udp.SLOT_BYTES + 100), address)
    sender.sendto(b"next", address)
    next_batch = udp.datagram_source(receiver, udp.SLOT_BYTES)
    received = next_batch()
    if len(received) == 1:  # recv took only the first
        received += next_batch()
    assert [len(d) for d in received] == [udp.SLOT_BYTES, 4]
    assert received[1] == b"next"


def test_a_closed_socket_raises_oserror(
    pair: tuple[socket.socket, socket.socket, tuple[str, int]],
) -> None:
    receiver, _, _ = pair
    next_batch = udp.datagram_source(receiver, 65536)
    receiver.close()
    with pytest.raises(OSError):
        next_batch()
