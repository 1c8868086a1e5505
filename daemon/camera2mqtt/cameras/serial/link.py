"""The photopc/Sierra link layer: session, speed, ACK/NAK, retries and timeouts.

Built on :mod:`packets` (the byte codec) and a pyserial port object. One :class:`SerialLink`
is one session with one camera: :meth:`SerialLink.open_session` sends the init byte at 19200
and negotiates the line speed, the register methods exchange commands and replies, and
:meth:`SerialLink.close_session` puts the camera back to 19200. The behaviour follows what
photopc and gphoto2 do (serial reference, sections 4 and 5):

* a reply with a bad checksum, garbage or a timeout in the middle of a packet is answered
  with NAK and the camera sends the packet again; a packet repeated because our ACK was
  lost is ACKed and dropped;
* a command that gets no answer, or a NAK, is sent again, a bounded number of times;
* a 0xff from the camera means it ended the session after idling: only then is the line
  initialised again (some models stop talking after a second init);
* every wait has a deadline.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import serial

from camera2mqtt.cameras.base import (
    CameraBusy,
    CameraTimeout,
    CameraUnreachable,
    CommandRejected,
    ProtocolError,
)
from camera2mqtt.cameras.serial.packets import (
    BadChecksum,
    Command,
    Control,
    ControlByte,
    DecodedItem,
    Packet,
    PacketDecoder,
    encode_action,
    encode_command,
    encode_get_int,
    encode_get_var,
    encode_set_int,
    encode_set_var,
)
from camera2mqtt.cameras.serial.quirks import DEFAULT_QUIRKS, ModelQuirks
from camera2mqtt.cameras.serial.registers import (
    DEFAULT_SPEED,
    END_SESSION_SPEED_CODE,
    INIT_SPEED,
    SPEED_CODES,
    Register,
    decode_int,
)

__all__ = ["LinkTimeouts", "RegisterUnsupported", "SerialLink", "open_port"]

log = logging.getLogger(__name__)

POLL_S = 0.02
"""How long one read of the port blocks; the link's own deadlines decide when to give up."""
WRITE_TIMEOUT_S = 5.0
_REINIT_LIMIT = 3  # gphoto2: "Camera refused 3 times to keep a connection open"
_REINIT_BYTES = frozenset({Control.END, Control.SESSION_ERROR, Control.WRONG_SPEED})
_REFUSAL_BYTES = frozenset({Control.DC1, Control.CAN})


class RegisterUnsupported(CommandRejected):
    """The camera answered DC1 (or CAN): it does not have this register or action."""

    def __init__(self, what: str) -> None:
        super().__init__(f"The camera does not support {what}.", code="DC1")
        self.what = what


@dataclass(frozen=True, slots=True)
class LinkTimeouts:
    """Deadlines and retry counts of the link (seconds).

    The defaults are more generous than photopc's (0.4 s for an ACK, 0.2 s for a data
    packet) so that a loaded host does not turn into retries; ``reply`` also bounds the
    wait for the first packet of an image, which some cameras take a while to prepare.
    """

    init: float = 3.0  # wait for the 0x15 signature after each init byte
    init_attempts: int = 4
    init_pause: float = 0.5
    ack: float = 2.0  # ACK after a command
    reply: float = 3.0  # first byte of a reply packet
    byte_gap: float = 1.0  # silence inside a packet before it counts as cut short
    quiet: float = 0.05  # silence that ends a burst of garbage before we NAK
    action: float = 20.0  # ENQ after an action (gphoto2 allows 20 s for a capture)
    speed_settle: float = 0.01  # pause after switching the port's speed
    retries: int = 3  # resends of one command
    packet_retries: int = 10  # NAKs in a row for one packet (gphoto2: 10)

    @classmethod
    def scaled(cls, reply: float) -> LinkTimeouts:
        """Timeouts derived from one number, the wait for a reply (the CLI's --timeout)."""
        return cls(init=reply, ack=min(reply, 2.0), reply=reply, byte_gap=min(reply, 1.0))


# ---------------------------------------------------------------------------------------------
# Opening the port


def open_port(url: str) -> serial.SerialBase:
    """Open ``url`` (a device path, ``socket://``, ``rfc2217://``) 8N1 raw, locked for us.

    Raises :class:`CameraBusy` when another program holds the port and
    :class:`CameraUnreachable` when it cannot be opened at all.
    """
    try:
        port = serial.serial_for_url(
            url,
            do_not_open=True,
            baudrate=INIT_SPEED,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=POLL_S,
            write_timeout=WRITE_TIMEOUT_S,
            xonxoff=False,
            rtscts=False,
            dsrdtr=False,
        )
    except (ValueError, serial.SerialException) as error:
        raise CameraUnreachable(
            f"Cannot use the serial port {url!r}: {error}. Give a device path such as "
            "/dev/ttyUSB0, or socket://HOST:PORT or rfc2217://HOST:PORT."
        ) from error
    if hasattr(port, "exclusive"):
        port.exclusive = True
    try:
        port.open()
    except serial.SerialException as error:
        code = error.errno if isinstance(error.errno, int) else None
        if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY) or "lock" in str(error):
            raise CameraBusy(
                f"The serial port {url} is in use by another program; stop it (or the other "
                "camera2mqtt) and try again."
            ) from error
        reason = os.strerror(code) if code is not None else str(error)
        raise CameraUnreachable(
            f"Cannot open the serial port {url}: {reason}. Check the port name and that the "
            "cable or adapter is plugged in."
        ) from error
    return port


# ---------------------------------------------------------------------------------------------
# The link


class SerialLink:
    """One protocol session over an open port. Not thread-safe: one operation at a time."""

    def __init__(
        self,
        port: serial.SerialBase,
        *,
        quirks: ModelQuirks = DEFAULT_QUIRKS,
        timeouts: LinkTimeouts | None = None,
        max_speed: int = DEFAULT_SPEED,
    ) -> None:
        self._port = port
        self._quirks = quirks
        self._timeouts = timeouts or LinkTimeouts()
        self._max_speed = max_speed
        self._decoder = PacketDecoder(accept_checksums=quirks.accept_checksums)
        self._items: deque[DecodedItem] = deque()
        self._first_command = True
        self._in_session = False
        self._speed = INIT_SPEED
        self._reinits = 0
        self.naks_sent = 0
        """NAKs sent this session (a measure of line quality, for logs and benchmarks)."""

    @property
    def speed(self) -> int:
        """The line speed of the session now (19200 before negotiation)."""
        return self._speed

    @property
    def in_session(self) -> bool:
        return self._in_session

    @property
    def port_name(self) -> str:
        return str(self._port.port)

    # -- session --------------------------------------------------------------------------

    def open_session(self) -> None:
        """Initialise the camera at 19200 and raise the speed as far as both sides allow."""
        self._port.timeout = POLL_S
        self._init()
        self._negotiate_speed()
        self._in_session = True

    def close_session(self) -> None:
        """Put the camera back to 19200 (SET_INT 17, subtype 0x53) and the port with it."""
        if not self._in_session:
            return
        self._in_session = False
        try:
            if self._speed != INIT_SPEED:
                self._drain()
                self._write(encode_set_int(Register.SPEED, END_SESSION_SPEED_CODE, first=True))
                item = self._next_item(self._timeouts.ack)
                if not _is_control(item, Control.ACK):
                    log.info("the camera did not acknowledge the end of the session (%s)", item)
        except CameraUnreachable as error:
            log.info("ending the session: %s", error)
        finally:
            self._set_port_speed(INIT_SPEED)

    def _init(self) -> None:
        """00 -> 15 at 19200, with retries (serial reference section 5, step 1)."""
        self._set_port_speed(INIT_SPEED)
        timeouts = self._timeouts
        for attempt in range(timeouts.init_attempts):
            if attempt:
                time.sleep(timeouts.init_pause)
            self._flush_input()
            self._write(bytes((Control.NUL,)))
            deadline = time.monotonic() + timeouts.init
            while True:
                item = self._next_item(deadline - time.monotonic())
                if item is None:
                    break
                if _is_control(item, Control.NAK):
                    self._first_command = True
                    log.debug("camera on %s answered the init byte", self.port_name)
                    return
                # Leading 0x00/0xff (and line noise) are skipped, as photopc does.
            log.debug("no signature after init byte %d on %s", attempt + 1, self.port_name)
        raise CameraUnreachable(
            f"No camera answers on {self.port_name}: check that it is switched on, in "
            "communication (PC) mode and connected, and that no other program uses the port."
        )

    def _negotiate_speed(self) -> None:
        limit = min(self._max_speed, self._quirks.max_speed)
        candidates = sorted((s for s in SPEED_CODES if s <= limit), reverse=True)
        for speed in candidates:
            if speed == self._speed:
                # Cameras reject a request for the speed they already run at (gphoto2);
                # the next command then opens the session with subtype 0x53.
                return
            if not self._port_accepts(speed):
                log.debug("the port cannot run at %d baud", speed)
                continue
            try:
                self._command_ack(
                    encode_set_int(Register.SPEED, SPEED_CODES[speed], first=True),
                    f"line speed {speed}",
                    reinit=False,
                )
            except (RegisterUnsupported, CameraTimeout) as error:
                log.info("camera refused %d baud (%s); trying a lower speed", speed, error)
                continue
            self._set_port_speed(speed)
            time.sleep(self._timeouts.speed_settle)
            self._first_command = False
            log.debug("line speed now %d baud", speed)
            return

    def _reinit(self) -> None:
        """After a 0xff: the camera is back at 19200 waiting for an init byte."""
        self._reinits += 1
        if self._reinits > _REINIT_LIMIT:
            raise CameraUnreachable(
                f"The camera on {self.port_name} keeps ending the session; check its "
                "batteries and cable."
            )
        log.info("camera ended the session (idle); initialising again")
        self._init()
        self._negotiate_speed()

    # -- register access ------------------------------------------------------------------

    def get_int(self, register: int) -> int:
        """GET_INT: the int32 value of ``register``."""
        data = b"".join(self._get(encode_get_int, register, f"register {register}"))
        try:
            return decode_int(data)
        except ValueError as error:
            raise ProtocolError(f"Register {register}: {error}.") from error

    def set_int(self, register: int, value: int) -> None:
        """SET_INT ``register`` = ``value``."""
        self._command_ack(
            self._encode(encode_set_int, register, value), f"setting register {register}"
        )

    def set_var(self, register: int, value: bytes) -> None:
        """SET_VAR with a value that fits one command packet."""
        self._command_ack(
            self._encode(encode_set_var, register, value), f"setting register {register}"
        )

    def get_var(self, register: int) -> bytes:
        """GET_VAR: the whole vdata value of ``register``."""
        return b"".join(self.iter_var(register))

    def iter_var(self, register: int) -> Iterator[bytes]:
        """GET_VAR streamed packet by packet; each packet is ACKed before it is yielded.

        Closing the iterator early reads and ACKs the rest of the reply so that the link
        stays in step with the camera.
        """
        return self._get(encode_get_var, register, f"register {register}")

    def action(self, code: int, argument: int = 0, *, timeout: float | None = None) -> None:
        """ACTION ``code``: wait for the ACK, then for the ENQ that says it is done."""
        what = f"action {code}"
        done_within = self._timeouts.action if timeout is None else timeout
        for _ in self._attempts(what):
            self._write(self._encode(encode_action, code, argument))
            item = self._next_item(self._timeouts.ack)
            if _is_control(item, Control.ENQ):
                return  # Olympus 3030/4040: ENQ where the ACK belongs
            if isinstance(item, ControlByte) and item.value in _REFUSAL_BYTES:
                raise RegisterUnsupported(what)
            if isinstance(item, ControlByte) and item.value in _REINIT_BYTES:
                self._reinit()
                continue
            if item is None or _is_control(item, Control.NAK):
                continue  # the camera did not take the command: send it again
            if not _is_control(item, Control.ACK):
                # Something arrived, probably a damaged ACK: the camera may be acting, so
                # never repeat the action; wait for its completion instead.
                self._drain()
            self._wait_complete(what, done_within)
            return
        raise self._no_answer(what)

    # -- exchanges ------------------------------------------------------------------------

    def _encode(self, encoder, register: int, *args: object) -> bytes:  # type: ignore[no-untyped-def]
        first = self._first_command
        self._first_command = False
        return encoder(register, *args, first=first)

    def _attempts(self, what: str) -> Iterator[int]:
        """Numbers the sends of one command; checks for an idle reset before each."""
        for attempt in range(self._timeouts.retries + 1):
            if attempt:
                log.debug("%s: sending again (attempt %d)", what, attempt + 1)
            self._check_idle_reset()
            yield attempt

    def _command_ack(self, command: bytes, what: str, *, reinit: bool = True) -> None:
        """Send a command that is answered with a single ACK."""
        for _ in self._attempts(what):
            self._write(command)
            item = self._next_item(self._timeouts.ack)
            if _is_control(item, Control.ACK):
                return
            if isinstance(item, ControlByte) and item.value in _REFUSAL_BYTES:
                raise RegisterUnsupported(what)
            if isinstance(item, ControlByte) and item.value in _REINIT_BYTES and reinit:
                self._reinit()
                command = _with_subtype(command, first=self._first_command)
                self._first_command = False
                continue
            if item is not None:
                self._drain()
        raise self._no_answer(what)

    def _get(self, encoder, register: int, what: str) -> Iterator[bytes]:  # type: ignore[no-untyped-def]
        """Send a GET command and yield the data of each reply packet (generator)."""
        timeouts = self._timeouts
        command_sends = 0
        expected = 0
        bad_in_a_row = 0
        done = False
        command = self._encode(encoder, register)
        self._check_idle_reset()
        self._write(command)
        try:
            while True:
                item = self._next_item(timeouts.reply if expected == 0 else timeouts.byte_gap)
                if isinstance(item, Packet) and item.is_data:
                    seq_expected = expected & 0xFF
                    if item.seq == seq_expected:
                        self._write_control(Control.ACK)
                        expected += 1
                        bad_in_a_row = 0
                        done = item.is_last
                        yield item.data
                        if done:
                            return
                        continue
                    if expected and item.seq == (expected - 1) & 0xFF:
                        self._write_control(Control.ACK)  # a repeat: our ACK got lost
                        continue
                    problem = f"packet {item.seq} where {seq_expected} was due"
                elif expected == 0 and (item is None or _is_control(item, Control.NAK)):
                    # The camera never started answering: send the command again.
                    command_sends += 1
                    if command_sends > timeouts.retries:
                        raise self._no_answer(what)
                    self._check_idle_reset()
                    self._write(_with_subtype(command, first=False))
                    continue
                elif expected == 0 and isinstance(item, ControlByte):
                    if item.value in _REFUSAL_BYTES:
                        raise RegisterUnsupported(what)
                    if item.value in _REINIT_BYTES:
                        self._reinit()
                        command = _with_subtype(command, first=self._first_command)
                        self._first_command = False
                        self._write(command)
                        continue
                    problem = f"stray byte {item.value:#04x}"
                elif item is None:
                    problem = "timeout inside the reply"
                elif isinstance(item, BadChecksum):
                    problem = f"bad checksum on packet {item.seq}"
                else:
                    problem = f"unexpected {item}"
                bad_in_a_row += 1
                if bad_in_a_row > timeouts.packet_retries:
                    raise CameraTimeout(
                        f"Reading {what} from the camera on {self.port_name} failed "
                        f"{bad_in_a_row} times in a row ({problem}); check the cable and "
                        "try again, perhaps at a lower --speed."
                    )
                log.debug("%s: %s; NAK", what, problem)
                self._drain()
                self._write_control(Control.NAK)
                self.naks_sent += 1
        finally:
            if not done and expected:
                self._finish_abandoned_reply()

    def _finish_abandoned_reply(self) -> None:
        """Read and ACK what is left of a reply the caller stopped reading (bounded)."""
        try:
            while True:
                item = self._next_item(self._timeouts.byte_gap)
                if isinstance(item, Packet) and item.is_data:
                    self._write_control(Control.ACK)
                    if item.is_last:
                        return
                elif item is None:
                    return
                else:
                    self._drain()
                    self._write_control(Control.NAK)
        except CameraUnreachable:
            return

    def _wait_complete(self, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            item = self._next_item(deadline - time.monotonic())
            if item is None:
                raise CameraTimeout(
                    f"The camera on {self.port_name} did not finish {what} within {timeout:.0f} s."
                )
            if _is_control(item, Control.ENQ) or _is_control(item, Control.ACK):
                return
            if isinstance(item, ControlByte) and item.value in _REFUSAL_BYTES:
                raise RegisterUnsupported(what)
            if isinstance(item, ControlByte) and item.value in _REINIT_BYTES:
                raise CameraTimeout(
                    f"The camera on {self.port_name} ended the session during {what}."
                )

    def _check_idle_reset(self) -> None:
        """Before a command: a pending 0xff means the camera reset after idling."""
        if self._items or self._port.in_waiting:
            while True:
                item = self._next_item(0)
                if item is None:
                    break
                if isinstance(item, ControlByte) and item.value in _REINIT_BYTES:
                    self._items.clear()
                    self._decoder.reset()
                    self._reinit()
                    return
                log.debug("discarding stray input before a command: %s", item)

    def _no_answer(self, what: str) -> CameraTimeout:
        return CameraTimeout(
            f"The camera on {self.port_name} did not answer ({what}) after "
            f"{self._timeouts.retries + 1} tries; check that it is still on and connected."
        )

    # -- bytes ----------------------------------------------------------------------------

    def _next_item(self, timeout: float) -> DecodedItem | None:
        """The next decoded item, or None when the line stays quiet too long.

        ``timeout`` bounds the wait for the first byte; once a packet has started, each
        further byte may take up to ``byte_gap``.
        """
        if self._items:
            return self._items.popleft()
        now = time.monotonic()
        deadline = now + max(timeout, 0.0)
        while True:
            chunk = self._read(block=now < deadline)
            now = time.monotonic()
            if chunk:
                self._items.extend(self._decoder.feed(chunk))
                if self._items:
                    return self._items.popleft()
                deadline = max(deadline, now + self._timeouts.byte_gap)
            elif now >= deadline:
                if self._decoder.in_packet:
                    log.debug("dropping %d bytes of a cut-short packet", self._decoder.pending)
                    self._decoder.reset()
                return None

    def _drain(self) -> None:
        """Discard input until the line has been quiet for a moment (bounded)."""
        self._items.clear()
        self._decoder.reset()
        limit = time.monotonic() + max(self._timeouts.byte_gap * 4, 1.0)
        quiet_until = time.monotonic() + self._timeouts.quiet
        while True:
            now = time.monotonic()
            if now >= quiet_until or now >= limit:
                return
            if self._read(block=True):
                quiet_until = time.monotonic() + self._timeouts.quiet

    def _flush_input(self) -> None:
        self._items.clear()
        self._decoder.reset()
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError) as error:
            raise self._port_failed(error) from error

    def _read(self, *, block: bool) -> bytes:
        try:
            waiting = self._port.in_waiting
            if waiting:
                return self._port.read(waiting)
            if not block:
                return b""
            return self._port.read(1)
        except (serial.SerialException, OSError) as error:
            raise self._port_failed(error) from error

    def _write(self, data: bytes) -> None:
        try:
            self._port.write(data)
        except serial.SerialTimeoutException as error:
            raise CameraTimeout(
                f"Writing to {self.port_name} did not finish within {WRITE_TIMEOUT_S:.0f} s; "
                "is the port connected?"
            ) from error
        except (serial.SerialException, OSError) as error:
            raise self._port_failed(error) from error

    def _write_control(self, value: Control) -> None:
        self._write(bytes((value,)))

    def _set_port_speed(self, speed: int) -> None:
        try:
            self._port.baudrate = speed
        except (ValueError, serial.SerialException, OSError) as error:
            raise self._port_failed(error) from error
        self._speed = speed

    def _port_accepts(self, speed: int) -> bool:
        current = self._port.baudrate
        try:
            self._port.baudrate = speed
        except (ValueError, serial.SerialException, OSError):
            return False
        finally:
            self._port.baudrate = current
        return True

    def _port_failed(self, error: BaseException) -> CameraUnreachable:
        return CameraUnreachable(
            f"The serial port {self.port_name} failed: {error}. Check the cable or adapter."
        )


def _is_control(item: DecodedItem | None, value: Control) -> bool:
    return isinstance(item, ControlByte) and item.value == value


def _with_subtype(command: bytes, *, first: bool) -> bytes:
    """The same command packet with subtype 0x53 (first of a session) or 0x43."""
    parsed = Command.from_data(command[4:-2])
    return encode_command(parsed.opcode, parsed.register, parsed.argument, first=first)
