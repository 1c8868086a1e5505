"""Receiving UDP datagrams in batches: one ``recvmmsg(2)`` call takes every datagram queued.

A live-view stream is about 900 datagrams a second; receiving them one ``recv`` at a time costs
two system calls each (Python polls before every read on a socket with a timeout). On Linux
:func:`datagram_source` reads up to :data:`BATCH` of them per call instead and falls back to a
plain ``recv`` (which waits up to the socket's timeout) only when nothing is queued. Elsewhere,
or if the C library lacks ``recvmmsg``, each batch is one ``sock.recv``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import socket
import sys
from collections.abc import Callable

__all__ = ["BATCH", "SLOT_BYTES", "datagram_source"]

BATCH = 64
"""Datagrams taken per system call at most."""
SLOT_BYTES = 9216
"""Room per datagram; larger ones (never sent by a camera, whose packets fit an MTU) arrive
cut to this size, which the frame checks then reject."""

_MSG_DONTWAIT = 0x40


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

    def __init__(self, sock: socket.socket, recvmmsg: Callable[..., int]) -> None:
        self._sock = sock
        self._recvmmsg = recvmmsg
        self._buffer = (ctypes.c_char * (BATCH * SLOT_BYTES))()
        self._view = memoryview(self._buffer).cast("B")
        self._iovecs = (_IoVec * BATCH)()
        self._messages = (_MMsgHdr * BATCH)()
        base = ctypes.addressof(self._buffer)
        for index in range(BATCH):
            self._iovecs[index].iov_base = base + index * SLOT_BYTES
            self._iovecs[index].iov_len = SLOT_BYTES
            header = self._messages[index].msg_hdr
            header.msg_iov = ctypes.pointer(self._iovecs[index])
            header.msg_iovlen = 1
        # Where message i's msg_len sits, read as a plain int (no ctypes object per datagram).
        self._words = memoryview(self._messages).cast("B").cast("I")
        stride, offset = ctypes.sizeof(_MMsgHdr), _MMsgHdr.msg_len.offset
        self._length_at = [(index * stride + offset) // 4 for index in range(BATCH)]

    def __call__(self) -> list[bytes]:
        count = self._recvmmsg(self._sock.fileno(), self._messages, BATCH, _MSG_DONTWAIT, None)
        if count <= 0:
            code = ctypes.get_errno()
            if count < 0 and code not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                raise OSError(code, os.strerror(code))
            # Nothing queued: wait for one datagram (bounded by the socket's timeout).
            return [self._sock.recv(SLOT_BYTES)]
        view, words, length_at = self._view, self._words, self._length_at
        return [
            bytes(view[index * SLOT_BYTES : index * SLOT_BYTES + words[length_at[index]]])
            for index in range(count)
        ]


def datagram_source(sock: socket.socket, max_size: int) -> Callable[[], list[bytes]]:
    """A ``next_batch()`` callable reading ``sock``: the datagrams that are queued, at
    least one (waiting up to the socket's timeout, then TimeoutError); batched where the
    platform allows, one ``recv`` per call elsewhere."""
    recvmmsg = _recvmmsg()
    if recvmmsg is None:
        return lambda: [sock.recv(max_size)]
    return _BatchReceiver(sock, recvmmsg)
