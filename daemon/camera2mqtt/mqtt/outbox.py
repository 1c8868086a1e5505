"""The messages the bridge has accepted but not yet handed to paho: only what is still true.

While the broker is away (or slower than the daemon) messages wait here, not in paho's own
queue, so that nothing is dropped silently and an outage keeps memory bounded:

- a retained value (state, availability, last photo, discovery) and a live-view frame only
  matter in their newest version: a newer one replaces the older one waiting for its topic;
- replies and events are kept in order up to :class:`OutboxLimits`; beyond them the new
  message is dropped and counted, and the count is logged at WARNING at most once per
  ``warn_interval`` (and once more when the broker is back).

Not thread-safe: the bridge holds its lock around every call.
"""

from __future__ import annotations

import enum
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from camera2mqtt.mqtt.throttle import Throttle

__all__ = ["MessageKind", "Outbox", "OutboxLimits", "OutgoingMessage"]

log = logging.getLogger(__name__)

DEFAULT_MAX_REPLIES = 50_000
DEFAULT_MAX_EVENTS = 1_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # replies and events together
DEFAULT_WARN_INTERVAL = 60.0  # seconds between two warnings about dropped messages


class MessageKind(enum.Enum):
    LATEST = "latest"  # retained values and live-view frames: only the newest counts
    REPLY = "reply"  # the answer to one command
    EVENT = "event"  # something that happened


@dataclass(frozen=True, slots=True)
class OutboxLimits:
    """How much the bridge keeps while it cannot send (retained values are never dropped)."""

    max_replies: int = DEFAULT_MAX_REPLIES
    max_events: int = DEFAULT_MAX_EVENTS
    max_bytes: int = DEFAULT_MAX_BYTES
    warn_interval: float = DEFAULT_WARN_INTERVAL

    def __post_init__(self) -> None:
        for name in ("max_replies", "max_events", "max_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"OutboxLimits.{name} must be at least 1")
        if self.warn_interval < 0:
            raise ValueError("OutboxLimits.warn_interval must be 0 or more seconds")


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: MessageKind


class Outbox:
    """Waiting messages in the order they were accepted (a replaced value moves to the end)."""

    def __init__(
        self,
        *,
        limits: OutboxLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or OutboxLimits()
        self._messages: OrderedDict[object, OutgoingMessage] = OrderedDict()
        self._serial = itertools.count()
        self._counts = {MessageKind.REPLY: 0, MessageKind.EVENT: 0}
        self._bytes = 0
        self._dropped = {MessageKind.REPLY: 0, MessageKind.EVENT: 0}
        self._unreported = {MessageKind.REPLY: 0, MessageKind.EVENT: 0}
        self._warnings = Throttle(self.limits.warn_interval, clock=clock)

    def __len__(self) -> int:
        return len(self._messages)

    @property
    def dropped(self) -> dict[str, int]:
        """Replies and events dropped since the start, by kind."""
        return {kind.value: count for kind, count in self._dropped.items()}

    def put(self, message: OutgoingMessage) -> bool:
        """Keep ``message`` to send later; False when it was dropped (a bound is reached)."""
        if message.kind is MessageKind.LATEST:
            key: object = (MessageKind.LATEST, message.topic)
            self._messages.pop(key, None)  # superseded: never sent, and no loss
            self._messages[key] = message
            return True
        if not self._fits(message):
            self._drop(message)
            return False
        self._messages[next(self._serial)] = message
        self._count(message, +1)
        return True

    def put_back(self, messages: Iterable[OutgoingMessage]) -> None:
        """Return messages handed out earlier and not confirmed, ahead of everything waiting
        (they are older); a value whose topic has a newer one waiting is left out."""
        for message in reversed(list(messages)):
            if message.kind is MessageKind.LATEST:
                key: object = (MessageKind.LATEST, message.topic)
                if key in self._messages:
                    continue
            else:
                key = next(self._serial)
                self._count(message, +1)
            self._messages[key] = message
            self._messages.move_to_end(key, last=False)

    def pop(self) -> OutgoingMessage | None:
        """The oldest waiting message, or None."""
        if not self._messages:
            return None
        _, message = self._messages.popitem(last=False)
        if message.kind is not MessageKind.LATEST:
            self._count(message, -1)
        return message

    def report(self) -> None:
        """Log the drops not reported yet (the bridge calls this when the broker is back)."""
        if any(self._unreported.values()):
            self._warn()
        self._warnings.reset()

    def _fits(self, message: OutgoingMessage) -> bool:
        limit = (
            self.limits.max_replies if message.kind is MessageKind.REPLY else self.limits.max_events
        )
        return (
            self._counts[message.kind] < limit
            and self._bytes + len(message.payload) <= self.limits.max_bytes
        )

    def _count(self, message: OutgoingMessage, sign: int) -> None:
        self._counts[message.kind] += sign
        self._bytes += sign * len(message.payload)

    def _drop(self, message: OutgoingMessage) -> None:
        self._dropped[message.kind] += 1
        self._unreported[message.kind] += 1
        if self._warnings.ready():
            self._warn()

    def _warn(self) -> None:
        replies = self._unreported[MessageKind.REPLY]
        events = self._unreported[MessageKind.EVENT]
        self._warnings.take_held_back()
        log.warning(
            "Dropped %d repl%s and %d event%s that could not be sent to the MQTT broker "
            "(%d replies and %d events waiting, %d bytes; the latest retained values are kept); "
            "totals so far: %d replies, %d events.",
            replies,
            "y" if replies == 1 else "ies",
            events,
            "" if events == 1 else "s",
            self._counts[MessageKind.REPLY],
            self._counts[MessageKind.EVENT],
            self._bytes,
            self._dropped[MessageKind.REPLY],
            self._dropped[MessageKind.EVENT],
        )
        self._unreported = {MessageKind.REPLY: 0, MessageKind.EVENT: 0}
