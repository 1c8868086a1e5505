"""Scenario controls of the serial simulator: line noise and a misbehaving camera.

A test changes the fields of a :class:`SerialFaults` while the simulator runs; every random
choice comes from one seeded generator so a failing run can be repeated.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

__all__ = ["SerialFaults"]


@dataclass
class SerialFaults:
    """Faults the simulated camera injects into what it sends.

    ``corrupt_rate``: fraction of sent bytes replaced by a random other byte.
    ``drop_rate``: fraction of sent bytes left out.
    ``missing_reply``: skip the next reply (to a command or to the init byte), once.
    ``delay_s``: wait this long before every reply.
    ``corrupt_packets``: send the next N data packets with a wrong checksum (the resend
    after the host's NAK is correct), a deterministic single checksum error.
    ``repeat_packets``: act as if the host's ACK of the next N data packets got lost on the
    line: the camera sends the same packet again, which the host must ACK and not keep twice.
    """

    corrupt_rate: float = 0.0
    drop_rate: float = 0.0
    missing_reply: bool = False
    delay_s: float = 0.0
    corrupt_packets: int = 0
    repeat_packets: int = 0
    seed: int = 0
    rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        init=False, repr=False, compare=False, default_factory=threading.Lock
    )

    def __post_init__(self) -> None:
        for name in ("corrupt_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction between 0 and 1, got {value}")
        if self.delay_s < 0:
            raise ValueError(f"delay_s must not be negative, got {self.delay_s}")
        self.rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self.rng = random.Random(seed)

    def clear(self) -> None:
        """Back to a well-behaved camera."""
        with self._lock:
            self.corrupt_rate = self.drop_rate = self.delay_s = 0.0
            self.missing_reply = False
            self.corrupt_packets = 0
            self.repeat_packets = 0

    reset = clear  # the name the Wi-Fi simulator's faults use

    def take_missing_reply(self) -> bool:
        with self._lock:
            missing, self.missing_reply = self.missing_reply, False
            return missing

    def take_corrupt_packet(self) -> bool:
        with self._lock:
            if self.corrupt_packets <= 0:
                return False
            self.corrupt_packets -= 1
            return True

    def take_lost_ack(self) -> bool:
        with self._lock:
            if self.repeat_packets <= 0:
                return False
            self.repeat_packets -= 1
            return True

    def mangle(self, data: bytes) -> bytes:
        """``data`` after line noise: some bytes dropped, some replaced."""
        with self._lock:
            if not self.corrupt_rate and not self.drop_rate:
                return data
            out = bytearray()
            for byte in data:
                if self.drop_rate and self.rng.random() < self.drop_rate:
                    continue
                if self.corrupt_rate and self.rng.random() < self.corrupt_rate:
                    byte ^= self.rng.randrange(1, 256)
                out.append(byte)
            return bytes(out)
