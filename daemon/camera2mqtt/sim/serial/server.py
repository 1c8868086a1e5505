"""The wire side of the serial simulator: a camera on a pseudo-terminal.

The simulator keeps the master side of a pty and its own descriptor on the slave (so a
client closing the slave does not end the line); clients open :attr:`slave_path` like a
serial port. One thread reads the host's bytes, feeds :class:`CameraProtocol` and writes
its answers, optionally at the negotiated baud rate (10 bit times per byte).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import termios
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Final

from camera2mqtt.lifecycle import StartStop
from camera2mqtt.sim.serial.faults import SerialFaults
from camera2mqtt.sim.serial.models import DEFAULT_MODEL, get_model
from camera2mqtt.sim.serial.protocol import CameraProtocol, ReceivedCommand
from camera2mqtt.sim.serial.state import DeviceState, load_frames

__all__ = ["MODEL_IDLE_RESET", "SerialSimulator"]

log = logging.getLogger(__name__)

BITS_PER_BYTE = 10  # start bit, 8 data bits, stop bit
PACE_CHUNK = 64  # bytes written at once when pacing (5.6 ms at 115200)
READ_SIZE = 4096
MAX_WAIT_S = 0.5  # longest sleep of the loop, so stop() is seen quickly
WRITE_TIMEOUT_S = 2.0  # a host that reads nothing for this long loses the bytes
STOP_TIMEOUT_S = 5.0


class _ModelDefault:
    def __repr__(self) -> str:
        return "MODEL_IDLE_RESET"


MODEL_IDLE_RESET: Final = _ModelDefault()
"""Default of ``idle_reset_s``: the quiet time of the model's profile."""

_TERMIOS_SPEEDS = {
    getattr(termios, f"B{speed}"): speed
    for speed in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400)
}


class SerialSimulator(StartStop):
    """A photopc/Sierra camera on a pty.

    ``model`` names a profile in :data:`camera2mqtt.sim.serial.models.MODELS`.
    ``images_dir`` holds the JPEG files served as frames (default: generated pictures, the
    first over 500 kB). ``pace`` sends at the negotiated baud rate. ``idle_reset_s`` is the
    quiet time before the camera sends 0xff and drops to 19200 (None: never).
    ``check_speed`` compares the baud rate the client set on the pty (termios) with the
    camera's and drops bytes sent at the wrong one, as a real UART would garble them.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        images_dir: Path | None = None,
        pace: bool = False,
        idle_reset_s: float | _ModelDefault | None = MODEL_IDLE_RESET,
        faults: SerialFaults | None = None,
        check_speed: bool = False,
    ) -> None:
        self.profile = get_model(model)
        frames = None
        taken: dict[str, int] = {}
        if images_dir is not None:
            loaded = load_frames(Path(images_dir))
            frames = [(name, data) for name, data, _ in loaded]
            taken = {name: mtime for name, _, mtime in loaded}
        self.state = DeviceState(self.profile, frames, taken=taken)
        self.faults = faults if faults is not None else SerialFaults()
        self.pace = pace
        self.check_speed = check_speed
        self.idle_reset_s: float | None = (
            self.profile.idle_reset_s if isinstance(idle_reset_s, _ModelDefault) else idle_reset_s
        )
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_path: str | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.protocol = CameraProtocol(
            self.state,
            self.faults,
            self._write,
            idle_reset_s=self.idle_reset_s,
            clock=time.monotonic,
        )

    # -- life cycle -----------------------------------------------------------------------------

    @property
    def slave_path(self) -> str:
        if self._slave_path is None:
            raise RuntimeError("the serial simulator is not started; call start() first")
        return self._slave_path

    def start(self) -> str:
        """Open the pty and start answering; returns the slave device path."""
        if self._thread is not None:
            return self.slave_path
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._slave_path = os.ttyname(slave)
        self._wake_r, self._wake_w = os.pipe()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"serial-sim {self._slave_path}", daemon=True
        )
        self._thread.start()
        log.info("simulated %s on %s", self.profile.name, self._slave_path)
        return self._slave_path

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("serial simulator thread did not stop within %.0f s", STOP_TIMEOUT_S)
        self._thread = None
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = self._wake_r = self._wake_w = None

    # -- what tests look at ---------------------------------------------------------------------

    @property
    def command_log(self) -> list[ReceivedCommand]:
        """Every command packet received so far, oldest first."""
        with self.protocol.log_lock:
            return list(self.protocol.commands)

    def clear_log(self) -> None:
        with self.protocol.log_lock:
            self.protocol.commands.clear()

    @property
    def in_session(self) -> bool:
        return self.protocol.in_session

    @property
    def host_speed(self) -> int | None:
        """The baud rate the client last set on the slave side (termios), if known."""
        if self._slave is None:
            return None
        try:
            speed = termios.tcgetattr(self._slave)[5]
        except termios.error:
            return None
        return _TERMIOS_SPEEDS.get(speed)

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll ``condition`` until it holds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    # -- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        assert self._master is not None and self._wake_r is not None
        master, wake = self._master, self._wake_r
        while not self._stopping.is_set():
            try:
                deadline = self.protocol.poll()
            except Exception:
                log.exception("serial simulator failed; the camera stays silent")
                deadline = None
            wait = MAX_WAIT_S
            if deadline is not None:
                wait = min(MAX_WAIT_S, max(0.0, deadline - time.monotonic()))
            try:
                readable, _, _ = select.select([master, wake], [], [], wait)
            except (OSError, ValueError):
                return
            if master not in readable:
                continue
            try:
                data = os.read(master, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError:  # EIO: no slave open (cannot happen while we hold one)
                self._stopping.wait(0.05)
                continue
            try:
                self.protocol.receive(data, self.host_speed if self.check_speed else None)
            except Exception:
                log.exception("serial simulator failed on %d bytes from the host", len(data))

    def _write(self, data: bytes, speed: int) -> None:
        if not data or self._master is None:
            return
        if not self.pace:
            self._write_all(data)
            return
        seconds_per_byte = BITS_PER_BYTE / speed
        start = time.monotonic()
        for offset in range(0, len(data), PACE_CHUNK):
            chunk = data[offset : offset + PACE_CHUNK]
            # a byte reaches the host when its last bit is on the line
            due = start + (offset + len(chunk)) * seconds_per_byte
            delay = due - time.monotonic()
            if delay > 0 and self._stopping.wait(delay):
                return
            self._write_all(chunk)

    def _write_all(self, data: bytes) -> None:
        assert self._master is not None
        view = memoryview(data)
        deadline = time.monotonic() + WRITE_TIMEOUT_S
        while view:
            try:
                written = os.write(self._master, view)
                view = view[written:]
                continue
            except BlockingIOError:
                pass
            except OSError as error:
                log.debug("write to pty failed: %s", error)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping.is_set():
                log.info("host is not reading; %d bytes lost", len(view))
                return
            with contextlib.suppress(OSError, ValueError):
                select.select([], [self._master], [], min(remaining, MAX_WAIT_S))
