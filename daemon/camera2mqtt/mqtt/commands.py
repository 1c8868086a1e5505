"""Commands arriving on ``<base>/<camera>/set``: parse, validate, and the JSON replies.

A payload such as ``{"action": "set_property", "name": "takemode", "value": "P",
"transaction": "42"}`` becomes a frozen :class:`Command`. Anything wrong with it raises
:class:`CommandError`, which carries the transaction and action (when they could be read) so
that the reply can still be matched by the sender. Which parameters each action takes is one
table, :data:`ACTIONS`.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from camera2mqtt.errors import Camera2MqttError

__all__ = [
    "ACTIONS",
    "DOWNLOAD_CHOICES",
    "MAX_PAYLOAD_BYTES",
    "Action",
    "Command",
    "CommandError",
    "ParamSpec",
    "Transaction",
    "check_allowed",
    "error_reply",
    "ok_reply",
    "parse_command",
]

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_TEXT_CHARS = 256
MAX_RAW_ARGS = 16
DOWNLOAD_CHOICES = ("new", "latest", "all")
MAX_DOWNLOAD_PATHS = 1000

Transaction = str | int | None
"""The sender's ``transaction`` as given (a string or an integer), echoed in the reply."""


class Action(enum.StrEnum):
    SHOOT = "shoot"
    STATUS = "status"
    CANCEL = "cancel"
    SNAPSHOT = "snapshot"
    DOWNLOAD = "download"
    SET_CLOCK = "set_clock"
    GET_PROPERTY = "get_property"
    SET_PROPERTY = "set_property"
    POWER_OFF = "power_off"
    ERASE = "erase"
    RAW = "raw"
    STREAM_START = "stream_start"
    STREAM_STOP = "stream_stop"
    TIMELAPSE_START = "timelapse_start"
    TIMELAPSE_STOP = "timelapse_stop"
    TIMELAPSE_PAUSE = "timelapse_pause"
    TIMELAPSE_RESUME = "timelapse_resume"
    TIMELAPSE_SET = "timelapse_set"


# Destructive actions and the allow: setting that enables each.
DESTRUCTIVE = MappingProxyType(
    {Action.POWER_OFF: "power_off", Action.ERASE: "erase", Action.RAW: "raw"}
)


class CommandError(Camera2MqttError):
    """A command that cannot be run as sent; the message says what to fix."""

    def __init__(
        self, message: str, *, transaction: Transaction = None, action: str | None = None
    ) -> None:
        super().__init__(message)
        self.transaction = transaction
        self.action = action


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of an action: its JSON key, kind, whether required, allowed values."""

    key: str
    kind: str  # "text", "time", "args", "number", "count", "bool" or "which"
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None


ACTIONS: Mapping[Action, tuple[ParamSpec, ...]] = MappingProxyType(
    {
        Action.SHOOT: (),
        Action.STATUS: (),
        Action.CANCEL: (),
        Action.SNAPSHOT: (),
        Action.DOWNLOAD: (
            ParamSpec("which", "which", choices=DOWNLOAD_CHOICES, default="new"),
            ParamSpec("force", "bool"),
        ),
        Action.SET_CLOCK: (ParamSpec("time", "time"),),
        Action.GET_PROPERTY: (ParamSpec("name", "text", required=True),),
        Action.SET_PROPERTY: (
            ParamSpec("name", "text", required=True),
            ParamSpec("value", "text", required=True),
        ),
        Action.POWER_OFF: (),
        Action.ERASE: (ParamSpec("path", "text", required=True),),
        Action.RAW: (ParamSpec("command", "text", required=True), ParamSpec("args", "args")),
        Action.STREAM_START: (),
        Action.STREAM_STOP: (),
        Action.TIMELAPSE_START: (ParamSpec("name", "text", required=True),),
        Action.TIMELAPSE_STOP: (ParamSpec("name", "text", required=True),),
        Action.TIMELAPSE_PAUSE: (ParamSpec("name", "text", required=True),),
        Action.TIMELAPSE_RESUME: (ParamSpec("name", "text", required=True),),
        Action.TIMELAPSE_SET: (
            ParamSpec("name", "text", required=True),
            ParamSpec("interval", "number"),
            ParamSpec("count", "count"),
        ),
    }
)

_ENVELOPE_KEYS = frozenset({"action", "transaction"})


@dataclass(frozen=True, slots=True)
class Command:
    """A validated command; parameters the action does not take stay at their defaults."""

    action: Action
    transaction: Transaction = None
    which: str = "new"
    paths: tuple[str, ...] = ()  # download: camera paths given as a list in "which"
    force: bool = False
    time: datetime | None = None
    name: str | None = None
    value: str | None = None
    path: str | None = None
    command: str | None = None
    args: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    interval: float | None = None  # timelapse_set: seconds
    count: int | None = None  # timelapse_set: shots per session

    @property
    def destructive_setting(self) -> str | None:
        """The ``allow:`` setting this command needs, or None when it is harmless."""
        return DESTRUCTIVE.get(self.action)


def parse_command(payload: bytes) -> Command:
    """Turn a ``set`` payload into a :class:`Command` or raise :class:`CommandError`."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise CommandError(
            f"The command is {len(payload)} bytes; commands may be at most "
            f"{MAX_PAYLOAD_BYTES} bytes."
        )
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CommandError(
            'The command is not valid JSON; send an object like {"action": "shoot"}.'
        ) from None
    if not isinstance(data, dict):
        raise CommandError('The command must be a JSON object like {"action": "shoot"}.')
    transaction = _transaction(data.get("transaction"))
    raw_action = data.get("action")
    if not isinstance(raw_action, str):
        raise CommandError(
            f"The command needs an 'action' string, one of: {', '.join(ACTIONS)}.",
            transaction=transaction,
        )
    try:
        action = Action(raw_action)
    except ValueError:
        raise CommandError(
            f"Unknown action {_short(raw_action)!r}; use one of: {', '.join(ACTIONS)}.",
            transaction=transaction,
            action=_short(raw_action),
        ) from None
    specs = ACTIONS[action]
    unknown = sorted(set(data) - _ENVELOPE_KEYS - {spec.key for spec in specs})
    if unknown:
        takes = ", ".join(spec.key for spec in specs) or "no parameters"
        raise CommandError(
            f"The {action} action does not take {', '.join(map(_short, unknown))}; "
            f"it takes {takes}.",
            transaction=transaction,
            action=action,
        )
    values: dict[str, Any] = {}
    for spec in specs:
        try:
            value = _parameter(action, spec, data.get(spec.key))
        except CommandError as error:
            raise CommandError(str(error), transaction=transaction, action=action) from None
        if isinstance(value, tuple):  # which: a list of camera paths
            values["paths"] = value
        elif value is not None:
            values[spec.key] = value
    return Command(action=action, transaction=transaction, **values)


def check_allowed(command: Command, allow: Any) -> None:
    """Refuse a destructive command unless ``allow.<setting>`` is true for this camera."""
    setting = command.destructive_setting
    if setting is not None and not getattr(allow, setting, False):
        raise CommandError(
            f"The {command.action} action is disabled for this camera; set "
            f"'allow: {{{setting}: true}}' in its configuration to enable it.",
            transaction=command.transaction,
            action=command.action,
        )


def ok_reply(command: Command, result: Mapping[str, Any] | None = None) -> bytes:
    return _reply(
        {
            "transaction": command.transaction,
            "action": str(command.action),
            "status": "ok",
            "result": dict(result or {}),
        }
    )


def error_reply(error: str, *, transaction: Transaction = None, action: str | None = None) -> bytes:
    return _reply(
        {
            "transaction": transaction,
            "action": None if action is None else str(action),
            "status": "error",
            "error": error,
        }
    )


def _reply(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")


def _transaction(value: object) -> Transaction:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and len(value) <= MAX_TEXT_CHARS:
        return value
    return None


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _parameter(action: Action, spec: ParamSpec, value: object) -> object:
    if value is None:
        if spec.required:
            raise CommandError(f"The {action} action needs '{spec.key}'.")
        return spec.default
    if spec.kind == "text":
        text = _text(spec.key, value)
        if spec.choices and text not in spec.choices:
            raise CommandError(
                f"'{spec.key}' must be one of {', '.join(spec.choices)}, not {_short(text)!r}."
            )
        return text
    if spec.kind == "time":
        text = _text(spec.key, value)
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(
                f"'{spec.key}' must be an ISO 8601 time like 2024-05-01T12:30:00, "
                f"not {_short(text)!r}."
            ) from None
    if spec.kind == "args":
        return _args(spec.key, value)
    if spec.kind in ("number", "count"):
        return _number(spec.key, value, whole=spec.kind == "count")
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise CommandError(f"'{spec.key}' must be true or false.")
        return value
    if spec.kind == "which":
        if isinstance(value, list):
            if not value or len(value) > MAX_DOWNLOAD_PATHS:
                raise CommandError(
                    f"'{spec.key}' as a list must hold 1 to {MAX_DOWNLOAD_PATHS} camera paths."
                )
            return tuple(_text(f"{spec.key} item", item) for item in value)
        text = _text(spec.key, value)
        if text not in spec.choices:
            raise CommandError(
                f"'{spec.key}' must be one of {', '.join(spec.choices)} or a list of camera "
                f"paths, not {_short(text)!r}."
            )
        return text
    raise AssertionError(f"unknown parameter kind {spec.kind}")


def _text(key: str, value: object) -> str:
    # Numbers are accepted for text parameters because Home Assistant templates and humans
    # write {"value": 400} as often as {"value": "400"}.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CommandError(f"'{key}' must be a string.")
    text = str(value)
    if not text or len(text) > MAX_TEXT_CHARS or any(ord(char) < 0x20 for char in text):
        raise CommandError(f"'{key}' must be 1 to {MAX_TEXT_CHARS} printable characters.")
    return text


def _number(key: str, value: object, *, whole: bool) -> float | int:
    # Home Assistant's number entity sends "30.0"; accept numbers written as text too.
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or (whole and number != int(number)):
        what = "a whole number" if whole else "a number"
        raise CommandError(f"'{key}' must be {what}.")
    return int(number) if whole else number


def _args(key: str, value: object) -> Mapping[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_RAW_ARGS:
        raise CommandError(f"'{key}' must be an object of at most {MAX_RAW_ARGS} string values.")
    return MappingProxyType(
        {_text(f"{key} name", name): _text(f"{key}.{name}", item) for name, item in value.items()}
    )
