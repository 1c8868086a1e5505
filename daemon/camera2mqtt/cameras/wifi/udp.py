"""Receiving UDP datagrams in batches, each split into a fixed-size head and the rest.

A live-view stream is about 900 datagrams a second; receiving them one ``recv`` at a time costs
two system calls each (Python polls before every read on a socket with a timeout). On Linux
:func:`datagram_source` reads up to :data:`BATCH` of them per call instead and falls back to a
plain ``recv`` (which waits up to the socket's timeout) only when nothing is queued. Elsewhere,
or if the C library lacks ``recvmmsg``, each batch is one ``sock.recv``.

The kernel writes each datagram's first ``head_size`` bytes (an RTP header) next to the
previous one's, so a caller unpacks every head of a batch with one ``struct.iter_unpack``
and gets each body without a second copy.

Given a ``source`` address, the receiver drops every datagram from another address, so that
nobody else on the network can inject packets; :func:`accept_only` asks the kernel to do the
same, and :func:`local_address_towards` names the local address to bind to.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import socket
import sys
from collections.abc import Callable, Iterable
from typing import NamedTuple

__all__ = [
    "BATCH",
    "SLOT_BYTES",
    "DatagramBatch",
    "accept_only",
    "datagram_source",
    "local_address_towards",
    "split_datagrams",
]

BATCH = 64
"""Datagrams taken per system call at most."""
SLOT_BYTES = 9216
"""Room per datagram; larger ones (never sent by a camera, whose packets fit an MTU) arrive
cut to this size, which the frame checks then reject."""

_MSG_DONTWAIT = 0x40
ANY_ADDRESS = "0.0.0.0"
_SOCKADDR_IN = 16
"""Bytes of an IPv4 socket address; its address sits at bytes 4..8."""
_ROUTE_PROBE_PORT = 9
"""Any port will do: connecting a UDP socket only looks up the route, nothing is sent."""


def local_address_towards(host: str) -> str:
    """The local IPv4 address the routing table uses to reach ``host`` (no packet is sent);
    ``0.0.0.0`` (every interface) when there is no route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((host, _ROUTE_PROBE_PORT))
            address: str = probe.getsockname()[0]
        except OSError:
            return ANY_ADDRESS
    return address


def accept_only(sock: socket.socket, address: str) -> bool:
    """Have the kernel drop datagrams to ``sock`` from any other address than ``address``
    (from any port: Linux takes port 0 as a wildcard). False where that is not possible;
    the receiver's own check (``datagram_source(source=...)``) still applies."""
    try:
        sock.connect((address, 0))
    except OSError:
        return False
    return True


class DatagramBatch(NamedTuple):
    """Datagrams received together, each split after its first ``head_size`` bytes."""

    heads: bytes
    """``head_size`` bytes per datagram, back to back. A datagram shorter than that has a
    head of zero bytes here and comes whole as its body."""
    bodies: list[bytes]
    """The rest of each datagram, in the order received."""


def split_datagrams(datagrams: Iterable[bytes], head_size: int) -> DatagramBatch:
    """The batch of ``datagrams`` as the receiver would have split them."""
    zero = bytes(head_size)
    heads: list[bytes] = []
    bodies: list[bytes] = []
    for datagram in datagrams:
        whole = len(datagram) >= head_size
        heads.append(datagram[:head_size] if whole else zero)
        bodies.append(datagram[head_size:] if whole else bytes(datagram))
    return DatagramBatch(b"".join(heads), bodies)


class _IoVec(ctypes.Structure):
    _fields_ = (("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t))


class _MsgHdr(ctypes.Structure):
    _fields_ = (
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint),
        ("msg_iov", ctypes.POINTER(_IoVec)),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    )


class _MMsgHdr(ctypes.Structure):
    _fields_ = (("msg_hdr", _MsgHdr), ("msg_len", ctypes.c_uint))


def _load_recvmmsg() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.recvmmsg
    except (OSError, AttributeError):
        return None
    function.argtypes = (
        ctypes.c_int,
        ctypes.POINTER(_MMsgHdr),
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_void_p,
    )
    function.restype = ctypes.c_int
    return function


@functools.cache
def _recvmmsg() -> Callable[..., int] | None:
    return _load_recvmmsg()


class _BatchReceiver:
    """``next_batch()`` for one socket: every datagram queued, up to :data:`BATCH`, in order."""

    def __init__(
        self,
        sock: socket.socket,
        recvmmsg: Callable[..., int],
        head_size: int,
        source: bytes | None = None,
    ) -> None:
        self._sock = sock
        self._source = source
        self._recvmmsg = recvmmsg
        self._head_size = head_size
        body_size = SLOT_BYTES - head_size
        self._heads = (ctypes.c_char * (BATCH * head_size))()
        self._bodies = (ctypes.c_char * (BATCH * body_size))()
        self._head_view = memoryview(self._heads).cast("B")
        self._body_view = memoryview(self._bodies).cast("B")
        # Two pieces per datagram: its head into the heads block, the rest into its body slot.
        self._iovecs = (_IoVec * (2 * BATCH))()
        self._messages = (_MMsgHdr * BATCH)()
        heads, bodies = ctypes.addressof(self._heads), ctypes.addressof(self._bodies)
        for index in range(BATCH):
            head, body = self._iovecs[2 * index], self._iovecs[2 * index + 1]
            head.iov_base, head.iov_len = heads + index * head_size, head_size
            body.iov_base, body.iov_len = bodies + index * body_size, body_size
            message = self._messages[index].msg_hdr
            message.msg_iov = ctypes.pointer(self._iovecs[2 * index])
            message.msg_iovlen = 2
        if source is not None:
            # Where each sender's address goes (IPv4 only: the kernel writes 16 bytes, so
            # msg_namelen keeps its value from call to call).
            self._names = (ctypes.c_char * (BATCH * _SOCKADDR_IN))()
            self._names_view = memoryview(self._names).cast("B")
            names = ctypes.addressof(self._names)
            for index in range(BATCH):
                message = self._messages[index].msg_hdr
                message.msg_name = names + index * _SOCKADDR_IN
                message.msg_namelen = _SOCKADDR_IN
        self._body_starts = [index * body_size for index in range(BATCH)]
        # Where message i's msg_len sits, read as a plain int (no ctypes object per datagram).
        self._words = memoryview(self._messages).cast("B").cast("I")
        stride, offset = ctypes.sizeof(_MMsgHdr), _MMsgHdr.msg_len.offset
        self._length_at = [(index * stride + offset) // 4 for index in range(BATCH)]

    def __call__(self) -> DatagramBatch:
        count = self._recvmmsg(self._sock.fileno(), self._messages, BATCH, _MSG_DONTWAIT, None)
        if count <= 0:
            code = ctypes.get_errno()
            if count < 0 and code not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                raise OSError(code, os.strerror(code))
            # Nothing queued: wait for one datagram (bounded by the socket's timeout).
            if self._source is None:
                return split_datagrams((self._sock.recv(SLOT_BYTES),), self._head_size)
            return _from_source(self._sock, SLOT_BYTES, self._head_size, self._source)
        head_size, view, words = self._head_size, self._body_view, self._words
        lengths = self._length_at[:count]
        bodies = [
            bytes(view[start : start + words[at] - head_size])
            for start, at in zip(self._body_starts[:count], lengths, strict=True)
        ]
        heads = self._head_view[: count * head_size].tobytes()
        if b"" in bodies:  # a datagram of no more than a head (rare): look at its length
            heads = self._mark_short(heads, bodies, [words[at] for at in lengths])
        if self._source is not None:
            return self._from_source(heads, bodies, count)
        return DatagramBatch(heads, bodies)

    def _from_source(self, heads: bytes, bodies: list[bytes], count: int) -> DatagramBatch:
        """The batch without the datagrams another address sent."""
        names, source = self._names_view, self._source
        first = names[:_SOCKADDR_IN].tobytes()
        if first[4:8] == source and names[: count * _SOCKADDR_IN] == first * count:
            return DatagramBatch(heads, bodies)  # all from one port of the camera's address
        foreign = [
            index
            for index in range(count)
            if names[index * _SOCKADDR_IN + 4 : index * _SOCKADDR_IN + 8] != source
        ]
        if not foreign:
            return DatagramBatch(heads, bodies)
        size = self._head_size
        drop = set(foreign)
        kept = [index for index in range(count) if index not in drop]
        return DatagramBatch(
            b"".join(heads[index * size : (index + 1) * size] for index in kept),
            [bodies[index] for index in kept],
        )

    def _mark_short(self, heads: bytes, bodies: list[bytes], lengths: list[int]) -> bytes:
        """Zero the heads of datagrams shorter than a head; their bytes become the body."""
        size = self._head_size
        marked = bytearray(heads)
        for index, length in enumerate(lengths):
            if length < size:
                bodies[index] = bytes(marked[index * size : index * size + length])
                marked[index * size : (index + 1) * size] = bytes(size)
        return bytes(marked)


def _from_source(
    sock: socket.socket, max_size: int, head_size: int, source: bytes
) -> DatagramBatch:
    """One datagram from ``source``; an empty batch when another address sent it."""
    data, (address, _port) = sock.recvfrom(max_size)
    if socket.inet_aton(address) != source:
        return DatagramBatch(b"", [])
    return split_datagrams((data,), head_size)


def datagram_source(
    sock: socket.socket, max_size: int, *, head_size: int, source: str | None = None
) -> Callable[[], DatagramBatch]:
    """A ``next_batch()`` callable reading ``sock``: the datagrams that are queued, at
    least one (waiting up to the socket's timeout, then TimeoutError), split after
    ``head_size`` bytes; batched where the platform allows, one ``recv`` per call elsewhere.

    With ``source`` (an IPv4 address of an AF_INET socket), datagrams from any other address
    are dropped; a batch may then be empty."""
    packed = None if source is None else socket.inet_aton(source)
    recvmmsg = _recvmmsg()
    if recvmmsg is None:
        if packed is not None:
            return lambda: _from_source(sock, max_size, head_size, packed)
        return lambda: split_datagrams((sock.recv(max_size),), head_size)
    return _BatchReceiver(sock, recvmmsg, head_size, packed)
