"""A settable clock, a recording shooter and a way to drive the engine through time."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from camera2mqtt.cameras.base import CameraError, ImageRef
from camera2mqtt.statedb import StateDB
from camera2mqtt.timelapse import TimelapseConfig, TimelapseEngine, TimelapseStore

OSLO = ZoneInfo("Europe/Oslo")
MAX_STEPS = 100_000


@dataclass
class FakeClock:
    """Wall and monotonic clocks that move only when told (a wall step leaves mono alone)."""

    wall_now: float
    mono_now: float = 1000.0
    tz: tzinfo | None = OSLO

    @classmethod
    def at(cls, text: str, tz: tzinfo = OSLO) -> FakeClock:
        return cls(datetime.fromisoformat(text).replace(tzinfo=tz).timestamp(), tz=tz)

    def wall(self) -> float:
        return self.wall_now

    def monotonic(self) -> float:
        return self.mono_now

    def advance(self, seconds: float) -> None:
        self.wall_now += seconds
        self.mono_now += seconds

    def step_wall(self, seconds: float) -> None:
        self.wall_now += seconds

    def local(self) -> datetime:
        return datetime.fromtimestamp(self.wall_now, self.tz)


@dataclass
class Shots:
    """A shooter that records the wall and monotonic time of each shot."""

    clock: FakeClock
    fail: CameraError | None = None
    walls: list[float] = field(default_factory=list)
    monos: list[float] = field(default_factory=list)
    properties: list[tuple[str, str]] = field(default_factory=list)

    def take_shot(self, timelapse: str) -> list[ImageRef]:
        if self.fail is not None:
            raise self.fail
        self.walls.append(self.clock.wall())
        self.monos.append(self.clock.monotonic())
        return [ImageRef(f"/DCIM/100OLYMP/P{len(self.walls):07d}.JPG", 10)]

    def fetch(self, ref: ImageRef, dest_dir: Path) -> Path:
        raise AssertionError("this timelapse does not fetch")

    def apply_property(self, name: str, value: str) -> None:
        self.properties.append((name, value))

    def local_times(self) -> list[str]:
        return [
            datetime.fromtimestamp(w, self.clock.tz).strftime("%Y-%m-%d %H:%M:%S")
            for w in self.walls
        ]


@dataclass
class Recorder:
    states: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    def publish_state(self, name: str, payload: str) -> None:
        self.states.setdefault(name, []).append(json.loads(payload))

    def publish_event(self, event: str, **fields: Any) -> None:
        self.events.append({"event": event, **fields})

    def last(self, name: str) -> dict[str, Any]:
        return self.states[name][-1]

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]


def make_engine(
    configs: list[TimelapseConfig],
    clock: FakeClock,
    db_path: Path,
    recorder: Recorder | None = None,
    *,
    video_runner: Any = None,
) -> tuple[TimelapseEngine, Recorder, StateDB]:
    recorder = recorder or Recorder()
    db = StateDB(db_path)
    engine = TimelapseEngine(
        configs,
        camera="cam",
        store=TimelapseStore(db),
        publish_state=recorder.publish_state,
        publish_event=recorder.publish_event,
        clock=clock,
        video_runner=video_runner or (lambda job: job()),
    )
    engine.republish()  # what the worker does once MQTT is connected
    return engine, recorder, db


def run_for(engine: TimelapseEngine, clock: FakeClock, shooter: Any, seconds: float) -> None:
    """Move the clocks forward by ``seconds``, stopping wherever the engine is due."""
    until = clock.mono_now + seconds
    for _ in range(MAX_STEPS):
        due = engine.next_due()
        if due > until:
            clock.advance(until - clock.mono_now)
            return
        clock.advance(max(0.0, due - clock.mono_now))
        engine.run_due(shooter)
    raise AssertionError("the engine was due more than MAX_STEPS times")


def timelapse(**settings: Any) -> TimelapseConfig:
    return TimelapseConfig(**{"name": "tl", "camera": "cam", "interval": 60.0, **settings})
