"""RTP packets of the Olympus live view and the TLVs of their extension header.

One JPEG frame travels as several RTP packets (seeds/000, OPC spec pp.26-42): the first has
X=1 and an extension (16-bit version, 16-bit length in 32-bit words, then TLVs: 16-bit
function id, 16-bit length in words, data), the last has M=1, the sequence number goes up by
one per packet and wraps at 2**16, the timestamp is the frame counter.

This module only turns bytes into values and back; frame assembly lives in ``liveview.py``.
Every parse error is a :class:`MalformedPacket`, which the receiver counts and skips.
"""

from __future__ import annotations

import contextlib
import enum
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from camera2mqtt.cameras.base import ProtocolError

__all__ = [
    "EXTENSION_VERSION",
    "HEADER_SIZE",
    "LIVEVIEW_PAYLOAD_TYPE",
    "RTP_VERSION",
    "SEQUENCE_MODULO",
    "AfFrame",
    "Exposure",
    "FrameInfo",
    "FunctionId",
    "Iso",
    "Level",
    "MalformedPacket",
    "MediaInfo",
    "RtpPacket",
    "ShutterSpeed",
    "Zoom",
    "announced_frame_size",
    "build_packet",
    "decode_frame_info",
    "encode_frame_info",
    "encode_tlvs",
    "iter_tlvs",
    "parse_packet",
]

RTP_VERSION = 2
HEADER_SIZE = 12
LIVEVIEW_PAYLOAD_TYPE = 96
EXTENSION_VERSION = 1
SEQUENCE_MODULO = 1 << 16
TIMESTAMP_MODULO = 1 << 32

_HEADER = struct.Struct("!BBHII")
_HALF_WORDS = struct.Struct("!HH")
_WORD = struct.Struct("!I")
_SIGNED_WORD = struct.Struct("!i")


class MalformedPacket(ProtocolError):
    """A datagram that is not a well-formed live-view RTP packet."""


class RtpPacket(NamedTuple):
    """One parsed RTP packet.

    A NamedTuple rather than a dataclass: the receiver builds one per datagram, thousands a
    second, and a tuple is several times cheaper to create. ``payload`` is a memoryview into
    the datagram (no copy); ``extension`` holds the TLV bytes after the 4-byte extension
    header, or is ``None`` when X=0.
    """

    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload_type: int
    payload: memoryview
    extension: memoryview | None = None
    extension_version: int | None = None
    csrcs: tuple[int, ...] = ()


def parse_packet(data: bytes | bytearray | memoryview) -> RtpPacket:
    """Parse one datagram; raise :class:`MalformedPacket` if it is not RTP version 2."""
    size = len(data)
    if size < HEADER_SIZE:
        raise MalformedPacket(f"datagram of {size} bytes is shorter than an RTP header")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise MalformedPacket(f"RTP version {first >> 6}, expected {RTP_VERSION}")
    view = memoryview(data)
    end = size
    if first & 0x20:  # padding: the last byte says how many bytes to drop
        padding = view[-1]
        if padding == 0 or padding > size - HEADER_SIZE:
            raise MalformedPacket(f"padding of {padding} bytes does not fit the packet")
        end -= padding
    start = HEADER_SIZE
    csrcs: tuple[int, ...] = ()
    csrc_count = first & 0x0F
    if csrc_count:
        start += 4 * csrc_count
        if start > end:
            raise MalformedPacket(f"{csrc_count} CSRC entries do not fit the packet")
        csrcs = struct.unpack_from(f"!{csrc_count}I", data, HEADER_SIZE)
    extension = None
    extension_version = None
    if first & 0x10:
        if start + 4 > end:
            raise MalformedPacket("the extension header does not fit the packet")
        extension_version, words = _HALF_WORDS.unpack_from(data, start)
        start += 4
        stop = start + 4 * words
        if stop > end:
            raise MalformedPacket(
                f"the extension claims {4 * words} bytes but only {end - start} follow"
            )
        extension = view[start:stop]
        start = stop
    return RtpPacket(
        sequence,
        timestamp,
        ssrc,
        bool(second & 0x80),
        second & 0x7F,
        view[start:end],
        extension,
        extension_version,
        csrcs,
    )


def build_packet(
    *,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes | memoryview,
    marker: bool = False,
    extension: bytes | None = None,
    extension_version: int = EXTENSION_VERSION,
    payload_type: int = LIVEVIEW_PAYLOAD_TYPE,
    padding: int = 0,
) -> bytes:
    """The wire bytes of one packet (the simulator's side of :func:`parse_packet`)."""
    if extension is not None and len(extension) % 4:
        raise ValueError("an RTP extension must be a whole number of 32-bit words")
    if not 0 <= padding <= 255:
        raise ValueError("padding must be 0..255 bytes")
    first = RTP_VERSION << 6
    if padding:
        first |= 0x20
    if extension is not None:
        first |= 0x10
    second = (0x80 if marker else 0) | (payload_type & 0x7F)
    parts = [
        _HEADER.pack(first, second, sequence % SEQUENCE_MODULO, timestamp % TIMESTAMP_MODULO, ssrc)
    ]
    if extension is not None:
        parts.append(_HALF_WORDS.pack(extension_version, len(extension) // 4))
        parts.append(extension)
    parts.append(bytes(payload))
    if padding:
        parts.append(bytes(padding - 1) + bytes((padding,)))
    return b"".join(parts)


# ---------------------------------------------------------------------------------------------
# Extension TLVs


class FunctionId(enum.IntEnum):
    """TLV function ids of the live-view extension (OPC spec pp.28-42)."""

    FRAME_SIZE = 1
    AF_FRAME = 2
    MEDIA_INFO = 3
    ROTATION = 4
    MAX_TAKE_NUM = 5
    SHUTTER_SPEED = 8
    APERTURE = 9
    EXPOSURE_COMPENSATION = 10
    ISO = 12
    EXPOSURE_WARNING = 16
    FOCUS_MODE = 17
    ZOOM = 18
    MAX_MOVIE_TIME = 106
    LEVEL = 107
    CONTINUOUS_PREVIEW = 200


_FRAME_SIZE_FIRST = _HALF_WORDS.pack(FunctionId.FRAME_SIZE, 1)
"""The TLV header that starts an extension whose first TLV is the frame size."""


def iter_tlvs(extension: bytes | memoryview) -> Iterator[tuple[int, memoryview]]:
    """``(function id, data)`` for each TLV; :class:`MalformedPacket` if a length overruns."""
    view = memoryview(extension)
    size = len(view)
    offset = 0
    while offset < size:
        if offset + 4 > size:
            raise MalformedPacket("a truncated TLV header ends the RTP extension")
        function_id, words = _HALF_WORDS.unpack_from(view, offset)
        offset += 4
        end = offset + 4 * words
        if end > size:
            raise MalformedPacket(
                f"TLV {function_id} claims {4 * words} bytes beyond the end of the extension"
            )
        yield function_id, view[offset:end]
        offset = end


def encode_tlvs(items: Iterable[tuple[int, bytes]]) -> bytes:
    """TLV bytes for an extension; each data must be whole 32-bit words."""
    parts = []
    for function_id, data in items:
        if len(data) % 4:
            raise ValueError(f"TLV {function_id} data must be whole 32-bit words")
        parts.append(_HALF_WORDS.pack(function_id, len(data) // 4))
        parts.append(bytes(data))
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class AfFrame:
    """The autofocus frame: result 0 none, 1 focused, 2 failed; position and size in pixels."""

    result: int
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """The memory card state reported with each frame."""

    mounted: int
    not_full: bool
    write_protected: bool
    error: bool
    writing: bool


@dataclass(frozen=True, slots=True)
class ShutterSpeed:
    """Shutter speeds as (numerator, denominator) seconds: the allowed range and the current one."""

    minimum: tuple[int, int]
    maximum: tuple[int, int]
    current: tuple[int, int]

    @property
    def seconds(self) -> float | None:
        numerator, denominator = self.current
        return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class Exposure:
    """A value with its range, in real units (the wire carries tenths)."""

    minimum: float
    maximum: float
    current: float


@dataclass(frozen=True, slots=True)
class Iso:
    """ISO speed; ``value`` is None when the camera reports LOW (0xFFFE)."""

    value: int | None
    auto: bool
    warning: bool


@dataclass(frozen=True, slots=True)
class Zoom:
    """Focal lengths in millimetres."""

    wide: int
    current: int
    tele: int


@dataclass(frozen=True, slots=True)
class Level:
    """The electronic level in degrees."""

    roll: float
    pitch: float


FOCUS_MODES = {0: "S-AF", 1: "C-AF", 2: "MF"}
ISO_LOW = 0xFFFE
_TENTHS = 10


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """What the camera said about one frame in its extension TLVs; ``None`` = not sent."""

    frame_size: int | None = None
    af_frame: AfFrame | None = None
    media: MediaInfo | None = None
    rotation: int | None = None
    max_take_num: int | None = None
    shutter: ShutterSpeed | None = None
    aperture: Exposure | None = None
    exposure_compensation: Exposure | None = None
    iso: Iso | None = None
    exposure_warning: int | None = None
    focus_mode: str | None = None
    zoom: Zoom | None = None
    level: Level | None = None
    continuous_preview: bool = False
    unknown: tuple[tuple[int, bytes], ...] = ()


def _words(data: memoryview, count: int, *, signed: bool = False) -> tuple[int, ...]:
    if len(data) < 4 * count:
        raise MalformedPacket(f"a TLV needs {count} words but has {len(data) // 4}")
    return struct.unpack_from(f"!{count}{'i' if signed else 'I'}", data)


def _fraction(word: int) -> tuple[int, int]:
    return word >> 16, word & 0xFFFF


def _decode_frame_size(data: memoryview) -> dict[str, object]:
    return {"frame_size": _words(data, 1)[0]}


def _decode_af_frame(data: memoryview) -> dict[str, object]:
    return {"af_frame": AfFrame(*_words(data, 5))}


def _decode_media(data: memoryview) -> dict[str, object]:
    bits = _words(data, 1)[0]
    return {
        "media": MediaInfo(
            mounted=bits & 0x3,
            not_full=bool(bits & 0x4),
            write_protected=bool(bits & 0x8),
            error=bool(bits & 0x10),
            writing=bool(bits & 0x20),
        )
    }


def _decode_rotation(data: memoryview) -> dict[str, object]:
    return {"rotation": _words(data, 1)[0]}


def _decode_max_take_num(data: memoryview) -> dict[str, object]:
    return {"max_take_num": _words(data, 1)[0]}


def _decode_shutter(data: memoryview) -> dict[str, object]:
    low, high, current = (_fraction(word) for word in _words(data, 3))
    return {"shutter": ShutterSpeed(low, high, current)}


def _decode_aperture(data: memoryview) -> dict[str, object]:
    high, low, current = (value / _TENTHS for value in _words(data, 3))
    return {"aperture": Exposure(minimum=low, maximum=high, current=current)}


def _decode_exposure_compensation(data: memoryview) -> dict[str, object]:
    low, high, current = (value / _TENTHS for value in _words(data, 3, signed=True))
    return {"exposure_compensation": Exposure(low, high, current)}


def _decode_iso(data: memoryview) -> dict[str, object]:
    value, auto, warning = _words(data, 3)
    return {"iso": Iso(None if value == ISO_LOW else value, bool(auto), bool(warning))}


def _decode_exposure_warning(data: memoryview) -> dict[str, object]:
    return {"exposure_warning": _words(data, 1)[0]}


def _decode_focus_mode(data: memoryview) -> dict[str, object]:
    code = _words(data, 1)[0]
    return {"focus_mode": FOCUS_MODES.get(code, str(code))}


def _decode_zoom(data: memoryview) -> dict[str, object]:
    return {"zoom": Zoom(*_words(data, 3))}


def _decode_level(data: memoryview) -> dict[str, object]:
    roll, pitch = (value / _TENTHS for value in _words(data, 2, signed=True))
    return {"level": Level(roll, pitch)}


def _decode_continuous_preview(data: memoryview) -> dict[str, object]:
    return {"continuous_preview": True}


_DECODERS = {
    FunctionId.FRAME_SIZE: _decode_frame_size,
    FunctionId.AF_FRAME: _decode_af_frame,
    FunctionId.MEDIA_INFO: _decode_media,
    FunctionId.ROTATION: _decode_rotation,
    FunctionId.MAX_TAKE_NUM: _decode_max_take_num,
    FunctionId.SHUTTER_SPEED: _decode_shutter,
    FunctionId.APERTURE: _decode_aperture,
    FunctionId.EXPOSURE_COMPENSATION: _decode_exposure_compensation,
    FunctionId.ISO: _decode_iso,
    FunctionId.EXPOSURE_WARNING: _decode_exposure_warning,
    FunctionId.FOCUS_MODE: _decode_focus_mode,
    FunctionId.ZOOM: _decode_zoom,
    FunctionId.LEVEL: _decode_level,
    FunctionId.CONTINUOUS_PREVIEW: _decode_continuous_preview,
}


def decode_frame_info(extension: bytes | memoryview | None) -> FrameInfo:
    """Decode the TLVs of a first packet's extension; never raises.

    Unknown ids, and known ones too short for their value, are kept raw in ``unknown``. A
    TLV whose length runs past the extension ends the decoding (the frame itself was
    checked on its own: its JPEG markers and the frame-size TLV before it).
    """
    if extension is None:
        return FrameInfo()
    fields: dict[str, object] = {}
    unknown = []
    with contextlib.suppress(MalformedPacket):
        for function_id, data in iter_tlvs(extension):
            decoder = _DECODERS.get(function_id)
            try:
                if decoder is None:
                    raise MalformedPacket(f"unknown TLV {function_id}")
                fields.update(decoder(data))
            except MalformedPacket:
                unknown.append((function_id, bytes(data)))
    return FrameInfo(**fields, unknown=tuple(unknown))


def announced_frame_size(extension: bytes | memoryview) -> int | None:
    """The frame-size TLV's value, or None without one. Walks the TLVs only up to it (it is
    usually the first, so this is cheap enough for every frame); :class:`MalformedPacket`
    if a TLV before it runs past the end of the extension."""
    if extension[:4] == _FRAME_SIZE_FIRST and len(extension) >= 8:
        return _WORD.unpack_from(extension, 4)[0]  # how cameras send it
    offset = 0
    end = len(extension)
    unpack = _HALF_WORDS.unpack_from
    while offset < end:
        if offset + 4 > end:
            raise MalformedPacket("a truncated TLV header ends the RTP extension")
        function_id, words = unpack(extension, offset)
        offset += 4 + 4 * words
        if offset > end:
            raise MalformedPacket(f"TLV {function_id} runs past the end of the extension")
        if function_id == FunctionId.FRAME_SIZE and words:
            return _WORD.unpack_from(extension, offset - 4 * words)[0]
    return None


def _pack_words(*values: int, signed: bool = False) -> bytes:
    return struct.pack(f"!{len(values)}{'i' if signed else 'I'}", *values)


def _tenths(value: float) -> int:
    return round(value * _TENTHS)


def encode_frame_info(info: FrameInfo) -> bytes:
    """TLV bytes for ``info`` in function-id order (the simulator's side of the decoder)."""
    items: list[tuple[int, bytes]] = []
    if info.frame_size is not None:
        items.append((FunctionId.FRAME_SIZE, _pack_words(info.frame_size)))
    if info.af_frame is not None:
        af = info.af_frame
        items.append((FunctionId.AF_FRAME, _pack_words(af.result, af.x, af.y, af.width, af.height)))
    if info.media is not None:
        media = info.media
        bits = (
            (media.mounted & 0x3)
            | media.not_full << 2
            | media.write_protected << 3
            | media.error << 4
            | media.writing << 5
        )
        items.append((FunctionId.MEDIA_INFO, _pack_words(bits)))
    if info.rotation is not None:
        items.append((FunctionId.ROTATION, _pack_words(info.rotation)))
    if info.max_take_num is not None:
        items.append((FunctionId.MAX_TAKE_NUM, _pack_words(info.max_take_num)))
    if info.shutter is not None:
        words = [n << 16 | d for n, d in (info.shutter.minimum, info.shutter.maximum)]
        words.append(info.shutter.current[0] << 16 | info.shutter.current[1])
        items.append((FunctionId.SHUTTER_SPEED, _pack_words(*words)))
    if info.aperture is not None:
        a = info.aperture
        items.append(
            (
                FunctionId.APERTURE,
                _pack_words(_tenths(a.maximum), _tenths(a.minimum), _tenths(a.current)),
            )
        )
    if info.exposure_compensation is not None:
        e = info.exposure_compensation
        values = (_tenths(e.minimum), _tenths(e.maximum), _tenths(e.current))
        items.append((FunctionId.EXPOSURE_COMPENSATION, _pack_words(*values, signed=True)))
    if info.iso is not None:
        value = ISO_LOW if info.iso.value is None else info.iso.value
        items.append((FunctionId.ISO, _pack_words(value, info.iso.auto, info.iso.warning)))
    if info.exposure_warning is not None:
        items.append((FunctionId.EXPOSURE_WARNING, _pack_words(info.exposure_warning)))
    if info.focus_mode is not None:
        codes = {name: code for code, name in FOCUS_MODES.items()}
        items.append((FunctionId.FOCUS_MODE, _pack_words(codes[info.focus_mode])))
    if info.zoom is not None:
        z = info.zoom
        items.append((FunctionId.ZOOM, _pack_words(z.wide, z.current, z.tele)))
    if info.level is not None:
        lv = info.level
        items.append(
            (FunctionId.LEVEL, _pack_words(_tenths(lv.roll), _tenths(lv.pitch), 0, signed=True))
        )
    if info.continuous_preview:
        items.append((FunctionId.CONTINUOUS_PREVIEW, _pack_words(0)))
    items.extend(info.unknown)
    return encode_tlvs(items)
