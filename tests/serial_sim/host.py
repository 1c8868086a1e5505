"""A bare-bones host for tests: opens the simulator's pty and speaks packets.py to it."""

from __future__ import annotations

import os
import select
import time
import tty

from camera2mqtt.cameras.serial.packets import (
    BadChecksum,
    Control,
    ControlByte,
    DecodedItem,
    Garbage,
    Packet,
    PacketDecoder,
    encode_get_int,
    encode_set_int,
)

READ_TIMEOUT_S = 5.0  # generous: the machine is shared


class Host:
    """The host end of the line, with bounded reads (never blocks past its timeout)."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)
        self.decoder = PacketDecoder()
        self.items: list[DecodedItem] = []

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def read_item(self, timeout: float = READ_TIMEOUT_S) -> DecodedItem | None:
        """The next item from the camera, or None if nothing came within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.items:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([self.fd], [], [], remaining)
            if readable:
                try:
                    data = os.read(self.fd, 4096)
                except BlockingIOError:
                    continue
                self.items.extend(self.decoder.feed(data))
        return self.items.pop(0)

    def expect_control(self, value: Control, timeout: float = READ_TIMEOUT_S) -> None:
        item = self.read_item(timeout)
        assert item == ControlByte(value), f"expected {value!r}, got {item!r}"

    def init(self, speed_code: int | None = 5) -> None:
        self.write(b"\x00")
        self.expect_control(Control.NAK)
        if speed_code is not None:
            self.write(encode_set_int(17, speed_code, first=True))
            self.expect_control(Control.ACK)

    def read_reply(self, timeout: float = READ_TIMEOUT_S) -> bytes | Control:
        """A whole data reply (ACKing each packet), or the single byte the camera sent."""
        data = bytearray()
        while True:
            item = self.read_item(timeout)
            if item is None:
                raise TimeoutError("the camera did not answer")
            if isinstance(item, ControlByte):
                assert not data, f"control byte {item} inside a data reply"
                return item.value
            assert not isinstance(item, Garbage | BadChecksum), f"unexpected {item!r}"
            assert isinstance(item, Packet) and item.is_data
            data += item.data
            self.write(bytes((Control.ACK,)))
            if item.is_last:
                return bytes(data)

    def command(self, packet: bytes, timeout: float = READ_TIMEOUT_S) -> bytes | Control:
        self.write(packet)
        return self.read_reply(timeout)

    def get_int(self, register: int) -> int | Control:
        reply = self.command(encode_get_int(register))
        if isinstance(reply, bytes):
            assert len(reply) == 4
            return int.from_bytes(reply, "little")
        return reply

    def nothing_for(self, seconds: float) -> bool:
        """True if the camera sends nothing for ``seconds``."""
        return self.read_item(seconds) is None
