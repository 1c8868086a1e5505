"""Assembling a session's frames into an MP4 with ffmpeg (the Debian package ``ffmpeg``)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from camera2mqtt.errors import Camera2MqttError

__all__ = ["FFMPEG", "VideoError", "assemble_video", "find_ffmpeg"]

log = logging.getLogger(__name__)

FFMPEG = "ffmpeg"
FFMPEG_TIMEOUT = 3600.0  # seconds for one video
STDERR_TAIL = 300  # characters of ffmpeg's complaint quoted in the error
# H.264 in yuv420p needs even sizes; crop odd ones by a pixel.
_FILTER = "crop=trunc(iw/2)*2:trunc(ih/2)*2"


class VideoError(Camera2MqttError):
    """The video could not be made; the message says why."""


def find_ffmpeg() -> str | None:
    return shutil.which(FFMPEG)


def assemble_video(frames: Sequence[Path], output: Path, *, fps: int) -> Path:
    """Encode ``frames`` (JPEGs, in order) into ``output`` (MP4, H.264); all or nothing."""
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        raise VideoError("ffmpeg is not installed; install it (apt-get install ffmpeg).")
    if not frames:
        raise VideoError(f"No frames to make {output.name} from.")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".camera2mqtt-video-", dir=output.parent) as work:
        folder = Path(work)
        # Numbered links let ffmpeg's image2 demuxer read frames named by any template.
        for number, frame in enumerate(frames):
            os.symlink(frame.absolute(), folder / f"{number:06d}.jpg")
        partial = folder / f"partial{output.suffix or '.mp4'}"
        command = [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-framerate",
            str(fps),
            "-i",
            str(folder / "%06d.jpg"),
            "-vf",
            _FILTER,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            str(partial),
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise VideoError(f"ffmpeg could not make {output.name}: {error}.") from None
        if result.returncode != 0:
            tail = result.stderr.strip()[-STDERR_TAIL:]
            raise VideoError(f"ffmpeg failed on {output.name} ({result.returncode}): {tail}")
        os.replace(partial, output)
    with contextlib.suppress(OSError):
        size = output.stat().st_size
        log.info("Timelapse video %s: %d frames, %d bytes", output, len(frames), size)
    return output
