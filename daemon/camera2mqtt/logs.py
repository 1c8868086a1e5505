"""Logging set-up shared by the CLI and the daemon.

Under systemd (stderr connected to the journal) lines carry ``<N>`` syslog priorities and no
timestamp, because journald adds its own; elsewhere they carry a normal timestamp.
"""

import logging
import os
import sys

__all__ = ["configure_logging", "running_under_journal"]

# syslog priorities as journald reads them from a "<N>" line prefix (sd-daemon(3)).
_JOURNAL_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _JOURNAL_PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def running_under_journal() -> bool:
    """True when stderr is the journal stream systemd gave us (systemd.exec(5), $JOURNAL_STREAM)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    if not device or not inode:
        return False
    try:
        stat = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return f"{stat.st_dev}:{stat.st_ino}" == f"{device}:{inode}"


def configure_logging(level: str | int = "INFO") -> None:
    """Send log records to stderr in the format that suits where we run."""
    handler = logging.StreamHandler(sys.stderr)
    if running_under_journal():
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if isinstance(level, int) else level.upper())
