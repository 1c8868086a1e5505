"""The camera's protocol engine on its own: no pty, a fake clock, every command shape."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from camera2mqtt.cameras.serial.packets import (
    Control,
    ControlByte,
    Packet,
    PacketDecoder,
    encode_command,
    encode_get_int,
    encode_set_int,
)
from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.serial.faults import SerialFaults
from camera2mqtt.sim.serial.models import MODELS, get_model
from camera2mqtt.sim.serial.protocol import CameraProtocol
from camera2mqtt.sim.serial.state import DeviceState

SMALL_FRAMES = [("P1010001.JPG", make_jpeg(64, 48, "a")), ("P1010002.JPG", make_jpeg(80, 60, "b"))]


class Wire:
    """Collects what the camera sends, with the speed it was sent at."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, int]] = []

    def __call__(self, data: bytes, speed: int) -> None:
        self.sent.append((data, speed))

    def take(self) -> list[object]:
        decoder = PacketDecoder()
        items = [item for data, _ in self.sent for item in decoder.feed(data)]
        self.sent.clear()
        return items


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Engine = tuple[CameraProtocol, Wire, FakeClock]


def engine(model: str = "c-2020z", idle: float | None = None) -> Engine:
    wire, clock = Wire(), FakeClock()
    state = DeviceState(get_model(model), SMALL_FRAMES)
    protocol = CameraProtocol(state, SerialFaults(), wire, idle_reset_s=idle, clock=clock)
    return protocol, wire, clock


def test_idle_reset_on_a_fake_clock() -> None:
    protocol, wire, clock = engine(idle=5.0)
    protocol.receive(b"\x00")
    protocol.receive(encode_set_int(17, 5, first=True))
    assert wire.sent == [(b"\x15", 19200), (b"\x06", 19200)]  # the ACK goes at the old speed
    wire.sent.clear()
    clock.now += 4.9
    assert protocol.poll() is not None
    assert wire.sent == []
    clock.now += 0.2
    protocol.poll()
    assert wire.sent == [(b"\xff", 115200)]
    assert protocol.state.speed == 19200 and not protocol.in_session


def test_action_completes_on_the_timer() -> None:
    protocol, wire, clock = engine()
    protocol.receive(b"\x00")
    wire.sent.clear()
    protocol.receive(encode_command(2, 2, b"\x00"))
    assert wire.take() == [ControlByte(Control.ACK)]
    protocol.receive(encode_get_int(10))  # busy: ignored
    assert wire.take() == []
    clock.now += 5
    protocol.poll()
    assert wire.take() == [ControlByte(Control.ENQ)]
    protocol.receive(encode_get_int(10))
    assert wire.take() == [Packet(0x03, 0, b"\x03\x00\x00\x00")]


def int32(value: int) -> bytes:
    return value.to_bytes(4, "little")


commands = st.builds(
    lambda opcode, register, argument, first: encode_command(
        opcode, register, argument, first=first
    ),
    st.integers(0, 6),
    st.integers(0, 255),
    st.one_of(st.binary(max_size=8), st.integers(0, 2**32 - 1).map(int32)),
    st.booleans(),
)


@settings(deadline=None, max_examples=150)
@given(
    st.sampled_from(sorted(MODELS)),
    st.lists(st.one_of(commands, st.sampled_from([b"\x06", b"\x15", b"\x00"])), max_size=25),
)
def test_any_command_sequence_gets_a_well_formed_answer(model: str, inputs: list[bytes]) -> None:
    protocol, wire, clock = engine(model)
    protocol.receive(b"\x00")
    for data in inputs:
        protocol.receive(data)  # must not raise
        clock.now += 2  # let actions complete
        protocol.poll()
        for item in wire.take():
            assert isinstance(item, Packet | ControlByte), item
            if isinstance(item, Packet):
                assert item.is_data
                protocol.receive(b"\x06")
    assert all(len(data) > 0 for data, _ in wire.sent)
