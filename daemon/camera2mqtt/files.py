"""Writing camera files to disk so that a final path only ever holds a complete file.

Both drivers download through :func:`write_atomically`: the bytes go to a hidden temp file in
the destination folder, the size is checked against what the camera announced, the data is
fsynced, the temp file is renamed over the final name and its mtime set to the camera's
timestamp. A transfer that fails or is cancelled removes the temp file and leaves nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from camera2mqtt.cameras.base import ProgressCallback, TransferError, UnsafeFilename

__all__ = [
    "TEMP_PREFIX",
    "NotEnoughSpace",
    "check_free_space",
    "fsync_directory",
    "safe_destination",
    "write_atomically",
]

TEMP_PREFIX = ".camera2mqtt-partial-"
FILE_MODE = 0o666
"""Permissions of a finished file before the umask, as for any file a program creates
(mkstemp's temp files start at 0600)."""


class NotEnoughSpace(TransferError):
    """A download would not fit in the destination's free space (less the reserve)."""


def check_free_space(dest_dir: Path, size: int, *, reserve: int = 0) -> None:
    """Raise :class:`NotEnoughSpace` unless ``size`` bytes fit in ``dest_dir`` with
    ``reserve`` bytes left over. ``dest_dir`` must exist."""
    free = shutil.disk_usage(dest_dir).free
    if size > free - reserve:
        raise NotEnoughSpace(
            f"Not enough space in {dest_dir} for a file of {size} bytes: {free} bytes are "
            f"free and {reserve} are to be kept free (keep_free_mb). Free some space and "
            "run the download again."
        )


def safe_destination(dest_dir: Path, name: str) -> Path:
    """The path ``dest_dir/name``, refusing names that could leave ``dest_dir``."""
    if (
        not name
        or name in {".", ".."}
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or name.startswith(TEMP_PREFIX)
    ):
        raise UnsafeFilename(f"Refusing the camera file name {name!r}: it could escape {dest_dir}.")
    return dest_dir / name


def write_atomically(
    dest_dir: Path,
    name: str,
    chunks: Iterable[bytes],
    *,
    expected_size: int | None,
    mtime: datetime | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """Write ``chunks`` to ``dest_dir/name`` all-or-nothing and return the final path.

    Raises :class:`TransferError` when the byte count differs from ``expected_size`` or the
    transfer is cancelled; any exception from ``chunks`` propagates. In every failure case
    the temp file is removed and an existing file at the final path is left untouched.
    """
    final = safe_destination(dest_dir, name)
    dest_dir.mkdir(parents=True, exist_ok=True)
    if expected_size is not None:
        check_free_space(dest_dir, expected_size)
    fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=dest_dir)
    temp = Path(temp_name)
    try:
        written = 0
        total = expected_size if expected_size is not None else 0
        os.fchmod(fd, FILE_MODE & ~_umask())
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    raise TransferError(f"Download of {name} was cancelled.")
                out.write(chunk)
                written += len(chunk)
                if expected_size is not None and written > expected_size:
                    raise TransferError(
                        f"{name}: the camera sent more than the {expected_size} bytes it announced."
                    )
                if progress is not None:
                    progress(written, total)
            if expected_size is not None and written != expected_size:
                raise TransferError(
                    f"{name}: got {written} of {expected_size} bytes; the transfer was cut "
                    "short. Run the download again to fetch it."
                )
            out.flush()
            os.fsync(out.fileno())
        if mtime is not None:
            stamp = mtime.timestamp()
            os.utime(temp, (stamp, stamp))
        os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    fsync_directory(dest_dir)
    return final


def _umask() -> int:
    """The process umask, read without changing it (os.umask would race other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def fsync_directory(path: Path) -> None:
    """Make the rename itself durable (POSIX); ignored where directories can't be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
