"""Timelapses: windows (clock or sun times), sessions, a drift-free slot grid, fetched frames,
videos, and runtime control; driven by the camera's worker.

The config reader lives in :mod:`camera2mqtt.timelapse.reader` (imported by
:mod:`camera2mqtt.config`, so not imported here).
"""

from camera2mqtt.timelapse.engine import (
    MissReason,
    Shooter,
    SystemClock,
    TimelapseClock,
    TimelapseEngine,
    TimelapseError,
    TimelapseState,
)
from camera2mqtt.timelapse.settings import Location, TimelapseConfig, WindowTime
from camera2mqtt.timelapse.shooter import CameraShooter
from camera2mqtt.timelapse.store import FrameRecord, TimelapseRecord, TimelapseStore
from camera2mqtt.timelapse.video import VideoError, assemble_video, find_ffmpeg
from camera2mqtt.timelapse.windows import Window, next_window, window_on

__all__ = [
    "CameraShooter",
    "FrameRecord",
    "Location",
    "MissReason",
    "Shooter",
    "SystemClock",
    "TimelapseClock",
    "TimelapseConfig",
    "TimelapseEngine",
    "TimelapseError",
    "TimelapseRecord",
    "TimelapseState",
    "TimelapseStore",
    "VideoError",
    "Window",
    "WindowTime",
    "assemble_video",
    "find_ffmpeg",
    "next_window",
    "window_on",
]
