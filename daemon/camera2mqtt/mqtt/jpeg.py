"""Shrinking camera JPEGs to what may go on MQTT: a bounded size in pixels and in bytes."""

from __future__ import annotations

import io

from camera2mqtt.errors import Camera2MqttError

__all__ = ["ImageTooLarge", "fit_jpeg"]

QUALITY_STEPS = (85, 75, 65, 55, 45, 35, 25)
SHRINK_FACTOR = 0.7
MIN_SIDE = 16


class ImageTooLarge(Camera2MqttError):
    """No smaller JPEG fits the byte limit (or the data is not an image)."""


def fit_jpeg(data: bytes, size: int | tuple[int, int], max_bytes: int) -> bytes:
    """``data`` scaled to fit ``size`` (longest side, or a width x height box) and re-encoded
    with lower quality, then smaller dimensions, until it is at most ``max_bytes`` long."""
    # Pillow is imported on first use: an idle daemon without snapshots never needs it.
    from PIL import Image, UnidentifiedImageError

    box = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
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
