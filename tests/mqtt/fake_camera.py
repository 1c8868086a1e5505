"""An in-process camera for the service tests: a real Camera subclass, no transport.

The wire-level behaviour of drivers is tested against the simulators elsewhere; here only the
daemon's wiring (queues, replies, availability, discovery) is under test.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from camera2mqtt.cameras.base import (
    Camera,
    CameraInfo,
    CameraStatus,
    CameraUnreachable,
    Capability,
    ImageRef,
    InvalidCommand,
    Property,
)
from camera2mqtt.files import write_atomically
from camera2mqtt.sim.images import make_jpeg

PHOTO = make_jpeg(800, 600, "photo", seed=1)


@dataclass
class FakeWorld:
    """What the fake cameras of one test share: presence and what was done to them."""

    present: bool = True
    images: list[ImageRef] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=lambda: {"takemode": "P"})
    download_gate: threading.Event | None = None
    download_started: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, call: str) -> None:
        with self.lock:
            self.calls.append(call)

    def factory(self, camera_config: object) -> FakeCamera:
        return FakeCamera(self)


class FakeCamera(Camera):
    kind = "fake"

    def __init__(self, world: FakeWorld) -> None:
        self.world = world

    def _check(self) -> None:
        if not self.world.present:
            raise CameraUnreachable("The fake camera is away.")

    def connect(self) -> CameraInfo:
        self._check()
        self.world.record("connect")
        self._info = CameraInfo(
            "FAKE-1", manufacturer="Fake", firmware="1.0", capabilities=frozenset(Capability)
        )
        return self._info

    def close(self) -> None:
        self.world.record("close")

    def status(self) -> CameraStatus:
        self._check()
        return CameraStatus(
            battery_percent=80, frames_left=100, frames_taken=len(self.world.images), mode="rec"
        )

    def shoot(self) -> list[ImageRef]:
        self._check()
        self.world.record("shoot")
        number = len(self.world.images) + 1
        ref = ImageRef(f"/DCIM/100FAKE/P{number:07d}.JPG", len(PHOTO), datetime(2024, 5, 1, 12))
        self.world.images.append(ref)
        return [ref]

    def list_images(self) -> list[ImageRef]:
        self._check()
        return list(self.world.images)

    def download(self, ref, dest_dir: Path, *, progress=None, cancel=None) -> Path:
        self._check()
        self.world.record(f"download {ref.name}")
        gate = self.world.download_gate

        def chunks():
            yield PHOTO[:1000]
            self.world.download_started.set()
            if gate is not None:
                gate.wait(20)
            yield PHOTO[1000:]

        return write_atomically(dest_dir, ref.name, chunks(), expected_size=ref.size, cancel=cancel)

    def thumbnail(self, ref: ImageRef) -> bytes:
        return make_jpeg(160, 120, "thumb")

    def snapshot(self) -> bytes:
        self._check()
        return make_jpeg(1280, 960, "live", seed=2)

    def set_clock(self, when: datetime | None = None) -> None:
        self.world.record("set_clock")

    def power_off(self) -> None:
        self.world.record("power_off")

    def properties(self) -> list[Property]:
        return [
            Property(name, value, ("iAuto", "P", "A"), writable=True)
            for name, value in self.world.properties.items()
        ]

    def get_property(self, name: str) -> Property:
        for prop in self.properties():
            if prop.name == name:
                return prop
        raise InvalidCommand(f"No property {name!r}.", valid=tuple(self.world.properties))

    def set_property(self, name: str, value: str) -> None:
        prop = self.get_property(name)
        if value not in prop.allowed:
            raise InvalidCommand(f"{value!r} is not allowed for {name}.", valid=prop.allowed)
        self.world.record(f"set {name}={value}")
        self.world.properties[name] = value
