"""Can this user write files where they are meant to go? Asked before any work starts.

One check for the daemon's folders (``check-config`` and ``run``) and for the command line's
output paths, so that a wrong path is one sentence up front instead of a traceback after a
transfer. Nothing is created here: an existing folder is probed with a temp file that is
removed at once; for a missing one only its nearest existing parent is looked at.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from camera2mqtt.errors import Camera2MqttError

__all__ = ["OutputPathError", "check_output_file", "check_output_folder", "folder_problem"]


class OutputPathError(Camera2MqttError):
    """A file or folder given for output cannot be written."""


def folder_problem(folder: Path) -> str | None:
    """Why files could not be written into ``folder`` (made with its parents if missing),
    as a phrase; None when they can."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    user = _user_name()
    if existing == folder:
        if not folder.is_dir():
            return f"{folder} exists and is not a folder; give a folder"
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as error:
            return (
                f"the folder {folder} is not writable by {user} ({error.strerror}); "
                "fix its owner or permissions, or choose another folder"
            )
        return None
    if not existing.is_dir():
        return f"{folder} cannot be created: {existing} is not a folder"
    if not _can_create_in(existing):
        return (
            f"{folder} does not exist and {user} cannot create it in {existing}; create it "
            "(and give it to the user that writes there) or choose another folder"
        )
    return None


def check_output_folder(folder: Path) -> Path:
    """``folder`` when files can be written into it (it may still have to be made), else
    :class:`OutputPathError`."""
    problem = folder_problem(folder)
    if problem is not None:
        raise OutputPathError(f"Cannot save there: {problem}.")
    return folder


def check_output_file(path: Path) -> Path:
    """``path`` when a file can be saved there: not a folder, in a folder that exists and
    is writable (it is not made: a typo must not create folders), else OutputPathError."""
    if path.is_dir():
        raise OutputPathError(f"{path} is a folder; give a file name, e.g. {path / 'preview.jpg'}.")
    folder = path.parent
    if not folder.is_dir():
        raise OutputPathError(
            f"Cannot save {path}: the folder {folder} does not exist; create it first or "
            "choose another path."
        )
    problem = folder_problem(folder)
    if problem is not None:
        raise OutputPathError(f"Cannot save {path}: {problem}.")
    return path


def _can_create_in(folder: Path) -> bool:
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        space = os.statvfs(folder)
    except OSError:
        return True  # nothing more to learn; the write itself will tell
    # Read-only mounts, and pseudo file systems such as /proc and /sys (no blocks at all).
    return not (space.f_flag & os.ST_RDONLY) and space.f_blocks > 0


def _user_name() -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(os.geteuid()).pw_name}"
    except (ImportError, KeyError, OSError):
        return "this user"
