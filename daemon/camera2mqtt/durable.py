"""Making a batch of files durable, at the cost of one disk flush rather than one per file.

On a local Linux file system one ``syncfs()`` writes out everything pending on that file
system in a single journal commit, so a batch of small photos costs about what one does.
Elsewhere (FUSE and network file systems, where ``syncfs()`` may leave the data with the
server, or a C library without it) each file is fsynced, several at once, which lets the
file system commit them together. Folders (the links to the placed files) are always
fsynced each: ``syncfs()`` also waits for whatever other programs wrote and did not sync, so
it is used only where the caller does not wait for it.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from camera2mqtt.files import fsync_directory

__all__ = ["FSYNC_WORKERS", "LOCAL_FILE_SYSTEMS", "BatchSync", "file_system_type"]

_T = TypeVar("_T")

FSYNC_WORKERS = 8
"""fsyncs issued at once where each file is synced on its own."""
LOCAL_FILE_SYSTEMS = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "vfat", "exfat", "tmpfs"}
)
"""File systems on which ``syncfs()`` makes every file on them durable."""
MOUNTINFO = Path("/proc/self/mountinfo")

Syncfs = Callable[[int], int]


class BatchSync:
    """Makes batches of files, or of folders, durable; each batch lies on one file system.

    ``file_system_of(path)`` names the file system a path is on ("" when unknown), and
    ``syncfs`` is the C library's ``syncfs`` (None: fsync each file); both are for tests.
    """

    def __init__(
        self,
        *,
        file_system_of: Callable[[Path], str] | None = None,
        syncfs: Syncfs | None = None,
    ) -> None:
        self._file_system_of = file_system_of or file_system_type
        self._syncfs = syncfs if syncfs is not None else _libc_syncfs()
        self._whole: dict[int, bool] = {}  # st_dev: whether syncfs() makes files durable

    def files(self, paths: Sequence[Path]) -> None:
        """Make the files in ``paths`` durable (data and metadata); OSError if one can't be."""
        if paths and not self._synced_whole(paths[0]):
            _all_at_once(_fsync_file, paths)

    def folders(self, paths: Collection[Path]) -> None:
        """Make the entries of the folders in ``paths`` (files linked there) durable: an
        fsync of each, never a ``syncfs()``, which would also wait for whatever other
        programs have written to the file system and not synced."""
        _all_at_once(fsync_directory, paths)

    def _synced_whole(self, path: Path) -> bool:
        """``syncfs()`` of the file system ``path`` is on, where that makes files durable;
        False when each file must be synced instead."""
        if self._syncfs is None:
            return False
        fd = os.open(path, os.O_RDONLY)
        try:
            device = os.fstat(fd).st_dev
            whole = self._whole.get(device)
            if whole is None:
                whole = self._whole[device] = self._file_system_of(path) in LOCAL_FILE_SYSTEMS
            if whole and self._syncfs(fd) != 0:
                error = ctypes.get_errno()
                raise OSError(error, os.strerror(error), str(path))
        finally:
            os.close(fd)
        return whole


def file_system_type(path: Path) -> str:
    """The type of the file system ``path`` is on (``ext4``, ``fuse.sshfs``, ...), from
    ``/proc/self/mountinfo``; "" where that is not known."""
    try:
        device = os.stat(path).st_dev
        lines = MOUNTINFO.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    wanted = f"{os.major(device)}:{os.minor(device)}"
    for line in lines:
        # <id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <type> ...
        fields, _dash, rest = line.partition(" - ")
        parts = fields.split()
        if len(parts) > 2 and parts[2] == wanted and rest:
            return rest.split()[0]
    return ""


def _libc_syncfs() -> Syncfs | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _all_at_once(sync: Callable[[_T], None], items: Collection[_T]) -> None:
    """``sync`` on each item, several at once: concurrent fsyncs share journal commits."""
    if len(items) <= 1:
        for item in items:
            sync(item)
        return
    with ThreadPoolExecutor(min(FSYNC_WORKERS, len(items)), thread_name_prefix="fsync") as pool:
        list(pool.map(sync, items))  # re-raises the first failure
