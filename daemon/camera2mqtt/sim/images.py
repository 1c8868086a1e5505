"""Real JPEG files for the simulators to serve, made with Pillow when none are given."""

from __future__ import annotations

import functools
import io
import random

from PIL import Image, ImageDraw

__all__ = ["make_jpeg", "resize_jpeg"]

# Simulators make the same seeded pictures at every start; encoding one costs up to 0.2 s.
_CACHED_PICTURES = 32


@functools.lru_cache(maxsize=_CACHED_PICTURES)
def make_jpeg(width: int, height: int, label: str, *, seed: int = 0, quality: int = 85) -> bytes:
    """A decodable JPEG of ``width`` x ``height`` showing ``label`` on a seeded colour field.

    Noise in the picture keeps the file from compressing to nothing, so sizes look like
    photos (a 1600x1200 frame is a few hundred kB). The same arguments give the same bytes,
    so the last few pictures are kept.
    """
    rng = random.Random(seed)
    base = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    image = Image.new("RGB", (width, height), base)
    noise = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    image = Image.blend(image, Image.merge("RGB", (noise, noise, noise)), 0.35)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(255, 255, 255), width=3)
    draw.text((10, 10), label, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def resize_jpeg(data: bytes, longest_side: int, *, quality: int = 80) -> bytes:
    """``data`` scaled so its longer side is at most ``longest_side`` pixels."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        image.thumbnail((longest_side, longest_side))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
    return out.getvalue()
