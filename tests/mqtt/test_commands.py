"""Parsing and validating commands from <base>/<camera>/set, and the replies."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camera2mqtt.mqtt.commands import (
    MAX_PAYLOAD_BYTES,
    Action,
    CommandError,
    check_allowed,
    error_reply,
    ok_reply,
    parse_command,
)


def parse(body: object) -> object:
    return parse_command(json.dumps(body).encode())


def test_shoot_with_transaction() -> None:
    command = parse({"action": "shoot", "transaction": "42"})
    assert command.action is Action.SHOOT
    assert command.transaction == "42"


def test_integer_transaction_is_kept() -> None:
    assert parse({"action": "shoot", "transaction": 7}).transaction == 7


def test_parameters_become_typed_fields() -> None:
    command = parse({"action": "set_property", "name": "takemode", "value": "P"})
    assert (command.name, command.value) == ("takemode", "P")
    assert parse({"action": "set_property", "name": "iso", "value": 400}).value == "400"
    assert parse({"action": "download"}).which == "new"
    assert parse({"action": "download", "which": "all", "force": True}).force is True
    assert parse({"action": "download", "which": ["/DCIM/100OLYMP/P1.JPG"]}).paths == (
        "/DCIM/100OLYMP/P1.JPG",
    )
    when = parse({"action": "set_clock", "time": "2024-05-01T12:30:00"}).time
    assert when == datetime(2024, 5, 1, 12, 30)
    raw = parse({"action": "raw", "command": "get_caminfo", "args": {"a": "b"}})
    assert raw.command == "get_caminfo"
    assert dict(raw.args) == {"a": "b"}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", "'action'"),
        (b'{"action": 5}', "'action'"),
        (b'{"action": "fly"}', "Unknown action"),
        (b'{"action": "shoot", "speed": 3}', "does not take speed"),
        (b'{"action": "get_property"}', "needs 'name'"),
        (b'{"action": "set_property", "name": "iso", "value": [1]}', "must be a string"),
        (b'{"action": "set_property", "name": "iso", "value": true}', "must be a string"),
        (b'{"action": "set_property", "name": "", "value": "1"}', "printable"),
        (b'{"action": "download", "which": "some"}', "one of new, latest, all or a list"),
        (b'{"action": "download", "which": []}', "1 to 1000 camera paths"),
        (b'{"action": "download", "force": "yes"}', "true or false"),
        (b'{"action": "set_clock", "time": "yesterday"}', "ISO 8601"),
        (b'{"action": "raw", "command": "x", "args": [1]}', "object"),
    ],
)
def test_bad_commands_are_refused_with_a_sentence(payload: bytes, fragment: str) -> None:
    with pytest.raises(CommandError, match=fragment):
        parse_command(payload)


def test_transaction_survives_a_bad_command() -> None:
    with pytest.raises(CommandError) as caught:
        parse({"action": "set_property", "name": "iso", "transaction": "t1"})
    assert caught.value.transaction == "t1"
    assert caught.value.action == "set_property"


def test_oversized_payload_is_refused_before_parsing() -> None:
    payload = b'{"action": "shoot", "pad": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}'
    with pytest.raises(CommandError, match="at most"):
        parse_command(payload)


def test_destructive_commands_need_allow() -> None:
    nothing = SimpleNamespace(erase=False, power_off=False, raw=False)
    for body in (
        {"action": "power_off"},
        {"action": "erase", "path": "/DCIM/P1.JPG"},
        {"action": "raw", "command": "x"},
    ):
        with pytest.raises(CommandError, match="disabled"):
            check_allowed(parse(body), nothing)
    check_allowed(parse({"action": "power_off"}), SimpleNamespace(power_off=True))
    check_allowed(parse({"action": "shoot"}), nothing)


def test_replies() -> None:
    command = parse({"action": "shoot", "transaction": "9"})
    assert json.loads(ok_reply(command, {"files": []})) == {
        "transaction": "9",
        "action": "shoot",
        "status": "ok",
        "result": {"files": []},
    }
    assert json.loads(error_reply("Bad.", transaction=None, action=None)) == {
        "transaction": None,
        "action": None,
        "status": "error",
        "error": "Bad.",
    }


RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RELAXED
@given(st.binary(max_size=300))
def test_any_bytes_either_parse_or_raise_command_error(payload: bytes) -> None:
    try:
        parse_command(payload)
    except CommandError as error:
        assert str(error)


@RELAXED
@given(
    st.dictionaries(
        st.sampled_from(["action", "transaction", "name", "value", "which", "args", "x"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.lists(st.integers()),
    )
)
def test_any_json_object_either_parses_or_raises_command_error(body: dict) -> None:
    try:
        parse(body)
    except CommandError as error:
        assert str(error)


def test_every_action_has_a_worker_handler() -> None:
    from camera2mqtt.worker import _HANDLERS

    assert set(_HANDLERS) == set(Action)
