"""The camera's own list of commands (``get_commandlist.cgi``) and validation against it.

The list is a tree: ``<cgi name=...>`` holds options (``<cmd1>``, ``<cmd2>``...), an option
holds its allowed values (``<param1 name=...>``; an unnamed one means "any value") and either
may hold the options that can follow. Real lists are untidy, so the parser is tolerant: a
Shift-JIS declaration, names with trailing spaces, ``<cgi>`` with no ``<http_method>`` (or
options beside it), a ``<cmd3>`` next to a ``<cmd2>`` and whole documents on one line.

Validation walks the given ``key=value`` pairs in order. Options that sit side by side are an
ordered sequence of optional options; as on the camera, option order matters and required
options are not enforced.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException, ElementTree

from camera2mqtt.cameras.base import InvalidCommand, ProtocolError

__all__ = [
    "Choice",
    "CommandList",
    "CommandSpec",
    "Option",
    "parse_commandlist",
]

_OPTION_TAG = re.compile(r"cmd\d+")
_CHOICE_TAG = re.compile(r"param\d+")
_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
MAX_NESTING = 32
"""Options and values nested deeper than this in a command list are refused (real lists
nest three or four levels)."""

Args = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Choice:
    """One allowed value of an option (``name`` None: any value) and what may follow it."""

    name: str | None
    follow: tuple[Option, ...] = ()


@dataclass(frozen=True, slots=True)
class Option:
    """A ``key=`` a command takes; no named choices means any value is accepted."""

    name: str
    choices: tuple[Choice, ...] = ()
    follow: tuple[Option, ...] = ()

    @property
    def values(self) -> tuple[str, ...]:
        """The named values, in the camera's order."""
        return tuple(c.name for c in self.choices if c.name is not None)

    def choice(self, value: str) -> Choice | None:
        """The choice that accepts ``value``, or None."""
        if not self.choices:
            return Choice(None)
        wildcard = None
        for candidate in self.choices:
            if candidate.name == value:
                return candidate
            if candidate.name is None:
                wildcard = candidate
        return wildcard


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One ``<cgi>``: its name, HTTP method and the options it takes."""

    name: str
    method: str = "get"
    options: tuple[Option, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandList:
    """Everything the camera said about itself in ``get_commandlist``."""

    commands: Mapping[str, CommandSpec]
    version: str = ""
    oitrackversion: str = ""
    supports: frozenset[str] = frozenset()
    extra: Mapping[str, str] = field(default_factory=dict)

    def __contains__(self, command: object) -> bool:
        return command in self.commands

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.commands)

    def spec(self, command: str) -> CommandSpec:
        """The spec of ``command``; :class:`InvalidCommand` listing the valid ones if absent."""
        try:
            return self.commands[command]
        except KeyError:
            raise InvalidCommand(
                f"command {command!r} is not supported by this camera; valid commands: "
                f"{', '.join(self.commands)}.",
                valid=self.names,
            ) from None

    def validate(self, command: str, args: Args = ()) -> CommandSpec:
        """Check ``command`` and its ``(key, value)`` pairs in order; return its spec."""
        spec = self.spec(command)
        candidates = spec.options
        for key, value in args:
            candidates = _step(command, candidates, key, value)
        return spec

    def allows(self, command: str, args: Args = ()) -> bool:
        """Whether :meth:`validate` would accept ``command`` with ``args``."""
        try:
            self.validate(command, args)
        except InvalidCommand:
            return False
        return True

    def values(self, command: str, key: str, after: Args = ()) -> tuple[str, ...]:
        """The named values of option ``key`` of ``command`` once ``after`` has been given.

        Empty when the command or option is not listed or takes any value.
        """
        if command not in self.commands:
            return ()
        candidates = self.commands[command].options
        try:
            for k, v in after:
                candidates = _step(command, candidates, k, v)
        except InvalidCommand:
            return ()
        for option in candidates:
            if option.name == key:
                return option.values
        return ()


def _step(command: str, candidates: tuple[Option, ...], key: str, value: str) -> tuple[Option, ...]:
    """Match one ``key=value`` against the options allowed next; return the next ones."""
    for index, option in enumerate(candidates):
        if option.name != key:
            continue
        choice = option.choice(value)
        if choice is None:
            valid = tuple(f"{key}={v}" for v in option.values)
            raise InvalidCommand(
                f"{command}: {value!r} in {key}={value} is not supported; supported: "
                f"{', '.join(valid)}.",
                valid=valid,
            )
        return choice.follow + option.follow + candidates[index + 1 :]
    valid = tuple(option.name for option in candidates)
    if valid:
        hint = f"supported here: {', '.join(f'{name}=' for name in valid)}"
    else:
        hint = "it takes no further options"
    raise InvalidCommand(
        f"{command}: option {key!r} in {key}={value} is not supported; {hint}.", valid=valid
    )


# ---------------------------------------------------------------------------------------------
# Parsing


def decode_xml(body: bytes | str) -> str:
    """Bytes -> str using the declared encoding (Shift-JIS lists break ``fromstring(bytes)``)."""
    if isinstance(body, str):
        return body
    match = _DECLARED_ENCODING.search(body[:200])
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        if not codecs.lookup(encoding)._is_text_encoding:
            raise LookupError(encoding)
        return body.decode(encoding, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        # Unknown, not a text encoding, or one that can't replace bad bytes ("undefined",
        # "idna"): read it as UTF-8 rather than fail on the declaration.
        return body.decode("utf-8", errors="replace")


def parse_xml(body: bytes | str, what: str) -> Element:
    """Parse an XML reply safely; :class:`ProtocolError` if it is not XML."""
    text = decode_xml(body)
    # A str that still carries an encoding declaration parses; strip it anyway so that an
    # encoding Python doesn't know cannot get in the way.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    try:
        return ElementTree.fromstring(text)
    except DefusedXmlException as error:
        raise ProtocolError(f"The camera's {what} reply uses forbidden XML ({error}).") from None
    except (ElementTree.ParseError, ValueError, RecursionError) as error:
        raise ProtocolError(f"The camera's {what} reply is not valid XML ({error}).") from None


def parse_commandlist(body: bytes | str) -> CommandList:
    """Parse a ``get_commandlist`` reply into a :class:`CommandList`."""
    root = parse_xml(body, "get_commandlist")
    commands: dict[str, CommandSpec] = {}
    supports: set[str] = set()
    extra: dict[str, str] = {}
    for child in root:
        if child.tag == "cgi":
            spec = _parse_cgi(child)
            if spec is not None:
                commands[spec.name] = spec
        elif child.tag == "support":
            func = (child.get("func") or "").strip()
            if func:
                supports.add(func)
        elif len(child) == 0 and child.text:
            extra[child.tag] = child.text.strip()
    if not commands:
        raise ProtocolError("The camera's command list names no commands.")
    return CommandList(
        commands=commands,
        version=extra.pop("version", ""),
        oitrackversion=extra.pop("oitrackversion", ""),
        supports=frozenset(supports),
        extra=extra,
    )


def _name(element: Element) -> str | None:
    name = element.get("name")
    if name is None:
        return None
    return name.strip() or None


def _parse_cgi(cgi: Element) -> CommandSpec | None:
    name = _name(cgi)
    if name is None:
        return None
    method = "get"
    options: list[Option] = []
    for child in cgi:
        if child.tag == "http_method":
            method = (child.get("type") or "get").strip().lower()
            options.extend(_parse_options(child))
        elif _OPTION_TAG.fullmatch(child.tag):
            options.append(_parse_option(child))
    return CommandSpec(name=name, method=method, options=tuple(options))


def _parse_options(parent: Element, depth: int = 0) -> list[Option]:
    if depth > MAX_NESTING:
        raise ProtocolError(
            f"The camera's command list nests options more than {MAX_NESTING} levels deep; "
            "it is not a command list this driver can use."
        )
    return [_parse_option(child, depth) for child in parent if _OPTION_TAG.fullmatch(child.tag)]


def _parse_option(element: Element, depth: int = 0) -> Option:
    choices = tuple(
        Choice(_name(child), tuple(_parse_options(child, depth + 1)))
        for child in element
        if _CHOICE_TAG.fullmatch(child.tag)
    )
    return Option(
        name=_name(element) or "",
        choices=choices,
        follow=tuple(_parse_options(element, depth + 1)),
    )
