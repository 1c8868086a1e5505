"""The camera side of the photopc/Sierra protocol, independent of the pty.

:class:`CameraProtocol` is fed the host's bytes with :meth:`~CameraProtocol.receive`,
sends its answers through the ``send`` callable it was given, and keeps its own timers
(action completion, delayed replies, idle reset), run by :meth:`~CameraProtocol.poll`.
One thread drives it; the state it changes is shared under ``state.lock``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from camera2mqtt.cameras.serial.packets import (
    BadChecksum,
    Command,
    CommandSubtype,
    Control,
    ControlByte,
    Garbage,
    Opcode,
    Packet,
    PacketDecoder,
    encode_data,
    split_data,
)
from camera2mqtt.sim.serial.faults import SerialFaults
from camera2mqtt.sim.serial.state import (
    BASE_SPEED,
    FRAME_REGISTERS,
    SPEED_CODES,
    WRITABLE_INT_REGISTERS,
    WRITABLE_VAR_REGISTERS,
    DeviceState,
)

__all__ = ["CameraProtocol", "ReceivedCommand"]

log = logging.getLogger(__name__)

PARTIAL_PACKET_TIMEOUT_S = 1.0  # a half packet from the host older than this is dropped
MAX_RESENDS = 10  # NAKs for one packet before the camera gives the transfer up
PREVIEW_S = 0.05  # action 5 takes this long
PREVIEW_NAME = "PREVIEW.JPG"  # register 79 of frame 0 on an empty card
ERASE_ACTIONS = frozenset({0, 1, 7})
FOLDER_NAME_WIDTH = 11  # folder names come back padded with blanks
BYTES_PER_FRAME_ON_CARD = 400_000  # register 28 "memory left" = frames left * this

_INT32 = struct.Struct("<I")
_SPEED_TO_CODE = {speed: code for code, speed in SPEED_CODES.items()}


@dataclass(frozen=True)
class ReceivedCommand:
    """One command packet as the camera received it (for tests and the log)."""

    opcode: int
    register: int
    argument: bytes
    first: bool  # subtype 0x53
    speed: int  # line speed when it arrived
    answered: bool  # False if the camera ignored it (no session, busy, fault)


class _Silent(Enum):
    """A command the camera does not answer at all."""

    NO_ANSWER = "no answer"


_NO_ANSWER = _Silent.NO_ANSWER
_Reply = bytes | list[bytes] | _Silent  # a control byte, a data payload split, or silence


class CameraProtocol:
    """The simulated camera's protocol engine."""

    def __init__(
        self,
        state: DeviceState,
        faults: SerialFaults,
        send: Callable[[bytes, int], None],
        *,
        idle_reset_s: float | None,
        clock: Callable[[], float],
    ) -> None:
        self.state = state
        self.faults = faults
        self._send_raw = send
        self._idle_reset_s = idle_reset_s
        self._clock = clock
        self._decoder = PacketDecoder()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._timer_ids = itertools.count()
        self._busy = False  # an action is running; commands are ignored until its ENQ
        self._reply_generation = 0  # invalidates a scheduled reply when a new command comes
        self._transfer: list[bytes] = []  # data packets not sent yet
        self._awaiting: bytes | None = None  # the packet sent last, waiting for ACK or NAK
        self._resends = 0
        self._last_activity = clock()
        self._last_receive = self._last_activity
        self.in_session = False
        self.log_lock = threading.Lock()
        self.commands: list[ReceivedCommand] = []
        self.naks_received = 0
        self.bad_checksums_received = 0
        self.packets_resent = 0
        self.idle_resets = 0
        self.garbage_bytes = 0
        self.speed_mismatches = 0

    # -- driving --------------------------------------------------------------------------------

    def receive(self, data: bytes, host_speed: int | None = None) -> None:
        """Bytes from the host; ``host_speed`` is the baud rate they were sent at, if known.

        Bytes sent at another speed than the camera's arrive as noise: they are dropped.
        """
        now = self._clock()
        self._last_activity = self._last_receive = now
        if host_speed is not None and host_speed != self.state.speed:
            self.speed_mismatches += 1
            self.garbage_bytes += len(data)
            log.info("bytes sent at %d baud, camera at %d: noise", host_speed, self.state.speed)
            return
        for item in self._decoder.feed(data):
            if isinstance(item, Packet):
                self._on_packet(item)
            elif isinstance(item, ControlByte):
                self._on_control(item.value)
            elif isinstance(item, BadChecksum):
                self.bad_checksums_received += 1
                log.info("host checksum %#06x, want %#06x: NAK", item.received, item.computed)
                self._send(bytes((Control.NAK,)))
            elif isinstance(item, Garbage):
                self.garbage_bytes += len(item.data)
                log.debug("ignoring %d stray bytes from host", len(item.data))

    def poll(self) -> float | None:
        """Run what is due; returns the clock time of the next deadline, if any."""
        now = self._clock()
        while self._timers and self._timers[0][0] <= now:
            _, _, callback = heapq.heappop(self._timers)
            callback()
            now = self._clock()
        if self._decoder.in_packet and now - self._last_receive >= PARTIAL_PACKET_TIMEOUT_S:
            self.garbage_bytes += len(self._decoder.reset())
        deadlines = [self._timers[0][0]] if self._timers else []
        if self._decoder.in_packet:
            deadlines.append(self._last_receive + PARTIAL_PACKET_TIMEOUT_S)
        if self.in_session and self._idle_reset_s is not None and not self._busy:
            idle_at = self._last_activity + self._idle_reset_s
            if now >= idle_at:
                self._idle_reset()
            else:
                deadlines.append(idle_at)
        return min(deadlines) if deadlines else None

    # -- input ----------------------------------------------------------------------------------

    def _on_control(self, value: Control) -> None:
        if value == Control.NUL:
            self._end_transfer()
            self._busy = False
            self.in_session = True
            self.state.new_session()
            log.info("init byte: camera signature, session at %d baud", BASE_SPEED)
            self._reply(bytes((Control.NAK,)))
        elif value == Control.ACK:
            if self._awaiting is None:
                return
            if self.faults.take_lost_ack():
                log.info("fault: the host's ACK got lost; sending the same packet again")
                self.packets_resent += 1
                self._send(self._awaiting)
                return
            self._send_next_packet()
        elif value == Control.NAK:
            self.naks_received += 1
            if self._awaiting is None:
                return  # nothing sent yet (e.g. a reply still delayed): the host just waits
            self._resends += 1
            if self._resends > MAX_RESENDS:
                log.warning("host refused one packet %d times; transfer abandoned", MAX_RESENDS)
                self._end_transfer()
                return
            self.packets_resent += 1
            self._send(self._awaiting)

    def _on_packet(self, packet: Packet) -> None:
        if not packet.is_command:
            log.info("ignoring a host data packet (uploads are not simulated)")
            return
        command = packet.command()
        answered = self.in_session and not self._busy
        with self.log_lock:
            self.commands.append(
                ReceivedCommand(
                    command.opcode,
                    command.register,
                    command.argument,
                    packet.seq == CommandSubtype.FIRST,
                    self.state.speed,
                    answered,
                )
            )
        if not answered:
            log.info("ignoring command %s: %s", command, "busy" if self._busy else "no session")
            return
        self._end_transfer()
        with self.state.lock:
            reply = self._dispatch(command)
        if reply is _NO_ANSWER:
            return
        self._reply(reply)

    # -- output ---------------------------------------------------------------------------------

    def _send(self, data: bytes, speed: int | None = None) -> None:
        """Put ``data`` on the line at ``speed`` (default: the current speed)."""
        self._last_activity = self._clock()
        self._send_raw(self.faults.mangle(data), speed or self.state.speed)
        self._last_activity = self._clock()

    def _reply(self, reply: bytes | list[bytes], speed: int | None = None) -> None:
        """Answer a command, honouring the missing-reply and delay faults."""
        if self.faults.take_missing_reply():
            log.info("fault: reply left out")
            return
        self._reply_generation += 1
        delay = self.faults.delay_s
        if delay > 0:
            generation = self._reply_generation

            def later() -> None:
                if generation == self._reply_generation:
                    self._start_reply(reply, speed)

            self._schedule(delay, later)
        else:
            self._start_reply(reply, speed)

    def _start_reply(self, reply: bytes | list[bytes], speed: int | None = None) -> None:
        if isinstance(reply, bytes):
            self._send(reply, speed)
            return
        self._transfer = [
            encode_data(piece, seq, last=seq == len(reply) - 1) for seq, piece in enumerate(reply)
        ]
        self._send_next_packet()

    def _send_next_packet(self) -> None:
        if not self._transfer:
            self._awaiting = None
            return
        packet = self._transfer.pop(0)
        self._awaiting = packet
        self._resends = 0
        if self.faults.take_corrupt_packet():
            log.info("fault: wrong checksum on a data packet")
            wrong = bytearray(packet)
            wrong[-2] ^= 0xFF
            self._send(bytes(wrong))
        else:
            self._send(packet)

    def _end_transfer(self) -> None:
        self._transfer = []
        self._awaiting = None
        self._reply_generation += 1

    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (self._clock() + delay, next(self._timer_ids), callback))

    def _idle_reset(self) -> None:
        log.info("idle for %.1f s: sending 0xff, back to %d baud", self._idle_reset_s, BASE_SPEED)
        self.idle_resets += 1
        self._end_session()

    def _end_session(self) -> None:
        """The camera ends the session on its own: 0xff, then 19200 and no session."""
        self._end_transfer()
        speed = self.state.speed
        self.in_session = False
        self.state.new_session()
        self._send(bytes((Control.END,)), speed)

    # -- commands -------------------------------------------------------------------------------

    @property
    def _reject(self) -> bytes:
        return bytes((self.state.profile.reject_byte,))

    def _dispatch(self, command: Command) -> _Reply:
        handler = {
            Opcode.SET_INT: self._set_int,
            Opcode.GET_INT: self._get_int,
            Opcode.ACTION: self._action,
            Opcode.SET_VAR: self._set_var,
            Opcode.GET_VAR: self._get_var,
        }.get(command.opcode)
        if handler is None:
            return self._reject
        if command.opcode != Opcode.ACTION and command.register in self.state.profile.unsupported:
            return self._reject
        return handler(command)

    def _ack(self) -> bytes:
        return bytes((Control.ACK,))

    def _int_reply(self, value: int | None) -> _Reply:
        if value is None:
            return self._reject
        return [_INT32.pack(value & 0xFFFFFFFF)]

    def _var_reply(self, value: bytes | None) -> _Reply:
        if value is None:
            return self._reject
        return split_data(value, self.state.packet_size)

    def _current(self) -> tuple[str, bytes] | None:
        """The frame register 4 points at (frame 0: the live preview, under the newest name).

        Frame 0 answers in any folder (gphoto2 reads it after its folder test moved to the
        root); numbered frames only in the image folder.
        """
        state = self.state
        if state.current_frame == 0:
            if state.preview is None:
                state.take_preview()
            newest = state.frames[-1][0] if state.frames else PREVIEW_NAME
            return newest, state.preview or b""
        if not state.in_image_folder:
            return None
        return state.frame(state.current_frame)

    def _set_int(self, command: Command) -> _Reply:
        state = self.state
        register, value = command.register, command.int_argument
        if register == 83 and state.profile.folders:
            if value is None:  # "null" write: reset the folder walk
                state.folder_choice = 0
                return self._ack()
            if 1 <= value <= len(state.subfolders()):
                state.folder_choice = value
                return self._ack()
            return self._reject
        if value is None or register not in WRITABLE_INT_REGISTERS or register == 83:
            return self._reject
        if register == 4:
            state.current_frame = value
            state.frame_selected = True
        elif register == 2:
            state.set_clock(value)
        elif register == 17:
            return self._set_speed(value)
        else:
            state.int_registers[register] = value
        return self._ack()

    def _set_speed(self, code: int) -> _Reply:
        speed = BASE_SPEED if code == 0 else SPEED_CODES.get(code)
        if speed is None or speed > self.state.profile.max_speed:
            log.info("refusing speed code %d (limit %d baud)", code, self.state.profile.max_speed)
            return self._reject
        # the ACK still goes out at the old speed; the state changes first so that a host
        # that has seen the ACK also sees the new speed
        old_speed, self.state.speed = self.state.speed, speed
        log.info("line speed now %d baud", speed)
        self._reply(self._ack(), old_speed)
        return _NO_ANSWER

    def _get_int(self, command: Command) -> _Reply:
        state = self.state
        register = command.register
        if register in FRAME_REGISTERS and not state.frame_selected:
            log.info("register %d read before register 4 was set: no answer", register)
            return _NO_ANSWER
        count = len(state.frames) if state.in_image_folder else 0
        computed: dict[int, Callable[[], int | None]] = {
            2: lambda: int(state.clock),
            4: lambda: state.current_frame,
            10: lambda: count,
            11: lambda: state.frames_left,
            12: lambda: _length(self._current()),
            13: lambda: self._thumbnail_length(),
            16: lambda: state.battery,
            17: lambda: _SPEED_TO_CODE.get(state.speed),
            28: lambda: state.frames_left * BYTES_PER_FRAME_ON_CARD,
            39: lambda: self._protection(),
            40: lambda: len(state.frames),
            51: lambda: 2 if state.card_present else 1,
            60: lambda: len(state.frames),
            83: lambda: len(state.subfolders()) if state.profile.folders else None,
        }
        if register in computed:
            return self._int_reply(computed[register]())
        return self._int_reply(state.int_registers.get(register))

    def _thumbnail_length(self) -> int | None:
        frame = self._current()
        if frame is None or self.state.current_frame == 0:
            return None
        return len(self.state.thumbnail(*frame))

    def _protection(self) -> int | None:
        frame = self._current()
        return None if frame is None else int(self.state.protected(frame[0]))

    def _get_var(self, command: Command) -> _Reply:
        state = self.state
        register = command.register
        if register in FRAME_REGISTERS and not state.frame_selected:
            log.info("register %d read before register 4 was set: no answer", register)
            return _NO_ANSWER
        if register in state.profile.empty:
            return [b""]
        if register == 14:
            frame = self._current()
            return self._var_reply(None if frame is None else frame[1])
        if register == 15:
            frame = self._current()
            if frame is None or state.current_frame == 0:
                return self._reject
            return self._var_reply(state.thumbnail(*frame))
        if register == 46:
            return self._var_reply(state.camera_summary())
        if register == 47:
            summary = state.summary(state.current_frame) if state.in_image_folder else b""
            return self._var_reply(summary or None)
        if register == 79:
            frame = self._current()
            return self._var_reply(None if frame is None else frame[0].encode() + b"\0")
        if register == 84 and state.profile.folders:
            names = state.subfolders()
            if not 1 <= state.folder_choice <= len(names):
                return self._reject
            name = names[state.folder_choice - 1].ljust(FOLDER_NAME_WIDTH)
            return self._var_reply(name.encode() + b"\0")
        return self._var_reply(state.var_registers.get(register))

    def _set_var(self, command: Command) -> _Reply:
        state = self.state
        register, value = command.register, command.argument
        if register == 84 and state.profile.folders:
            return self._ack() if self._change_folder(value) else self._reject
        if register not in WRITABLE_VAR_REGISTERS:
            return self._reject
        state.var_registers[register] = value if value.endswith(b"\0") else value + b"\0"
        return self._ack()

    def _change_folder(self, value: bytes) -> bool:
        state = self.state
        text = value.rstrip(b"\0").decode("ascii", "replace").strip()
        path = list(state.folder)
        if text.startswith("\\"):
            path = []
        for part in filter(None, text.split("\\")):
            below = state.profile.folders[len(path) : len(path) + 1]
            if not below or below[0].upper() != part.upper():
                return False
            path.append(below[0])
        state.folder = tuple(path)
        state.folder_choice = 0
        return True

    def _action(self, command: Command) -> _Reply:
        state = self.state
        code = command.register
        arg = command.argument[0] if command.argument else 0
        work: Callable[[], None]
        delay = state.profile.action_s
        if code == 0:
            if not state.frames:
                return self._reject
            work = lambda: state.erase(len(state.frames))  # noqa: E731
        elif code == 1:
            work = state.erase_all
        elif code == 2:
            if not state.card_present or state.frames_left == 0:
                return self._reject
            work = self._take_picture
        elif code == 4:
            work = self._finish_session
            delay = 0.0
        elif code == 5:
            work = self._take_preview
            delay = PREVIEW_S
        elif code == 7:
            if not state.frame_selected or state.frame(state.current_frame) is None:
                return self._reject
            work = lambda: state.erase(state.current_frame)  # noqa: E731
        elif code == 9:
            if not state.frame_selected or state.frame(state.current_frame) is None:
                return self._reject
            work = lambda: state.set_protected(state.current_frame, bool(arg))  # noqa: E731
        elif code in (6, 8, 12):  # calibration, LCD mode, LCD test: nothing to simulate
            work = _nothing
        else:
            return self._reject
        self._reply(self._ack())
        self._busy = True

        def complete() -> None:
            with state.lock:
                work()
            self._busy = False
            if code == 4:
                self.in_session = False
            self._send(bytes((Control.ENQ,)))
            if code in ERASE_ACTIONS and state.profile.erase_ends_session:
                self._end_session()

        self._schedule(delay + self.faults.delay_s, complete)
        return _NO_ANSWER

    def _take_picture(self) -> None:
        number = self.state.take_picture()
        self.state.current_frame = number
        self.state.frame_selected = True

    def _take_preview(self) -> None:
        self.state.take_preview()
        self.state.current_frame = 0
        self.state.frame_selected = True

    def _finish_session(self) -> None:
        self.state.new_session()


def _length(frame: tuple[str, bytes] | None) -> int | None:
    return None if frame is None else len(frame[1])


def _nothing() -> None:
    return None
