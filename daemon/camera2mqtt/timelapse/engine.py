"""The timelapse engine of one camera: sessions, the slot grid, missed slots, runtime control.

Each timelapse runs in sessions. A session has an anchor (the wall time of slot 0: the window
start, or the moment of a manual or automatic start) and takes slot ``k`` at
``anchor + k * interval``. Between slots the grid is kept on the monotonic clock (the mapping
wall -> monotonic is taken when the session starts or the daemon restarts), so a step of the
wall clock neither repeats nor skips shots; window edges and the next window are computed in
wall time. A slot is run at most once; a slot that cannot be run (camera away or busy, an
error, late by more than half an interval because the worker was busy, the daemon not
running) is counted as missed and reported as a ``shot_missed`` event.

The engine does no waiting of its own: the camera's worker asks :meth:`next_due` for the
monotonic time it must wake up at and calls :meth:`run_due` then, passing a :class:`Shooter`
that talks to the camera. Everything that must survive a restart is saved in the state file
through :class:`TimelapseStore` after each change.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

from camera2mqtt.cameras.base import (
    CameraBusy,
    CameraError,
    CameraUnreachable,
    ImageRef,
    newest_picture,
)
from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.timelapse.settings import TimelapseConfig
from camera2mqtt.timelapse.store import FrameRecord, TimelapseRecord, TimelapseStore
from camera2mqtt.timelapse.video import VideoError, assemble_video
from camera2mqtt.timelapse.windows import Window, WindowFinder, local_date

__all__ = [
    "CONTROL_ACTIONS",
    "MAX_COUNT",
    "MAX_INTERVAL",
    "MIN_INTERVAL",
    "MissReason",
    "Shooter",
    "SystemClock",
    "TimelapseClock",
    "TimelapseEngine",
    "TimelapseError",
    "TimelapseState",
]

log = logging.getLogger(__name__)

MIN_INTERVAL = 1.0
MAX_INTERVAL = 7 * 86400.0
MAX_COUNT = 1_000_000
RECHECK = 60.0  # seconds: how often a waiting timelapse looks at the wall clock again
LATE_FRACTION = 0.5  # a slot later than this part of an interval is missed, not taken
VIDEO_JOIN_TIMEOUT = 5.0
STAGING_FOLDER = ".camera2mqtt-staging"
CONTROL_ACTIONS = ("start", "stop", "pause", "resume", "set")


class TimelapseError(Camera2MqttError):
    """A timelapse command that cannot be done; the message says what to do instead."""


class TimelapseState(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    WAITING = "waiting"  # for its next window
    STOPPED = "stopped"  # no window: runs when started
    DONE = "done"  # no window left, or an automatic session that reached its count


class MissReason(enum.StrEnum):
    CAMERA_AWAY = "camera away"
    BUSY = "camera busy"
    ERROR = "error"
    NOT_RUNNING = "daemon not running"


class TimelapseClock(Protocol):
    """Wall clock (epoch seconds), monotonic clock, and the zone of local times (None:
    the system's)."""

    tz: tzinfo | None

    def wall(self) -> float: ...

    def monotonic(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    tz: tzinfo | None = None

    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class Shooter(Protocol):
    """The camera as the engine uses it (the worker's driver); raises CameraError."""

    def take_shot(self, timelapse: str) -> list[ImageRef]: ...

    def fetch(self, ref: ImageRef, dest_dir: Path) -> Path: ...

    def apply_property(self, name: str, value: str) -> None: ...


PublishState = Callable[[str, str], None]  # timelapse name, JSON payload (retained)
PublishEvent = Callable[..., None]  # event name, **fields
VideoRunner = Callable[[Callable[[], None]], None]  # runs a video job (default: a thread)


class _Runner:
    """One timelapse: its config, its persisted record and the session's monotonic grid."""

    def __init__(self, config: TimelapseConfig, record: TimelapseRecord, tz: tzinfo | None) -> None:
        self.config = config
        self.record = record
        self.windows = WindowFinder(config, tz)
        self.mono_anchor = 0.0  # monotonic time of slot 0 of the running session
        self.properties_pending = False
        self.published: str | None = None

    @property
    def interval(self) -> float:
        return self.record.interval or self.config.interval

    @property
    def count(self) -> int | None:
        return self.record.count or self.config.count

    @property
    def in_session(self) -> bool:
        return self.record.state in (TimelapseState.RUNNING, TimelapseState.PAUSED)

    def slot_time(self, slot: int) -> float:
        return self.mono_anchor + slot * self.interval

    def mono_end(self) -> float:
        record = self.record
        if record.ends is None or record.anchor is None:
            return math.inf
        return self.mono_anchor + (record.ends - record.anchor)


class TimelapseEngine:
    """Every timelapse of one camera."""

    def __init__(
        self,
        configs: Iterable[TimelapseConfig],
        *,
        camera: str,
        store: TimelapseStore,
        publish_state: PublishState,
        publish_event: PublishEvent,
        clock: TimelapseClock | None = None,
        video_runner: VideoRunner | None = None,
    ) -> None:
        self.camera = camera
        self._store = store
        self._publish_state = publish_state
        self._publish_event = publish_event
        self._clock = clock or SystemClock()
        self._video_runner = video_runner or self._video_thread
        self._video_threads: list[threading.Thread] = []
        self._runners: dict[str, _Runner] = {}
        for config in configs:
            record = store.load(camera, config.name) or TimelapseRecord(
                camera=camera, name=config.name, state=self._idle_state(config)
            )
            runner = _Runner(config, record, self._clock.tz)
            self._runners[config.name] = runner
            if runner.in_session:
                self._resume_after_restart(runner)
            elif config.windowed or record.state not in (
                TimelapseState.STOPPED,
                TimelapseState.DONE,
            ):
                self._update(runner, state=self._idle_state(config))

    # -- the worker's entry points ---------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._runners)

    def next_due(self) -> float:
        """The monotonic time at which :meth:`run_due` has something to do (inf: never)."""
        now = self._clock.monotonic()
        due = math.inf
        for runner in self._runners.values():
            due = min(due, self._runner_due(runner, now))
        return due

    def run_due(self, shooter: Shooter | None) -> None:
        """Start and end sessions and take the shots that are due; ``shooter`` None when the
        camera is not connected (due slots are then missed: camera away)."""
        for runner in self._runners.values():
            self._step(runner, shooter)

    def republish(self) -> None:
        for runner in self._runners.values():
            self._publish(runner, force=True)

    def fetched(self, camera_path: str) -> bool:
        """Whether a timelapse of this camera fetched ``camera_path`` as a frame."""
        return self._store.is_timelapse_frame(self.camera, camera_path)

    def status(self, name: str) -> dict[str, Any]:
        return self._status(self._runner(name))

    def close(self, timeout: float = VIDEO_JOIN_TIMEOUT) -> None:
        """Wait (bounded) for videos being made."""
        deadline = time.monotonic() + timeout
        for thread in self._video_threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- runtime control -------------------------------------------------------------------

    def control(
        self, action: str, name: str, *, interval: float | None = None, count: int | None = None
    ) -> dict[str, Any]:
        """``timelapse_<action>`` for one timelapse; returns its state, raises
        :class:`TimelapseError` for what cannot be done."""
        runner = self._runner(name)
        state = runner.record.state
        if action == "start":
            if state == TimelapseState.PAUSED:
                self._resume(runner)
            elif state != TimelapseState.RUNNING:
                self._start_session(runner, manual=True)
        elif action == "stop":
            if runner.in_session:
                self._finish(runner, "stopped")
        elif action == "pause":
            if state != TimelapseState.RUNNING:
                raise TimelapseError(
                    f"Timelapse {name} is {state}, not running; start it before pausing."
                )
            self._update(runner, state=TimelapseState.PAUSED)
            self._publish_event("timelapse_paused", timelapse=name)
        elif action == "resume":
            if state != TimelapseState.PAUSED:
                raise TimelapseError(
                    f"Timelapse {name} is {state}, not paused; use timelapse_start to start it."
                )
            self._resume(runner)
        elif action == "set":
            self._set(runner, interval, count)
        else:
            raise TimelapseError(f"Unknown timelapse action {action!r}.")
        self._publish(runner)
        return self._status(runner)

    def _runner(self, name: str | None) -> _Runner:
        runner = self._runners.get(name or "")
        if runner is None:
            known = ", ".join(self._runners) or "none is configured"
            raise TimelapseError(
                f"There is no timelapse {name!r} on camera {self.camera}; configured: {known}."
            )
        return runner

    def _set(self, runner: _Runner, interval: float | None, count: int | None) -> None:
        if interval is None and count is None:
            raise TimelapseError("timelapse_set needs 'interval' (seconds) and/or 'count'.")
        if interval is not None and not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise TimelapseError(
                f"'interval' must be from {MIN_INTERVAL:g} to {MAX_INTERVAL:g} seconds."
            )
        if count is not None and not 1 <= count <= MAX_COUNT:
            raise TimelapseError(f"'count' must be from 1 to {MAX_COUNT}.")
        record = runner.record
        if interval is not None and runner.in_session and record.anchor is not None:
            # The planned next shot stays where it is; the new interval runs from there.
            old = runner.interval
            anchor = record.anchor + record.next_slot * old
            runner.mono_anchor += record.next_slot * old
            self._update(runner, anchor=anchor, next_slot=0, interval=interval)
        elif interval is not None:
            self._update(runner, interval=interval)
        if count is not None:
            self._update(runner, count=count)
            if runner.in_session and runner.record.shots >= count:
                self._finish(runner, "count")

    # -- sessions --------------------------------------------------------------------------

    def _idle_state(self, config: TimelapseConfig) -> str:
        if config.windowed:
            wall = self._clock.wall()
            if WindowFinder(config, self._clock.tz).next(wall) is None:
                return TimelapseState.DONE
            return TimelapseState.WAITING
        return TimelapseState.WAITING if config.autostart else TimelapseState.STOPPED

    def _current_window(self, runner: _Runner, wall: float) -> Window | None:
        if not runner.config.windowed:
            return None
        window = runner.windows.next(wall)
        return window if window is not None and window.contains(wall) else None

    def _start_session(
        self, runner: _Runner, *, manual: bool, window: Window | None = None
    ) -> None:
        config = runner.config
        wall = self._clock.wall()
        mono = self._clock.monotonic()
        anchor = window.start if window is not None else wall
        ends = window.end if window is not None else None
        if config.duration is not None:
            ends = min(ends or math.inf, anchor + config.duration)
        interval = runner.interval
        # A window opened before now (daemon started mid-window): its first slot after now.
        first = max(0, math.ceil((wall - anchor) / interval - 1e-9))
        session, folder = self._session_folder(runner, anchor)
        runner.mono_anchor = mono - (wall - anchor)
        runner.properties_pending = bool(config.properties)
        self._update(
            runner,
            state=TimelapseState.RUNNING,
            session=session,
            anchor=anchor,
            ends=ends,
            manual=manual,
            next_slot=first,
            shots=0,
            missed=0,
            folder=None if folder is None else str(folder),
        )
        log.info(
            "Camera %s: timelapse %s session %s started (%s)",
            self.camera,
            config.name,
            session,
            "manual" if manual else "window" if window else "automatic",
        )
        self._publish_event(
            "timelapse_started", timelapse=config.name, session=session, manual=manual
        )

    def _session_folder(self, runner: _Runner, anchor: float) -> tuple[str, Path | None]:
        """The session's label (its date, ``-2`` etc. when the date already has a session
        with frames) and the folder its frames go to (None without ``fetch``)."""
        config = runner.config
        day = local_date(anchor, self._clock.tz).isoformat()
        label = day
        for number in range(2, 1000):
            folder = self._frame_path(config, label, 1).parent if config.fetch else None
            used = folder is not None and folder.is_dir() and any(folder.iterdir())
            if not used and label != runner.record.session:
                return label, folder
            label = f"{day}-{number}"
        raise TimelapseError(f"Too many sessions of timelapse {config.name} on {day}.")

    def _frame_path(self, config: TimelapseConfig, session: str, index: int) -> Path:
        relative = config.path.format(
            camera=self.camera, name=config.name, date=session, index=index
        )
        return config.photos_dir / relative

    def _resume(self, runner: _Runner) -> None:
        """Back to running on the same grid; slots during the pause are not missed."""
        now = self._clock.monotonic()
        after_pause = math.ceil((now - runner.mono_anchor) / runner.interval)
        first = max(runner.record.next_slot, after_pause)
        self._update(runner, state=TimelapseState.RUNNING, next_slot=first)
        self._publish_event("timelapse_resumed", timelapse=runner.config.name)

    def _resume_after_restart(self, runner: _Runner) -> None:
        record = runner.record
        wall = self._clock.wall()
        mono = self._clock.monotonic()
        if record.anchor is None:
            self._update(runner, state=self._idle_state(runner.config))
            return
        runner.mono_anchor = mono - (wall - record.anchor)
        runner.properties_pending = bool(runner.config.properties)
        if record.state == TimelapseState.RUNNING:
            # Slots that passed while the daemon was down are missed; the latest one may
            # still be taken if it is not too late.
            due = math.floor((mono - runner.mono_anchor) / runner.interval)
            if mono - runner.slot_time(due) > runner.interval * LATE_FRACTION:
                due += 1
            if record.ends is not None:  # no slots after the session's end
                due = min(due, math.ceil((record.ends - record.anchor) / runner.interval))
            if due > record.next_slot:
                self._miss(runner, record.next_slot, due - record.next_slot, MissReason.NOT_RUNNING)
                self._update(runner, next_slot=due)
        log.info(
            "Camera %s: timelapse %s session %s continues (%s, %d shots)",
            self.camera,
            runner.config.name,
            record.session,
            record.state,
            record.shots,
        )

    def _finish(self, runner: _Runner, reason: str) -> None:
        record = runner.record
        config = runner.config
        wall = self._clock.wall()
        consumed = record.consumed_until
        if config.windowed:
            # The session's own window is used up, and so is a window that was open when
            # the session was stopped or reached its count (it must not start again).
            if not record.manual and record.anchor is not None:
                own = runner.windows.next(record.anchor)
                if own is not None and own.contains(record.anchor):
                    consumed = max(consumed, own.end)
            current = self._current_window(runner, wall)
            if reason != "window end" and current is not None and current.start < wall:
                consumed = max(consumed, current.end)
        if runner.config.windowed:
            upcoming = runner.windows.next(max(wall, consumed))
            state = TimelapseState.WAITING if upcoming is not None else TimelapseState.DONE
        elif record.manual or reason == "stopped" or not runner.config.autostart:
            state = TimelapseState.STOPPED
        else:
            state = TimelapseState.DONE
        session, folder = record.session, record.folder
        self._update(runner, state=state, consumed_until=consumed)
        log.info(
            "Camera %s: timelapse %s session %s ended (%s): %d shots, %d missed",
            self.camera,
            runner.config.name,
            session,
            reason,
            record.shots,
            record.missed,
        )
        self._publish_event(
            "timelapse_finished",
            timelapse=runner.config.name,
            session=session,
            reason=reason,
            shots=record.shots,
            missed=record.missed,
            folder=folder,
        )
        if runner.config.video_fps and session is not None and folder is not None:
            frames = self._store.frames(self.camera, runner.config.name, session)
            if frames:
                self._make_video(runner.config, session, Path(folder), frames)

    def _make_video(
        self, config: TimelapseConfig, session: str, folder: Path, frames: list[Path]
    ) -> None:
        assert config.video_fps is not None
        fps = config.video_fps
        output = folder / f"{config.name}-{session}.mp4"

        def job() -> None:
            try:
                path = assemble_video(frames, output, fps=fps)
            except VideoError as error:
                log.warning("Camera %s: timelapse %s: %s", self.camera, config.name, error)
                self._publish_event(
                    "timelapse_video_failed",
                    timelapse=config.name,
                    session=session,
                    error=str(error),
                )
                return
            self._publish_event(
                "timelapse_video",
                timelapse=config.name,
                session=session,
                path=str(path),
                frames=len(frames),
                fps=fps,
            )

        self._video_runner(job)

    def _video_thread(self, job: Callable[[], None]) -> None:
        self._video_threads = [t for t in self._video_threads if t.is_alive()]
        thread = threading.Thread(target=job, name=f"timelapse-video-{self.camera}", daemon=True)
        self._video_threads.append(thread)
        thread.start()

    # -- timing ----------------------------------------------------------------------------

    def _runner_due(self, runner: _Runner, now: float) -> float:
        state = runner.record.state
        if state == TimelapseState.RUNNING:
            return min(runner.slot_time(runner.record.next_slot), runner.mono_end())
        if state == TimelapseState.PAUSED:
            return runner.mono_end()
        if state == TimelapseState.WAITING:
            if not runner.config.windowed:
                return now  # autostart
            wall = self._clock.wall()
            window = runner.windows.next(max(wall, runner.record.consumed_until))
            if window is None:
                return now  # becomes done
            # Re-read the wall clock at least every RECHECK seconds (it may be stepped).
            opens = max(window.start, runner.record.consumed_until)
            return now + max(0.0, min(opens - wall, RECHECK))
        return math.inf

    def _step(self, runner: _Runner, shooter: Shooter | None) -> None:
        config = runner.config
        mono = self._clock.monotonic()
        if runner.in_session and mono >= runner.mono_end():
            reason = "duration" if runner.record.manual or not config.windowed else "window end"
            self._finish(runner, reason)
        if runner.record.state == TimelapseState.WAITING:
            self._maybe_open(runner)
        record = runner.record
        if record.state == TimelapseState.RUNNING and mono >= runner.slot_time(record.next_slot):
            self._run_slot(runner, shooter, mono)
        self._publish(runner)

    def _maybe_open(self, runner: _Runner) -> None:
        config = runner.config
        if not config.windowed:
            self._start_session(runner, manual=False)
            return
        wall = self._clock.wall()
        consumed = runner.record.consumed_until
        window = runner.windows.next(max(wall, consumed))
        if window is None:
            self._update(runner, state=TimelapseState.DONE)
        elif window.contains(wall) and wall >= consumed:
            # (A window overlapping a used-up one runs from where that one ended.)
            self._start_session(runner, manual=False, window=window)

    def _run_slot(self, runner: _Runner, shooter: Shooter | None, mono: float) -> None:
        record = runner.record
        due = max(record.next_slot, math.floor((mono - runner.mono_anchor) / runner.interval))
        if due > record.next_slot:
            self._miss(runner, record.next_slot, due - record.next_slot, MissReason.BUSY)
        if mono - runner.slot_time(due) > runner.interval * LATE_FRACTION:
            self._miss(runner, due, 1, MissReason.BUSY)
            self._update(runner, next_slot=due + 1)
            return
        self._update(runner, next_slot=due + 1)
        reason = self._shoot(runner, shooter, due)
        if reason is not None:
            self._miss(runner, due, 1, reason)
        count = runner.count
        if count is not None and runner.record.shots >= count:
            self._finish(runner, "count")

    def _shoot(self, runner: _Runner, shooter: Shooter | None, slot: int) -> str | None:
        """Take slot ``slot``; the reason it was missed, or None."""
        config = runner.config
        if shooter is None:
            return MissReason.CAMERA_AWAY
        try:
            if runner.properties_pending:
                runner.properties_pending = False
                self._apply_properties(runner, shooter)
            refs = shooter.take_shot(config.name)
        except CameraUnreachable as error:
            log.debug("Camera %s: timelapse %s slot %d: %s", self.camera, config.name, slot, error)
            return MissReason.CAMERA_AWAY
        except CameraBusy as error:
            log.info("Camera %s: timelapse %s slot %d: %s", self.camera, config.name, slot, error)
            return MissReason.BUSY
        except CameraError as error:
            log.warning(
                "Camera %s: timelapse %s slot %d failed: %s", self.camera, config.name, slot, error
            )
            return MissReason.ERROR
        index = runner.record.shots + 1
        self._update(runner, shots=index)
        if config.fetch and refs:
            self._fetch(runner, shooter, refs, index, slot)
        return None

    def _apply_properties(self, runner: _Runner, shooter: Shooter) -> None:
        for name, value in runner.config.properties:
            try:
                shooter.apply_property(name, value)
            except CameraUnreachable:
                runner.properties_pending = True
                raise
            except CameraError as error:
                log.warning(
                    "Camera %s: timelapse %s: could not set %s to %s: %s",
                    self.camera,
                    runner.config.name,
                    name,
                    value,
                    error,
                )
                self._publish_event(
                    "error",
                    action="timelapse_properties",
                    timelapse=runner.config.name,
                    error=f"Could not set {name} to {value}: {error}",
                )

    def _fetch(
        self, runner: _Runner, shooter: Shooter, refs: list[ImageRef], index: int, slot: int
    ) -> None:
        config = runner.config
        record = runner.record
        assert record.session is not None
        ref = newest_picture(refs)
        final = self._frame_path(config, record.session, index)
        # The driver writes the camera's file name atomically; renaming it within the same
        # folder tree to its frame name keeps the final path all-or-nothing.
        staging = final.parent / STAGING_FOLDER
        try:
            downloaded = shooter.fetch(ref, staging)
            os.replace(downloaded, final)
            with contextlib.suppress(OSError):
                staging.rmdir()
        except (CameraError, OSError) as error:
            log.warning(
                "Camera %s: timelapse %s: fetching %s failed: %s",
                self.camera,
                config.name,
                ref.path,
                error,
            )
            self._publish_event(
                "error", action="timelapse_fetch", timelapse=config.name, error=str(error)
            )
            return
        self._store.add_frame(
            FrameRecord(
                camera=self.camera,
                name=config.name,
                session=record.session,
                index=index,
                slot=slot,
                camera_path=ref.path,
                size=ref.size,
                taken=ref.timestamp,
                local_path=final,
                fetched=self._clock.wall(),
            )
        )

    def _miss(self, runner: _Runner, first_slot: int, count: int, reason: str) -> None:
        self._update(runner, missed=runner.record.missed + count)
        self._publish_event(
            "shot_missed",
            timelapse=runner.config.name,
            session=runner.record.session,
            slot=first_slot,
            count=count,
            reason=reason,
        )

    # -- state -----------------------------------------------------------------------------

    def _update(self, runner: _Runner, **changes: Any) -> None:
        runner.record = replace(runner.record, **changes)
        self._store.save(runner.record)

    def _status(self, runner: _Runner) -> dict[str, Any]:
        record = runner.record
        config = runner.config
        next_shot: float | None = None
        mono = self._clock.monotonic()
        wall = self._clock.wall()
        if record.state == TimelapseState.RUNNING:
            next_shot = wall + (runner.slot_time(record.next_slot) - mono)
        elif record.state == TimelapseState.WAITING and config.windowed:
            window = runner.windows.next(max(wall, record.consumed_until))
            if window is not None:
                next_shot = max(window.start, wall)
        ends = record.ends if runner.in_session else None
        return {
            "name": config.name,
            "state": record.state,
            "session": record.session,
            "shots": record.shots,
            "missed": record.missed,
            "next_shot": self._iso(next_shot),
            "session_end": self._iso(ends),
            "folder": record.folder,
            "interval": runner.interval,
            "count": runner.count,
            "manual": record.manual,
            "window": (
                {"start": config.start.describe(), "end": config.end.describe()}
                if config.start and config.end
                else None
            ),
        }

    def _iso(self, wall: float | None) -> str | None:
        if wall is None or not math.isfinite(wall):
            return None
        moment = datetime.fromtimestamp(wall, self._clock.tz)
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return moment.isoformat(timespec="seconds")

    def _publish(self, runner: _Runner, *, force: bool = False) -> None:
        payload = json.dumps(self._status(runner), separators=(",", ":"))
        if payload == runner.published and not force:
            return
        runner.published = payload
        self._publish_state(runner.config.name, payload)
