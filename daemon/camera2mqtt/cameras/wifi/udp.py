"""Receiving UDP datagrams in batches, each split into a fixed-size head and the rest.

A live-view stream is about 900 datagrams a second; receiving them one ``recv`` at a time costs
two system calls each (Python polls before every read on a socket with a timeout). On Linux
:func:`datagram_source` reads up to :data:`BATCH` of them per call instead and falls back to a
plain ``recv`` (which waits up to the socket's timeout) only when nothing is queued. Elsewhere,
or if the C library lacks ``recvmmsg``, each batch is one ``sock.recv``.

The kernel writes each datagram's first ``head_size`` bytes (an RTP header) next to the
previous one's, so a caller unpacks every head of a batch with one ``struct.iter_unpack``
and gets each body without a second copy.
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

__all__ = ["BATCH", "SLOT_BYTES", "DatagramBatch", "datagram_source", "split_datagrams"]

BATCH = 64
"""Datagrams taken per system call at most."""
SLOT_BYTES = 9216
"""Room per datagram; larger ones (never sent by a camera, whose packets fit an MTU) arrive
cut to this size, which the frame checks then reject."""

_MSG_DONTWAIT = 0x40


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

    def __init__(self, sock: socket.socket, recvmmsg: Callable[..., int], head_size: int) -> None:
        self._sock = sock
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
            return split_datagrams((self._sock.recv(SLOT_BYTES),), self._head_size)
        head_size, view, words = self._head_size, self._body_view, self._words
        lengths = self._length_at[:count]
        bodies = [
            bytes(view[start : start + words[at] - head_size])
            for start, at in zip(self._body_starts[:count], lengths, strict=True)
        ]
        heads = self._head_view[: count * head_size].tobytes()
        if b"" in bodies:  # a datagram of no more than a head (rare): look at its length
            heads = self._mark_short(heads, bodies, [words[at] for at in lengths])
        return DatagramBatch(heads, bodies)

    def _mark_short(self, heads: bytes, bodies: list[bytes], lengths: list[int]) -> bytes:
        """Zero the heads of datagrams shorter than a head; their bytes become the body."""
        size = self._head_size
        marked = bytearray(heads)
        for index, length in enumerate(lengths):
            if length < size:
                bodies[index] = bytes(marked[index * size : index * size + length])
                marked[index * size : (index + 1) * size] = bytes(size)
        return bytes(marked)


def datagram_source(
    sock: socket.socket, max_size: int, *, head_size: int
) -> Callable[[], DatagramBatch]:
    """A ``next_batch()`` callable reading ``sock``: the datagrams that are queued, at
    least one (waiting up to the socket's timeout, then TimeoutError), split after
    ``head_size`` bytes; batched where the platform allows, one ``recv`` per call elsewhere."""
    recvmmsg = _recvmmsg()
    if recvmmsg is None:
        return lambda: split_datagrams((sock.recv(max_size),), head_size)
    return _BatchReceiver(sock, recvmmsg, head_size)
