"""Tell systemd how the service is doing: the ``sd_notify`` datagram protocol, no dependency.

systemd passes ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace) to a
``Type=notify`` service; each notification is one datagram of ``KEY=value`` lines
(sd_notify(3)). Outside systemd every call here is a silent no-op, and a failing socket is
logged, never raised: the daemon must not die because the service manager went away.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["notify", "notify_socket_address", "watchdog_interval"]

log = logging.getLogger(__name__)

_SEND_TIMEOUT = 2.0  # seconds; a datagram to a local socket normally goes out at once


def notify_socket_address(environ: Mapping[str, str] | None = None) -> str | bytes | None:
    """The address to send to, or None when not running under a notify-aware manager."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        # Abstract namespace: a leading NUL byte instead of '@' (unix(7)).
        return b"\0" + address[1:].encode()
    if address.startswith("/"):
        return address
    if address:
        log.debug("ignoring NOTIFY_SOCKET=%r: not an absolute path or @abstract name", address)
    return None


def notify(
    *,
    ready: bool = False,
    status: str | None = None,
    watchdog: bool = False,
    stopping: bool = False,
    environ: Mapping[str, str] | None = None,
) -> bool:
    """Send the given assignments in one datagram; True if one was sent.

    ``ready`` once start-up is complete (READY=1), ``status`` a one-line text for
    ``systemctl status`` (STATUS=), ``watchdog`` a keep-alive (WATCHDOG=1), ``stopping`` at the
    start of a clean shutdown (STOPPING=1).
    """
    address = notify_socket_address(environ)
    if address is None:
        return False
    lines = []
    if ready:
        lines.append("READY=1")
    if status is not None:
        lines.append("STATUS=" + " ".join(status.split()))
    if watchdog:
        lines.append("WATCHDOG=1")
    if stopping:
        lines.append("STOPPING=1")
    if not lines:
        return False
    message = ("\n".join(lines) + "\n").encode("utf-8")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(_SEND_TIMEOUT)
            sock.connect(address)
            sock.sendall(message)
    except OSError as error:
        log.warning("could not notify systemd (%s): %s", _printable(address), error)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 keep-alives (half the WatchdogSec period), or None if off.

    Follows sd_watchdog_enabled(3): WATCHDOG_USEC gives the period and, when WATCHDOG_PID is
    set, the watchdog is meant for that process only.
    """
    env = os.environ if environ is None else environ
    usec_text = env.get("WATCHDOG_USEC", "")
    if not usec_text:
        return None
    try:
        usec = int(usec_text)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not a number of microseconds", usec_text)
        return None
    if usec <= 0:
        return None
    pid_text = env.get("WATCHDOG_PID", "")
    if pid_text:
        try:
            pid = int(pid_text)
        except ValueError:
            log.warning("ignoring the watchdog: WATCHDOG_PID=%r is not a process id", pid_text)
            return None
        if pid != os.getpid():
            return None
    return usec / 1_000_000 / 2


def _printable(address: str | bytes) -> str:
    return "@" + address[1:].decode(errors="replace") if isinstance(address, bytes) else address
