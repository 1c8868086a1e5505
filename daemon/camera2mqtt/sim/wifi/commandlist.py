"""The simulator's reading of a ``get_commandlist`` document, and argument checks against it.

A camera only accepts the commands, argument names and argument values its command list
declares, in the declared order. The tree here mirrors the XML: a ``cmdN`` element is an
argument name, a ``paramN`` element one allowed value (unnamed = any value), and the
``cmdN+1`` elements under it the arguments that may follow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

__all__ = ["WILDCARD", "ArgLevel", "CgiSpec", "CommandList", "parse_commandlist"]

WILDCARD = "*"

_ENCODING_DECLARATION = re.compile(rb"""<\?xml[^>]*encoding=["']([A-Za-z0-9_.-]+)["']""")


@dataclass(frozen=True)
class ArgLevel:
    """The argument names allowed at one position: name -> allowed value -> what may follow."""

    keys: Mapping[str, Mapping[str, ArgLevel]] = field(default_factory=dict)


@dataclass(frozen=True)
class CgiSpec:
    name: str
    method: str  # "get" or "post"
    args: ArgLevel

    def values_of(self, *path: str) -> tuple[str, ...]:
        """The declared values of an argument, reached by ``name, value, name, ..., name``."""
        *steps, last = path
        level = self.args
        for name, value in zip(steps[::2], steps[1::2], strict=True):
            values = level.keys.get(name, {})
            level = values.get(value) or values.get(WILDCARD) or ArgLevel()
        return tuple(value for value in level.keys.get(last, {}) if value != WILDCARD)

    def check(self, args: Sequence[tuple[str, str]]) -> str | None:
        """Why ``args`` (in request order) are not acceptable, or None when they are.

        Arguments must follow the declared order; an argument may also be one of the
        not-yet-used siblings of an earlier one (real lists put optional arguments side by
        side, e.g. ``startmovietake``'s ``limitter`` and ``liveview``). Required arguments
        are not enforced here, as cameras answer those per command.
        """
        open_levels: list[dict[str, Mapping[str, ArgLevel]]] = [dict(self.args.keys)]
        for name, value in args:
            for depth in range(len(open_levels) - 1, -1, -1):
                if name in open_levels[depth]:
                    break
            else:
                return f"argument {name!r} is not accepted by {self.name} here"
            values = open_levels[depth].pop(name)
            del open_levels[depth + 1 :]
            following = values.get(value, values.get(WILDCARD))
            if following is None:
                allowed = " ".join(v for v in values if v != WILDCARD)
                return f"value {value!r} of {name} is not one of: {allowed}"
            open_levels.append(dict(following.keys))
        return None


@dataclass(frozen=True)
class CommandList:
    """A parsed command list: the raw document (served as is) and its commands."""

    raw: bytes
    version: str
    commands: Mapping[str, CgiSpec]

    def modes(self) -> tuple[str, ...]:
        """The ``switch_cammode`` modes this camera declares."""
        spec = self.commands.get("switch_cammode")
        return spec.values_of("mode") if spec else ()

    def lvqty_values(self) -> tuple[str, ...]:
        spec = self.commands.get("switch_cammode")
        return spec.values_of("mode", "rec", "lvqty") if spec else ()


def _name(element: Element) -> str:
    return (element.get("name") or "").strip() or WILDCARD


def _children(element: Element, prefix: str) -> list[Element]:
    return [child for child in element if child.tag.startswith(prefix)]


def _level(cmd_elements: Sequence[Element]) -> ArgLevel:
    keys: dict[str, Mapping[str, ArgLevel]] = {}
    for cmd in cmd_elements:
        params = _children(cmd, "param")
        nested_cmds = _children(cmd, "cmd")
        values: dict[str, ArgLevel] = {}
        if params:
            for param in params:
                values[_name(param)] = _level(_children(param, "cmd") + nested_cmds)
        else:
            values[WILDCARD] = _level(nested_cmds)
        keys[_name(cmd)] = values
    return ArgLevel(keys)


def _decode(raw: bytes) -> str:
    # ElementTree refuses multi-byte encodings given as bytes (Shift-JIS lists), so decode here.
    match = _ENCODING_DECLARATION.search(raw[:200])
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    return raw.decode(encoding, errors="replace")


def parse_commandlist(raw: bytes) -> CommandList:
    root = ElementTree.fromstring(_decode(raw))
    version = (root.findtext("version") or "").strip()
    commands: dict[str, CgiSpec] = {}
    for cgi in root.iter("cgi"):
        method_element = cgi.find("http_method")
        method = method_element.get("type", "get") if method_element is not None else "get"
        cmds = _children(cgi, "cmd")
        if method_element is not None:
            cmds = _children(method_element, "cmd") + cmds
        name = _name(cgi)
        commands[name] = CgiSpec(name=name, method=method.strip().lower(), args=_level(cmds))
    return CommandList(raw=raw, version=version, commands=commands)
