"""The photopc/Sierra link layer: session, speed, ACK/NAK, retries and timeouts.

Built on :mod:`packets` (the byte codec) and a pyserial port object. One :class:`SerialLink`
is one session with one camera: :meth:`SerialLink.open_session` sends the init byte at 19200
and negotiates the line speed, the register methods exchange commands and replies, and
:meth:`SerialLink.close_session` puts the camera back to 19200. The behaviour follows what
photopc and gphoto2 do (serial reference, sections 4 and 5):

* a reply packet with a bad checksum, cut short or garbled is answered with NAK and the
  camera sends it again; a packet repeated because our ACK was lost is ACKed and dropped;
* a command that gets no answer, or a NAK, is sent again, a bounded number of times;
* a 0xff from the camera means it ended the session after idling: only then is the line
  initialised again (some models stop talking after a second init);
* every wait has a deadline.

Reply packets are found by their expected header (type, sequence number and, when known,
length), so line noise before or inside a packet never shifts the framing of the next one.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
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
    HEADER_SIZE,
    MAX_DATA,
    TRAILER_SIZE,
    Command,
    Control,
    Packet,
    PacketDecoder,
    PacketType,
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

__all__ = [
    "LinkStats",
    "LinkTimeouts",
    "PacketRetriesExceeded",
    "RegisterUnsupported",
    "SerialLink",
    "open_port",
]

log = logging.getLogger(__name__)

POLL_S = 0.02
"""How long one read of the port blocks; the link's own deadlines decide when to give up."""
WRITE_TIMEOUT_S = 5.0
CONFIRM_ERROR_RATE = 1e-5
"""Above this estimated byte error rate a reply packet is taken only when two copies agree."""
_MAX_COPIES = 6  # copies of one packet fetched for confirmation (cameras stop after 10 NAKs)
_PAUSE_FACTOR = 4  # silence of this many "longest pauses" ends a packet
_PAUSE_DECAY = 0.98  # per good packet, so one long stall is forgotten after a while
_QUIET_CAP_S = 0.5
_MIN_FAILURES = 2  # before the line counts as noisy
_MIN_ATTEMPTS = 10
_STATS_WINDOW = 2000  # packets after which the line statistics are halved
_SILENT_END = 2  # NAKs ignored in a row after a short packet: the reply was over
_REINIT_LIMIT = 3  # gphoto2: "Camera refused 3 times to keep a connection open"
_REINIT_BYTES = frozenset({Control.END, Control.SESSION_ERROR, Control.WRONG_SPEED})
_REFUSAL_BYTES = frozenset({Control.DC1, Control.CAN})
_CONTROL_VALUES = frozenset(int(c) for c in Control)
_DATA_TYPES = (PacketType.DATA_MORE, PacketType.DATA_LAST)
_INT_REPLY_SIZE = 4


class RegisterUnsupported(CommandRejected):
    """The camera answered DC1 (or CAN): it does not have this register or action."""

    def __init__(self, what: str) -> None:
        super().__init__(f"The camera does not support {what}.", code="DC1")
        self.what = what


class PacketRetriesExceeded(CameraTimeout):
    """One reply packet failed too often; ``delivered`` bytes of the reply had arrived."""

    def __init__(self, message: str, *, delivered: int) -> None:
        super().__init__(message)
        self.delivered = delivered


class _Garbled:
    """Bytes arrived, then silence, and they hold no packet we were waiting for."""


_GARBLED = _Garbled()


@dataclass(frozen=True, slots=True)
class LinkTimeouts:
    """Deadlines and retry counts of the link (seconds).

    More generous than photopc's (0.4 s for an ACK, 0.2 s for a data packet) so that a
    loaded host does not turn into retries; ``reply`` also bounds the wait for the first
    packet of an image, which some cameras take a while to prepare.
    """

    init: float = 3.0  # wait for the 0x15 signature after each init byte
    init_attempts: int = 4
    init_pause: float = 0.5
    ack: float = 2.0  # ACK after a command
    reply: float = 3.0  # first packet of a reply
    next_packet: float = 1.0  # next packet after our ACK
    quiet: float = 0.02  # least silence that ends an unusable burst before we NAK (it grows
    # with the pauses seen inside good packets, up to 0.5 s)
    action: float = 20.0  # ENQ after an action (gphoto2 allows 20 s for a capture)
    speed_settle: float = 0.01  # pause after switching the port's speed
    retries: int = 3  # resends of one command
    packet_retries: int = 10  # NAKs in a row for one packet (gphoto2: 10)

    @classmethod
    def scaled(cls, reply: float) -> LinkTimeouts:
        """Timeouts derived from one number, the wait for a reply (the CLI's --timeout)."""
        return cls(init=reply, ack=min(reply, 2.0), reply=reply, next_packet=min(reply, 1.0))


@dataclass(slots=True)
class LinkStats:
    """Counters of one session; they estimate how noisy the line is."""

    packets: int = 0  # reply packets taken
    packet_bytes: int = 0  # their size on the wire
    failures: int = 0  # packets answered with NAK
    commands_resent: int = 0
    reinits: int = 0
    confirmations: int = 0  # good packets fetched again to compare two copies

    def record_packet(self, wire_size: int) -> None:
        self.packets += 1
        self.packet_bytes += wire_size
        self._age()

    def record_failure(self) -> None:
        self.failures += 1
        self._age()

    def _age(self) -> None:
        """Halve the counts now and then, so the estimate follows a line that changes."""
        if self.packets + self.failures > _STATS_WINDOW:
            self.packets //= 2
            self.packet_bytes //= 2
            self.failures //= 2

    def byte_error_rate(self) -> float:
        """Estimated chance that one byte arrives damaged or not at all."""
        attempts = self.packets + self.failures
        # One failure proves little (a busy host can cut a packet short); wait for more.
        if self.failures < _MIN_FAILURES or attempts < _MIN_ATTEMPTS or self.packets == 0:
            return 0.0
        mean_size = self.packet_bytes / self.packets
        failed_share = min(self.failures / attempts, 0.99)
        return -math.log(1.0 - failed_share) / mean_size

    def best_packet_size(self, sizes: tuple[int, ...], turnaround_bytes: int = 16) -> int:
        """The packet size with the highest expected goodput on this line."""
        rate = self.byte_error_rate()
        if rate == 0.0:
            return max(sizes)
        overhead = HEADER_SIZE + TRAILER_SIZE

        def goodput(size: int) -> float:
            return (1 - rate) ** (size + overhead) * size / (size + overhead + turnaround_bytes)

        return max(sizes, key=goodput)


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
            # pyserial's RFC 2217 client has no write timeout (its writes do not block).
            write_timeout=None if url.startswith("rfc2217://") else WRITE_TIMEOUT_S,
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
        self._raw = bytearray()  # received and not consumed yet
        self._first_command = True
        self._in_session = False
        self._speed = INIT_SPEED
        self._quiet = self._timeouts.quiet
        self._reinits_in_a_row = 0  # re-inits without a good answer in between
        self._pause = 0.0  # longest pause seen inside a good packet lately
        self.stats = LinkStats()

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
            self._raw += self._read(block=False)
            ended = bool(self._raw) and all(byte in _REINIT_BYTES for byte in self._raw)
            if self._speed != INIT_SPEED and not ended:
                self._discard_input()
                self._write(encode_set_int(Register.SPEED, END_SESSION_SPEED_CODE, first=True))
                answer = self._control(self._timeouts.ack)
                if answer != Control.ACK:
                    log.info("the camera did not acknowledge the end of the session (%s)", answer)
        except CameraUnreachable as error:
            log.info("ending the session: %s", error)
        finally:
            try:
                self._set_port_speed(INIT_SPEED)
            except CameraUnreachable as error:
                log.info("ending the session: %s", error)

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
                answer = self._control(deadline - time.monotonic())
                if answer is None:
                    break
                if answer == Control.NAK:
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
        self.stats.reinits += 1
        self._reinits_in_a_row += 1
        if self._reinits_in_a_row > _REINIT_LIMIT:
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
        data = b"".join(
            self._get(encode_get_int, register, f"register {register}", total=_INT_REPLY_SIZE)
        )
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

    def iter_var(
        self,
        register: int,
        *,
        total: int | None = None,
        packet_size: int = MAX_DATA,
        max_failures: int | None = None,
    ) -> Iterator[bytes]:
        """GET_VAR streamed packet by packet; each packet is ACKed before it is yielded.

        ``total`` (the size the camera announced) and ``packet_size`` let the link know
        each packet's length in advance. After ``max_failures`` NAKs in a row for one
        packet :class:`PacketRetriesExceeded` says how much had arrived, so the caller
        can start again with smaller packets. A reply abandoned by the caller is left to
        the camera; the next command starts afresh.
        """
        return self._get(
            encode_get_var,
            register,
            f"register {register}",
            total=total,
            packet_size=packet_size,
            max_failures=max_failures,
        )

    def action(
        self,
        code: int,
        argument: int = 0,
        *,
        timeout: float | None = None,
        ends_session: float = 0.0,
    ) -> None:
        """ACTION ``code``: wait for the ACK, then for the ENQ that says it is done.

        ``ends_session``: how long to watch for the 0xff with which some cameras end the
        session after this action (the C-2020 after an erase, seed 002); the link then
        initialises again at once.
        """
        what = f"action {code}"
        done_within = self._timeouts.action if timeout is None else timeout
        for _ in self._attempts(what):
            self._write(self._encode(encode_action, code, argument))
            answer = self._control(self._timeouts.ack)
            if answer == Control.ENQ:
                return  # Olympus 3030/4040: ENQ where the ACK belongs
            if answer in _REFUSAL_BYTES:
                raise RegisterUnsupported(what)
            if answer in _REINIT_BYTES:
                self._reinit()
                continue
            if answer is None or answer == Control.NAK:
                continue  # the camera did not take the command: send it again
            if answer != Control.ACK:
                # Probably a damaged ACK: the camera may be acting, so never repeat the
                # action; wait for its completion instead.
                self._discard_input()
            self._wait_complete(what, done_within)
            if ends_session > 0:
                answer = self._control(ends_session)
                if answer in _REINIT_BYTES:
                    self._reinit()
                elif answer is not None:
                    self._discard_input()
            return
        raise self._no_answer(what)

    # -- exchanges ------------------------------------------------------------------------

    def _encode(self, encoder: Callable[..., bytes], register: int, *args: object) -> bytes:
        first = self._first_command
        self._first_command = False
        return encoder(register, *args, first=first)

    def _attempts(self, what: str) -> Iterator[int]:
        """Numbers the sends of one command; checks for an idle reset before each."""
        for attempt in range(self._timeouts.retries + 1):
            if attempt:
                self.stats.commands_resent += 1
                log.debug("%s: sending again (attempt %d)", what, attempt + 1)
            self._check_idle_reset()
            yield attempt

    def _command_ack(self, command: bytes, what: str, *, reinit: bool = True) -> None:
        """Send a command that is answered with a single ACK."""
        for _ in self._attempts(what):
            self._write(command)
            answer = self._control(self._timeouts.ack)
            if answer == Control.ACK:
                self._reinits_in_a_row = 0
                return
            if answer in _REFUSAL_BYTES:
                raise RegisterUnsupported(what)
            if answer in _REINIT_BYTES and reinit:
                self._reinit()
                command = self._resubject(command)
                continue
            if answer is not None:
                self._discard_input()
        raise self._no_answer(what)

    def _get(
        self,
        encoder: Callable[..., bytes],
        register: int,
        what: str,
        *,
        total: int | None = None,
        packet_size: int = MAX_DATA,
        max_failures: int | None = None,
    ) -> Iterator[bytes]:
        """Send a GET command and yield the data of each reply packet (a generator)."""
        timeouts = self._timeouts
        limit = timeouts.packet_retries if max_failures is None else max_failures
        command = self._encode(encoder, register)
        sends = 1
        expected = 0
        delivered = 0
        failures = 0
        held: tuple[int, bytes] | None = None  # a copy of the packet awaiting confirmation
        copies = 0
        silent = 0  # NAKs in a row met with silence
        last_size = 0
        self._check_idle_reset()
        self._write(command)
        while True:
            wanted = {expected & 0xFF: _packet_length(expected, total, packet_size)}
            if expected:
                wanted[(expected - 1) & 0xFF] = _packet_length(expected - 1, total, packet_size)
            answer = self._packet(wanted, timeouts.reply if expected == 0 else timeouts.next_packet)
            if isinstance(answer, Packet) and total is not None:
                # The header is outside the checksum: with a known size, check the type.
                last_due = total <= (expected + 1) * packet_size
                if answer.seq == expected & 0xFF and answer.is_last != last_due:
                    answer = _GARBLED
            if isinstance(answer, Packet):
                silent = 0
                if answer.seq != expected & 0xFF:
                    self._write_control(Control.ACK)  # a repeat: our ACK got lost
                    continue
                copy = (answer.type, answer.data)
                if held != copy and copies < _MAX_COPIES and self._must_confirm():
                    # On a noisy line two damaged bytes can cancel out in the 16-bit sum;
                    # take the packet only when two copies agree.
                    held = copy
                    copies += 1
                    self.stats.confirmations += 1
                    self._write_control(Control.NAK)
                    continue
                held = None
                copies = 0
                self._reinits_in_a_row = 0
                self._write_control(Control.ACK)
                self.stats.record_packet(len(answer.data) + HEADER_SIZE + TRAILER_SIZE)
                if (
                    total is not None
                    and expected == 0
                    and not answer.is_last
                    and len(answer.data) != packet_size
                ):
                    log.info("camera sends %d-byte packets, not %d", len(answer.data), packet_size)
                    packet_size = len(answer.data)
                expected += 1
                failures = 0
                last_size = len(answer.data)
                delivered += last_size
                yield answer.data
                if answer.is_last:
                    return
                continue
            if expected == 0 and (answer is None or answer == Control.NAK):
                # The camera never started answering: send the command again.
                if sends > timeouts.retries:
                    raise self._no_answer(what)
                sends += 1
                self.stats.commands_resent += 1
                self._check_idle_reset()
                self._write(self._resubject(command))
                continue
            if expected == 0 and answer in _REFUSAL_BYTES:
                raise RegisterUnsupported(what)
            if answer in _REINIT_BYTES:
                if expected:
                    raise CameraTimeout(
                        f"The camera on {self.port_name} ended the session while sending "
                        f"{what}; try again."
                    )
                self._reinit()
                command = self._resubject(command)
                self._write(command)
                continue
            if answer is None and expected:
                silent += 1
                if silent >= _SILENT_END and total is None and last_size < packet_size:
                    # The camera ignores our NAKs: its reply is over, and the short packet
                    # we took last was the final one with a damaged type byte.
                    log.info("%s: taking packet %d as the last one", what, expected - 1)
                    return
            failures += 1
            self.stats.record_failure()
            if failures > limit:
                raise PacketRetriesExceeded(
                    f"Reading {what} from the camera on {self.port_name} failed {failures} "
                    "times in a row; check the cable and try again, perhaps at a lower "
                    "--speed.",
                    delivered=delivered,
                )
            log.debug("%s: packet %d unusable (%s); NAK", what, expected, answer)
            self._write_control(Control.NAK)

    def _must_confirm(self) -> bool:
        return self.stats.byte_error_rate() >= CONFIRM_ERROR_RATE

    def _wait_complete(self, what: str, timeout: float) -> None:
        answer = self._control(timeout)
        if answer is None:
            raise CameraTimeout(
                f"The camera on {self.port_name} did not finish {what} within {timeout:.0f} s."
            )
        if answer in _REFUSAL_BYTES:
            raise RegisterUnsupported(what)
        if answer in _REINIT_BYTES:
            raise CameraTimeout(f"The camera on {self.port_name} ended the session during {what}.")
        # ENQ, or an ACK (Olympus 4040), or a damaged ENQ: the action is over.

    def _check_idle_reset(self) -> None:
        """Before a command: a pending 0xff means the camera reset after idling."""
        self._raw += self._read(block=False)
        if not self._raw:
            return
        pending = bytes(self._raw)
        self._raw.clear()
        if all(byte in _REINIT_BYTES for byte in pending):
            self._reinit()
        else:
            log.debug("discarding %d stray bytes before a command", len(pending))

    def _resubject(self, command: bytes) -> bytes:
        """``command`` again, as the first of the session if a re-init just happened."""
        first = self._first_command
        self._first_command = False
        parsed = Command.from_data(command[HEADER_SIZE:-TRAILER_SIZE])
        return encode_command(parsed.opcode, parsed.register, parsed.argument, first=first)

    def _no_answer(self, what: str) -> CameraTimeout:
        return CameraTimeout(
            f"The camera on {self.port_name} did not answer ({what}) after "
            f"{self._timeouts.retries + 1} tries; check that it is still on and connected."
        )

    # -- receiving ------------------------------------------------------------------------

    def _control(self, timeout: float) -> int | None:
        """The next single byte from the camera, or None after ``timeout`` of silence."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self._raw:
            if not self._fill(deadline):
                return None
        value = self._raw[0]
        del self._raw[0]
        return value

    def _packet(
        self, wanted: Mapping[int, int | None], timeout: float
    ) -> Packet | int | _Garbled | None:
        """The next good reply packet with a sequence number in ``wanted``.

        ``wanted`` maps each acceptable sequence number to the packet's data length, if
        known. Returns None if nothing at all arrives within ``timeout``, the value of a
        lone control byte, or :data:`_GARBLED` when bytes arrived and then the line went
        quiet without a usable packet among them.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        # A camera that keeps sending noise must not hold us forever either.
        give_up = deadline + 2 * (MAX_DATA + HEADER_SIZE + TRAILER_SIZE) * 10 / self._speed + 5
        longest_pause = 0.0  # between two pieces of this packet
        while True:
            found, incomplete = self._find_packet(wanted)
            if isinstance(found, Packet):
                # Learn how long the sender pauses inside a packet (USB adapters, a busy
                # host), so that a pause is not taken for the end of a short packet.
                self._pause = max(self._pause * _PAUSE_DECAY, longest_pause)
                return found
            raw = self._raw
            if found is _GARBLED:
                raw.clear()  # a whole packet arrived with a bad checksum: NAK at once
                return _GARBLED
            if len(raw) == 1 and raw[0] in _CONTROL_VALUES:
                # A lone byte is an answer only if nothing follows it.
                if self._fill(time.monotonic() + self._quiet):
                    continue
                value = raw[0]
                raw.clear()
                return value
            if raw and time.monotonic() > give_up:
                raw.clear()
                return _GARBLED
            if raw:
                # Wait for the rest; a line quiet for a moment will send no more of it.
                waiting_since = time.monotonic()
                if self._fill(waiting_since + self._quiet_time()):
                    longest_pause = max(longest_pause, time.monotonic() - waiting_since)
                    continue
                found, incomplete = self._find_packet(wanted, final=True)
                if isinstance(found, Packet):
                    return found
                log.debug(
                    "%d unusable bytes (%s)", len(raw), "cut short" if incomplete else "noise"
                )
                raw.clear()
                return _GARBLED
            if not self._fill(deadline):
                return None

    def _quiet_time(self) -> float:
        """Silence that means a packet will not grow any more."""
        return min(_QUIET_CAP_S, max(self._quiet, _PAUSE_FACTOR * self._pause))

    def _find_packet(
        self, wanted: Mapping[int, int | None], *, final: bool = False
    ) -> tuple[Packet | _Garbled | None, bool]:
        """Look through the buffer for a good packet; (packet, whether one may be growing).

        Instead of a packet, :data:`_GARBLED` means the buffer ends with a packet of the
        expected length whose checksum is wrong: it is complete, so NAK without waiting.
        While a packet that starts earlier is still arriving, later candidates (which may
        lie inside its data) are only considered once the line is quiet (``final``).
        """
        raw = self._raw
        decoder = self._decoder
        incomplete = False
        damaged_end = -1
        for start in _header_positions(raw, wanted):
            if len(raw) - start < HEADER_SIZE:
                incomplete = True
                if final:
                    continue
                break
            length = raw[start + 2] | raw[start + 3] << 8
            known = wanted.get(raw[start + 1])
            # A header at the very start of what arrived is taken at its word even when
            # its length is not the one expected (a camera that ignored register 77).
            if length > MAX_DATA or (known is not None and length != known and start):
                continue
            end = start + HEADER_SIZE + length + TRAILER_SIZE
            if len(raw) < end:
                incomplete = True
                if final:
                    continue
                break
            decoder.reset()
            items = decoder.feed(raw[start:end])
            decoder.reset()
            if len(items) == 1 and isinstance(items[0], Packet):
                if start:
                    log.debug("skipped %d bytes of noise before a packet", start)
                del raw[:end]
                return items[0], False
            if known == length:
                damaged_end = end
        if damaged_end == len(raw):
            return _GARBLED, False
        return None, incomplete

    def _fill(self, deadline: float) -> bool:
        """Wait (at most until ``deadline``) for bytes and add them to the buffer."""
        while True:
            chunk = self._read(block=True)
            if chunk:
                self._raw += chunk
                return True
            if time.monotonic() >= deadline:
                return False

    def _discard_input(self) -> None:
        """Drop input until the line has been quiet for a moment (bounded)."""
        self._raw.clear()
        limit = time.monotonic() + max(self._timeouts.next_packet * 4, 1.0)
        while time.monotonic() < limit:
            if not self._fill(time.monotonic() + self._quiet):
                break
            self._raw.clear()
        self._raw.clear()

    def _flush_input(self) -> None:
        self._raw.clear()
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

    # -- sending --------------------------------------------------------------------------

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
        # A burst must end before we NAK it: allow for 128 byte times at slow speeds.
        self._quiet = max(self._timeouts.quiet, 128 * 10 / speed)

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


def _packet_length(index: int, total: int | None, packet_size: int) -> int | None:
    """Data length of packet ``index`` of a reply of ``total`` bytes, if known."""
    if total is None:
        return None
    if total == 0:
        return 0
    return max(0, min(packet_size, total - index * packet_size))


def _header_positions(raw: bytearray, wanted: Mapping[int, int | None]) -> list[int]:
    """Offsets in ``raw`` where a data packet with a wanted sequence number may start."""
    positions: set[int] = set()
    for seq in wanted:
        for kind in _DATA_TYPES:
            pattern = bytes((kind, seq))
            at = raw.find(pattern)
            while at >= 0:
                positions.add(at)
                at = raw.find(pattern, at + 1)
    if raw and raw[-1] in _DATA_TYPES:
        positions.add(len(raw) - 1)
    return sorted(positions)
