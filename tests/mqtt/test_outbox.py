"""The outbox keeps only what is still true while nothing can be sent (no broker needed)."""

from __future__ import annotations

import logging

import pytest

from camera2mqtt.mqtt.outbox import MessageKind, Outbox, OutboxLimits, OutgoingMessage
from camera2mqtt.mqtt.throttle import Throttle


def message(topic: str, payload: bytes, kind: MessageKind) -> OutgoingMessage:
    return OutgoingMessage(
        topic=topic, payload=payload, qos=1, retain=kind is MessageKind.LATEST, kind=kind
    )


def drain(outbox: Outbox) -> list[OutgoingMessage]:
    out = []
    while (item := outbox.pop()) is not None:
        out.append(item)
    return out


def test_only_the_newest_value_of_a_retained_topic_is_kept_and_moves_to_the_end() -> None:
    outbox = Outbox()
    for value in range(1000):
        assert outbox.put(message("b/cam/state", str(value).encode(), MessageKind.LATEST))
    assert outbox.put(message("b/cam/event", b"e", MessageKind.EVENT))
    assert outbox.put(message("b/cam/availability", b"online", MessageKind.LATEST))
    assert outbox.put(message("b/cam/state", b"final", MessageKind.LATEST))
    assert [(m.topic, m.payload) for m in drain(outbox)] == [
        ("b/cam/event", b"e"),
        ("b/cam/availability", b"online"),
        ("b/cam/state", b"final"),
    ]


def test_replies_and_events_are_bounded_and_the_drops_counted(caplog) -> None:
    now = [0.0]
    outbox = Outbox(limits=OutboxLimits(max_replies=3, max_events=2), clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="camera2mqtt.mqtt.outbox")
    accepted = [
        outbox.put(message("b/c/response", b"r%d" % i, MessageKind.REPLY)) for i in range(5)
    ]
    accepted += [outbox.put(message("b/c/event", b"e%d" % i, MessageKind.EVENT)) for i in range(50)]
    assert accepted == [True] * 3 + [False] * 2 + [True] * 2 + [False] * 48
    assert outbox.dropped == {"reply": 2, "event": 48}
    # The first drop is logged at once, the rest are held back until the interval has passed.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Dropped 1 reply and 0 events" in warnings[0].getMessage()
    now[0] += 61
    outbox.put(message("b/c/event", b"late", MessageKind.EVENT))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "Dropped 1 reply and 49 events" in warnings[1].getMessage()
    outbox.report()  # nothing unreported: no new line
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
    assert [m.payload for m in drain(outbox)] == [b"r0", b"r1", b"r2", b"e0", b"e1"]
    # Room again once sent.
    assert outbox.put(message("b/c/response", b"again", MessageKind.REPLY))


def test_the_byte_bound_applies_to_replies_and_events_together() -> None:
    outbox = Outbox(limits=OutboxLimits(max_bytes=10))
    assert outbox.put(message("b/c/response", b"x" * 6, MessageKind.REPLY))
    assert not outbox.put(message("b/c/event", b"x" * 5, MessageKind.EVENT))
    assert outbox.put(message("b/c/event", b"x" * 4, MessageKind.EVENT))
    # Retained values are never dropped: they replace, so they cannot grow without bound.
    assert outbox.put(message("b/c/last_photo", b"x" * 100, MessageKind.LATEST))


def test_messages_taken_back_go_first_unless_a_newer_value_waits() -> None:
    outbox = Outbox()
    outbox.put(message("b/c/state", b"new", MessageKind.LATEST))
    outbox.put(message("b/c/event", b"e2", MessageKind.EVENT))
    outbox.put_back(
        [
            message("b/c/state", b"old", MessageKind.LATEST),
            message("b/c/event", b"e1", MessageKind.EVENT),
            message("b/c/availability", b"online", MessageKind.LATEST),
        ]
    )
    assert [m.payload for m in drain(outbox)] == [b"e1", b"online", b"new", b"e2"]


def test_limits_validate_themselves() -> None:
    with pytest.raises(ValueError, match="max_replies"):
        OutboxLimits(max_replies=0)


def test_throttle_reports_the_first_then_one_per_interval() -> None:
    now = [100.0]
    throttle = Throttle(10, clock=lambda: now[0])
    assert throttle.ready()
    assert not throttle.ready()
    assert not throttle.ready()
    now[0] += 10
    assert throttle.ready()
    assert throttle.take_held_back() == 2
    throttle.reset()
    assert throttle.ready()
