"""Shrinking camera JPEGs to what may go on MQTT: a bounded size in pixels and in bytes."""

from __future__ import annotations

import io
import struct

from camera2mqtt.errors import Camera2MqttError

__all__ = ["ImageTooLarge", "fit_jpeg", "jpeg_dimensions"]

QUALITY_STEPS = (85, 75, 65, 55, 45, 35, 25)
SHRINK_FACTOR = 0.7
MIN_SIDE = 16
# Start-of-frame markers (SOF0..SOF15 less DHT, JPG and DAC), which carry the picture's size.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01}


class ImageTooLarge(Camera2MqttError):
    """No smaller JPEG fits the byte limit (or the data is not an image)."""


def jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame segment, or None if none is found."""
    if not data.startswith(b"\xff\xd8"):
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _STANDALONE_MARKERS:
            position += 2
            continue
        (length,) = struct.unpack_from(">H", data, position + 2)
        if marker in _SOF_MARKERS:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack_from(">HH", data, position + 5)
            return width, height
        if marker == 0xDA or length < 2:  # scan data follows: no frame header before it
            return None
        position += 2 + length
    return None


def fit_jpeg(data: bytes, size: int | tuple[int, int], max_bytes: int) -> bytes:
    """``data`` scaled to fit ``size`` (longest side, or a width x height box) and re-encoded
    with lower quality, then smaller dimensions, until it is at most ``max_bytes`` long.

    A JPEG that already fits (a camera thumbnail, usually) is returned as it is.
    """
    box = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    dimensions = jpeg_dimensions(data)
    if (
        dimensions is not None
        and len(data) <= max_bytes
        and dimensions[0] <= box[0]
        and dimensions[1] <= box[1]
        and data.endswith(b"\xff\xd9")
    ):
        return data
    # Pillow is imported on first use: a daemon that only publishes thumbnails never needs it.
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.draft("RGB", box)  # let the JPEG decoder scale down: far less memory
            image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageTooLarge(f"The camera sent an image that cannot be decoded: {error}.") from None
    image.thumbnail(box)
    while True:
        for quality in QUALITY_STEPS:
            out = io.BytesIO()
            image.save(out, "JPEG", quality=quality, optimize=True)
            if out.tell() <= max_bytes:
                return out.getvalue()
        width, height = image.size
        if min(width, height) * SHRINK_FACTOR < MIN_SIDE:
            raise ImageTooLarge(
                f"Even a {width}x{height} JPEG is larger than {max_bytes} bytes; "
                "raise snapshot.max_bytes in the configuration."
            )
        image = image.resize((int(width * SHRINK_FACTOR), int(height * SHRINK_FACTOR)))
