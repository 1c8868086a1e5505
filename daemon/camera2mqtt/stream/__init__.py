"""Live video on the LAN: the stream protocol of seed 003 and an MJPEG endpoint.

``codec`` (packets <-> bytes), ``sender`` (frames -> datagrams -> targets), ``receiver``
(datagrams -> whole frames), ``live`` (a camera's frames for the relay and viewers) and
``mjpeg`` (the HTTP server). The protocol is described in ``docs/stream-protocol.md``.
"""

from camera2mqtt.stream.codec import (
    DataPacket,
    EndOfFrame,
    Flags,
    HeaderSize,
    PixelFormat,
    StartOfFrame,
    StreamFormatError,
    decode,
    encode,
)
from camera2mqtt.stream.receiver import FrameReassembler, ReceivedFrame, StreamReceiver
from camera2mqtt.stream.sender import StreamSender, StreamTarget, packetize, parse_target

__all__ = [
    "DataPacket",
    "EndOfFrame",
    "Flags",
    "FrameReassembler",
    "HeaderSize",
    "PixelFormat",
    "ReceivedFrame",
    "StartOfFrame",
    "StreamFormatError",
    "StreamReceiver",
    "StreamSender",
    "StreamTarget",
    "decode",
    "encode",
    "packetize",
    "parse_target",
]
