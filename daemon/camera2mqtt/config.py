"""The configuration file: YAML in, typed frozen objects out, every problem reported at once.

The file is parsed into PyYAML nodes (which keep their line numbers), then each section is read
by a small typed reader that records a :class:`ConfigProblem` (key path, line, what is allowed)
instead of stopping at the first mistake. Only when no problem was found does it return a
:class:`Config`; otherwise it raises one :class:`ConfigError` listing them all.

String values may name environment variables as ``${NAME}`` or ``${NAME:-default}`` (``$$``
is a literal ``$``); the MQTT password may also come from ``password_file``. Secrets never
appear in ``repr()``/``str()`` of the config, in problem messages, or in :func:`redacted`.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.folders import folder_problem
from camera2mqtt.library.naming import DEFAULT_TEMPLATE, TEMPLATE_FIELDS, template_problem
from camera2mqtt.stream.sender import (
    MAX_PACKET_SIZE,
    MIN_PACKET_SIZE,
    StreamTargetError,
    parse_target,
)
from camera2mqtt.timelapse.settings import Location, TimelapseConfig

__all__ = [
    "EX_CONFIG",
    "LIVEVIEW_SIZES",
    "LOG_LEVELS",
    "SERIAL_SPEEDS",
    "AllowConfig",
    "CameraConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "HttpConfig",
    "LibraryConfig",
    "LiveViewConfig",
    "MqttConfig",
    "ScheduleConfig",
    "SerialCameraConfig",
    "SnapshotConfig",
    "StreamConfig",
    "TlsConfig",
    "WifiCameraConfig",
    "load_config",
    "parse_config",
    "redacted",
]

EX_CONFIG = 78  # sysexits.h: configuration error

REDACTED = "***"
SERIAL_SPEEDS = (9600, 19200, 38400, 57600, 115200)
LIVEVIEW_SIZES = ("0320x0240", "0640x0480", "0800x0600", "1024x0768", "1280x0960")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_STATE_DIR = Path("/var/lib/camera2mqtt")
# Mosquitto >= 2.1 drops a client that sends a packet over 2,000,000 bytes (max_packet_size).
MQTT_PAYLOAD_LIMIT = 1_900_000
SNAPSHOT_MAX_BYTES_LIMIT = 1_000_000
CAMERA_NAME_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
RESERVED_CAMERA_NAMES = frozenset({"bridge"})  # <base_topic>/bridge/state is the daemon's
SYNC_TIME_PATTERN = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
# Limits against hostile or broken files: each is far above any real configuration.
MAX_CONFIG_BYTES = 1024 * 1024
MAX_YAML_DEPTH = 32
MAX_YAML_NODES = 50_000
MAX_CAMERAS = 100
MAX_SYNC_TIMES = 96  # every 15 minutes
MAX_STREAM_TARGETS = 16
MAX_HOST_LENGTH = 253  # the longest DNS name
MAX_TEXT_LENGTH = 4096  # paths (PATH_MAX) and other strings
MAX_SHOWN_PROBLEMS = 50
MAX_SHOWN_VALUE = 60  # characters of a bad value echoed in a problem
LIVEVIEW_SIZE_PATTERN = re.compile(r"\d{4}x\d{4}")
_ENV_PATTERN = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in the configuration: where it is and what would be allowed."""

    path: str
    line: int | None
    message: str

    def describe(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line is not None else source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Camera2MqttError):
    """The configuration cannot be used; ``problems`` lists every mistake found."""

    exit_code = EX_CONFIG

    def __init__(
        self, problems: tuple[ConfigProblem, ...] | list[ConfigProblem], source: str = "<config>"
    ):
        # In file order; problems without a line (e.g. unreadable file) first.
        self.problems = tuple(sorted(problems, key=lambda p: p.line or 0))
        self.source = source
        lines = [problem.describe(source) for problem in self.problems[:MAX_SHOWN_PROBLEMS]]
        if len(self.problems) > MAX_SHOWN_PROBLEMS:
            lines.append(f"... and {len(self.problems) - MAX_SHOWN_PROBLEMS} more")
        if len(lines) == 1:
            text = lines[0]
        else:
            header = f"{source}: {len(self.problems)} problems in the configuration, fix them all:"
            text = "\n".join([header, *(f"  {line}" for line in lines)])
        super().__init__(text)


# --------------------------------------------------------------------------- the config


@dataclass(frozen=True)
class TlsConfig:
    """TLS to the broker. No ``ca`` means the system's CA store."""

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    # Accept any certificate and host name: only for tests and self-signed set-ups.
    insecure: bool = False


def _default_client_id() -> str:
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "host"
    return f"camera2mqtt-{host}"


@dataclass(frozen=True)
class MqttConfig:
    host: str = "localhost"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsConfig | None = None
    client_id: str = field(default_factory=_default_client_id)
    keepalive: int = 60
    base_topic: str = "camera2mqtt"
    qos: int = 1
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    # device: one config per camera (Home Assistant 2024.11+); entity: one per entity.
    discovery_mode: str = "device"
    # Largest payload we publish; snapshots must fit (see snapshot.max_bytes).
    max_payload_bytes: int = 1_000_000


@dataclass(frozen=True)
class AllowConfig:
    """Opt-in switches for commands that destroy data, cut power or bypass validation."""

    erase: bool = False
    power_off: bool = False
    raw: bool = False


@dataclass(frozen=True)
class SnapshotConfig:
    interval: float = 0.0  # seconds; 0 = only on request
    size: int = 640  # longest side in pixels
    max_bytes: int = 200_000


@dataclass(frozen=True)
class LiveViewConfig:
    port: int = 0  # local UDP port for RTP; 0 = any free port
    size: str = "0640x0480"


@dataclass(frozen=True)
class StreamConfig:
    """Where ``stream_start`` relays the live view (camera2mqtt.stream); no targets = off."""

    targets: tuple[str, ...] = ()  # udp://HOST:PORT, unicast or an IPv4 multicast group
    packet_size: int = 1400  # datagram bytes, stream header included
    header: str = "auto"  # smallest header size used: auto (= short), short, medium, long


@dataclass(frozen=True)
class HttpConfig:
    """The MJPEG live-view server; no ``listen`` = off."""

    listen: str | None = None  # HOST:PORT


@dataclass(frozen=True)
class ScheduleConfig:
    """Unattended jobs of one camera."""

    timelapse_interval: float = 0.0  # seconds between shots; 0 = no timelapse
    sync_at: tuple[str, ...] = ()  # "HH:MM" local times for a daily download of new photos
    sync_on_connect: bool = False  # download new photos whenever the camera (re)appears


@dataclass(frozen=True)
class LibraryConfig:
    """Where synced photos go under download_dir, and whether the card is cleared after."""

    path_template: str = DEFAULT_TEMPLATE  # fields: see camera2mqtt.library.naming
    delete_after_download: bool = False  # needs allow.erase; only verified, recorded files


@dataclass(frozen=True, kw_only=True)
class CameraConfig:
    name: str
    type: str
    poll_interval: float = 30.0
    snapshot: SnapshotConfig = field(default_factory=SnapshotConfig)
    allow: AllowConfig = field(default_factory=AllowConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    download_dir: Path
    stream: StreamConfig = field(default_factory=StreamConfig)
    timelapses: tuple[TimelapseConfig, ...] = ()  # see camera2mqtt.timelapse
    keep_free_mb: int = 100  # downloads that would leave less free space in download_dir fail
    library: LibraryConfig = field(default_factory=LibraryConfig)
    presence_interval: float = 3.0  # seconds between cheap presence probes while away


@dataclass(frozen=True, kw_only=True)
class WifiCameraConfig(CameraConfig):
    type: str = "wifi"
    host: str = "192.168.0.10"
    port: int = 80
    timeout: float = 5.0
    liveview: LiveViewConfig = field(default_factory=LiveViewConfig)


@dataclass(frozen=True, kw_only=True)
class SerialCameraConfig(CameraConfig):
    type: str = "serial"
    port: str  # device path (/dev/ttyUSB0) or pyserial URL (socket://127.0.0.1:4000)
    speed: int = 115200
    model: str | None = None


@dataclass(frozen=True)
class Config:
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    cameras: tuple[CameraConfig, ...] = ()
    log_level: str = "INFO"
    photos_dir: Path = DEFAULT_STATE_DIR / "photos"
    state_dir: Path = DEFAULT_STATE_DIR
    http: HttpConfig = field(default_factory=HttpConfig)
    location: Location | None = None  # for sunrise/sunset timelapse windows

    def camera(self, name: str) -> CameraConfig:
        for camera in self.cameras:
            if camera.name == name:
                return camera
        raise KeyError(name)


# Field names whose values are secrets: replaced in redacted() and never echoed in problems.
SECRET_KEYS = frozenset({"password"})


def redacted(config: Any) -> Any:
    """The config as plain data (dicts, lists, str) with every secret replaced by ``***``."""
    if is_dataclass(config) and not isinstance(config, type):
        result: dict[str, Any] = {}
        for item in fields(config):
            value = getattr(config, item.name)
            if item.name in SECRET_KEYS and value is not None:
                result[item.name] = REDACTED
            else:
                result[item.name] = redacted(value)
        return result
    if isinstance(config, tuple | list):
        return [redacted(item) for item in config]
    if isinstance(config, Path):
        return str(config)
    return config


# --------------------------------------------------------------------------- loading


def load_config(
    path: Path | str, *, environ: Mapping[str, str] | None = None, check_folders: bool = False
) -> Config:
    """Read and validate a config file; raises :class:`ConfigError` listing every problem.

    Relative paths in the file are taken relative to the file's folder. ``check_folders``
    also checks that ``state_dir``, ``photos_dir`` and each ``download_dir`` are folders this
    user can write to or create (``check-config`` and ``run`` both do; nothing is created).
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(
                [
                    ConfigProblem(
                        "",
                        None,
                        f"the config file is larger than {MAX_CONFIG_BYTES} bytes; "
                        "is it the right file?",
                    )
                ],
                str(path),
            )
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ConfigError(
            [ConfigProblem("", None, f"cannot read the config file: {reason}")], str(path)
        ) from None
    return parse_config(
        text,
        source=str(path),
        environ=environ,
        base_dir=path.parent.absolute(),
        check_folders=check_folders,
    )


def parse_config(
    text: str,
    *,
    source: str = "<string>",
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    check_folders: bool = False,
) -> Config:
    """Validate config text; relative paths are taken relative to ``base_dir`` (default: cwd).
    ``check_folders``: see :func:`load_config`."""
    context = _Context(
        source=source,
        environ=os.environ if environ is None else environ,
        base_dir=base_dir if base_dir is not None else Path.cwd(),
    )
    root = _compose(text, source)
    if root is None:
        context.add("", None, "the file is empty; it needs at least a 'cameras:' section")
        raise ConfigError(context.problems, source)
    config = _read_config(context, root)
    if check_folders and not context.problems:
        _check_folders(context, root, config)
    if context.problems:
        raise ConfigError(context.problems, source)
    return config


def _compose(text: str, source: str) -> yaml.Node | None:
    loader = None
    try:
        _check_shape(text, source)
        loader = yaml.SafeLoader(text)
        return loader.get_single_node()
    except RecursionError:  # _check_shape keeps it from happening; never a traceback
        message = f"YAML nested too deeply; at most {MAX_YAML_DEPTH} levels are allowed"
        raise ConfigError([ConfigProblem("", None, message)], source) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        message = f"YAML syntax error: character U+{error.character:04X} is not allowed in YAML"
        raise ConfigError([ConfigProblem("", line, message)], source) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        detail = error.problem or error.context or "invalid YAML"
        column = f" (column {mark.column + 1})" if mark else ""
        message = f"YAML syntax error: {detail}{column}"
        raise ConfigError([ConfigProblem("", line, message)], source) from None
    except yaml.YAMLError as error:
        message = "YAML error: " + " ".join(str(error).split())
        raise ConfigError([ConfigProblem("", None, message)], source) from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_shape(text: str, source: str) -> None:
    """Refuse nesting and sizes no configuration needs, from the parser's flat event stream,
    before the (recursive) composer builds nodes from it."""
    loader = yaml.SafeLoader(text)
    depth = nodes = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue
            nodes += 1
            line = event.start_mark.line + 1 if event.start_mark else None
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    message = (
                        f"YAML nested more than {MAX_YAML_DEPTH} levels deep; "
                        "a configuration needs only a few"
                    )
                    raise ConfigError([ConfigProblem("", line, message)], source)
            if nodes > MAX_YAML_NODES:
                message = f"more than {MAX_YAML_NODES} YAML values; a configuration needs far fewer"
                raise ConfigError([ConfigProblem("", line, message)], source)
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- readers

_MERGE_TAG = "tag:yaml.org,2002:merge"
_PLAIN_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
)
_MISSING: Any = object()  # "no default: the key is required"
_INVALID: Any = object()  # a problem was recorded; the caller falls back to the default

_KIND_NAMES = {
    "tag:yaml.org,2002:map": "a mapping",
    "tag:yaml.org,2002:seq": "a list",
    "tag:yaml.org,2002:null": "nothing (null)",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:str": "a string",
}
_BOOL_WORDS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


@dataclass
class _Context:
    source: str
    environ: Mapping[str, str]
    base_dir: Path
    problems: list[ConfigProblem] = field(default_factory=list)
    _constructor: yaml.SafeLoader = field(default_factory=lambda: yaml.SafeLoader(""))
    _explicit_keys: dict[int, set[int]] = field(default_factory=dict)
    location: Location | None = None  # read before the cameras, for their timelapses

    def add(self, path: str, node: yaml.Node | None, message: str) -> None:
        self.problems.append(ConfigProblem(path, _line(node), message))

    def construct(self, node: yaml.ScalarNode) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def flatten(self, node: yaml.MappingNode, path: str) -> set[int]:
        """Resolve ``<<`` merge keys in place; the ids of the keys written in the mapping itself."""
        explicit = self._explicit_keys.get(id(node))
        if explicit is None:
            explicit = {id(key) for key, _ in node.value if key.tag != _MERGE_TAG}
            self._explicit_keys[id(node)] = explicit
            try:
                self._constructor.flatten_mapping(node)
            except yaml.MarkedYAMLError as error:
                mark = error.problem_mark
                self.problems.append(
                    ConfigProblem(
                        _join(path, "<<"),
                        mark.line + 1 if mark else _line(node),
                        "a merge key must name a mapping (*anchor) or a list of them",
                    )
                )
                node.value = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        return explicit

    def substitute(self, text: str, path: str, node: yaml.Node) -> str | Any:
        """Replace ``${NAME}`` / ``${NAME:-default}`` from the environment."""
        missing: list[str] = []

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            value = self.environ.get(name)
            if value is None or (value == "" and default is not None):
                if default is None:
                    missing.append(name)
                    return ""
                return default
            return value

        result = _ENV_PATTERN.sub(replace, text)
        if missing:
            names = ", ".join(missing)
            self.add(
                path,
                node,
                f"environment variable {names} is not set; set it or write "
                f"${{{missing[0]}:-default}} to give a default",
            )
            return _INVALID
        return result


def _describe(node: yaml.Node) -> str:
    return _KIND_NAMES.get(node.tag, "a tagged value")


class _Section:
    """One YAML mapping being read: typed getters that record problems, unknown-key check."""

    def __init__(
        self,
        context: _Context,
        node: yaml.MappingNode,
        path: str,
        allowed: tuple[str, ...],
        key_node: yaml.Node | None = None,
    ):
        self.context = context
        self.node = node
        # Where a missing key is reported: the line naming this section, else its first line.
        self.anchor = key_node or node
        self.path = path
        self.entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        explicit = context.flatten(node, path)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in (
                "tag:yaml.org,2002:str",
                "tag:yaml.org,2002:int",
            ):
                context.add(path, key_node, f"keys must be plain names, got {_describe(key_node)}")
                continue
            key = str(key_node.value)
            if key in self.entries and id(self.entries[key][0]) not in explicit:
                pass  # a key written here overrides the same key merged in with <<
            elif key in self.entries:
                first = _line(self.entries[key][0])
                context.add(
                    _join(path, key),
                    key_node,
                    f"duplicate key (first given on line {first}); keep only one",
                )
                continue
            self.entries[key] = (key_node, value_node)
        if allowed:
            for key, (key_node, _) in self.entries.items():
                if key not in allowed:
                    context.add(_join(path, key), key_node, _unknown_key_message(key, allowed))

    def has(self, key: str) -> bool:
        return key in self.entries

    def value_node(self, key: str) -> yaml.Node | None:
        entry = self.entries.get(key)
        return entry[1] if entry else None

    def get(self, key: str, reader: _Reader, default: Any = _MISSING) -> Any:
        path = _join(self.path, key)
        entry = self.entries.get(key)
        if entry is None:
            if default is _MISSING:
                self.context.add(
                    path, self.anchor, f"missing required key '{key}': {reader.allowed}"
                )
                return _INVALID
            return default
        value = reader.read(self.context, entry[1], path)
        if value is _INVALID:
            return default if default is not _MISSING else _INVALID
        return value

    def section(self, key: str, allowed: tuple[str, ...]) -> _Section | None:
        """A nested mapping, or None when absent (null counts as absent)."""
        path = _join(self.path, key)
        node = self.value_node(key)
        if node is None or node.tag == "tag:yaml.org,2002:null":
            return None
        if not isinstance(node, yaml.MappingNode):
            self.context.add(
                path, node, f"must be a mapping of {', '.join(allowed)}; got {_describe(node)}"
            )
            return None
        return _Section(self.context, node, path, allowed, self.entries[key][0])


def _unknown_key_message(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key '{key}'{hint} (allowed here: {', '.join(allowed)})"


@dataclass(frozen=True)
class _Reader:
    """Turns one scalar node into a typed value, or records what would have been allowed."""

    kind: str  # "str", "int", "float", "bool"
    allowed: str  # human description of what is accepted
    check: Callable[[Any], bool] | None = None
    secret: bool = False
    nullable: bool = False
    max_length: int | None = None  # of a string, in characters

    def read(self, context: _Context, node: yaml.Node, path: str) -> Any:
        if node.tag == "tag:yaml.org,2002:null" and self.nullable:
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            return self._fail(context, node, path, f"got {_describe(node)}")
        raw: Any
        if node.tag not in _PLAIN_SCALAR_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            context.add(path, node, f"must be {self.allowed}; YAML tags ({tag}) are not supported")
            return _INVALID
        if node.tag == "tag:yaml.org,2002:str":
            raw = context.substitute(node.value, path, node)
            if raw is _INVALID:
                return _INVALID
        else:
            try:
                raw = context.construct(node)
            except (yaml.YAMLError, ValueError, TypeError, OverflowError):
                return self._fail(context, node, path, f"got {node.value!r}")
        value = self._convert(raw, node)
        if value is _INVALID:
            return self._fail(context, node, path, self._got(raw))
        if self.max_length is not None and len(value) > self.max_length:
            context.add(
                path,
                node,
                f"must be {self.allowed} of at most {self.max_length} characters; "
                f"got {len(value)} characters",
            )
            return _INVALID
        if self.check is not None and not self.check(value):
            return self._fail(context, node, path, self._got(value))
        return value

    def _convert(self, raw: Any, node: yaml.ScalarNode) -> Any:
        from_text = isinstance(raw, str)
        if self.kind == "str":
            # An unquoted 1234 or yes is still meant as text here: keep what was written.
            return raw if from_text else str(node.value)
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            return _BOOL_WORDS.get(raw.strip().lower(), _INVALID) if from_text else _INVALID
        if self.kind == "int":
            if isinstance(raw, bool):
                return _INVALID
            if isinstance(raw, int):
                return raw
            if from_text:
                try:
                    return int(raw.strip().replace("_", ""))
                except ValueError:
                    return _INVALID
            return _INVALID
        if self.kind == "float":
            if isinstance(raw, bool):
                return _INVALID
            if isinstance(raw, int | float):
                return float(raw)
            if from_text:
                try:
                    return float(raw.strip())
                except ValueError:
                    return _INVALID
            return _INVALID
        raise AssertionError(self.kind)

    def _got(self, value: Any) -> str:
        shown = repr(value)
        if len(shown) > MAX_SHOWN_VALUE:
            size = f"{len(value)} characters" if isinstance(value, str) else "too long"
            shown = f"{shown[:MAX_SHOWN_VALUE]}... ({size})"
        return f"got {shown}"

    def _fail(self, context: _Context, node: yaml.Node, path: str, got: str) -> Any:
        if self.secret:
            got = f"got {_describe(node)}"  # never echo what might be the secret
        context.add(path, node, f"must be {self.allowed}; {got}")
        return _INVALID


def _integer(low: int, high: int, what: str = "an integer") -> _Reader:
    return _Reader("int", f"{what} from {low} to {high}", lambda v: low <= v <= high)


def _number(low: float, high: float, *, zero: str | None = None) -> _Reader:
    if zero is None:
        return _Reader("float", f"a number from {low:g} to {high:g}", lambda v: low <= v <= high)
    return _Reader(
        "float",
        f"0 ({zero}) or a number from {low:g} to {high:g}",
        lambda v: v == 0 or low <= v <= high,
    )


def _choice(values: tuple[Any, ...], kind: str = "str") -> _Reader:
    shown = ", ".join(str(v) for v in values)
    return _Reader(kind, f"one of {shown}", lambda v: v in values)


def _text(what: str = "a non-empty string", check: Callable[[str], bool] | None = None) -> _Reader:
    return _Reader("str", what, check or (lambda v: bool(v.strip())), max_length=MAX_TEXT_LENGTH)


_BOOL = _Reader("bool", "true or false")
_PORT = _integer(1, 65535, "a TCP port")
_PATH = _text("a file or folder path")


def _valid_topic(value: str) -> bool:
    parts = value.split("/")
    return bool(value) and all(parts) and not any(c in value for c in "+#\0") and len(value) < 200


def _valid_host(value: str) -> bool:
    return bool(value) and not any(c.isspace() for c in value) and "/" not in value


_TOPIC = _text(
    "an MQTT topic prefix without wildcards (+ #), empty levels or a leading/trailing /",
    _valid_topic,
)
_HOST = _Reader(
    "str",
    "a host name or IP address (no scheme, no path)",
    _valid_host,
    max_length=MAX_HOST_LENGTH,
)


def _path_value(context: _Context, section: _Section, key: str, default: Any) -> Any:
    value = section.get(key, _PATH, _MISSING if default is _MISSING else None)
    if value is None or value is _INVALID:
        return default if value is None else _INVALID
    path = Path(value).expanduser()
    return path if path.is_absolute() else context.base_dir / path


def _existing_file(context: _Context, section: _Section, key: str) -> Path | None:
    path = _path_value(context, section, key, None)
    if path is None or path is _INVALID:
        return None
    if not path.is_file():
        context.add(
            _join(section.path, key),
            section.value_node(key),
            f"must be a readable file; {path} does not exist or is not a file",
        )
        return None
    return path


# --------------------------------------------------------------------------- sections

_TOP_KEYS = ("mqtt", "cameras", "log_level", "photos_dir", "state_dir", "http", "location")
_MQTT_KEYS = (
    "host",
    "port",
    "username",
    "password",
    "password_file",
    "tls",
    "client_id",
    "keepalive",
    "base_topic",
    "qos",
    "discovery",
    "discovery_prefix",
    "discovery_mode",
    "max_payload_bytes",
)
_TLS_KEYS = ("ca", "cert", "key", "insecure")
_CAMERA_KEYS = ("type", "poll_interval", "snapshot", "allow", "schedule", "download_dir", "stream")
_CAMERA_KEYS = (*_CAMERA_KEYS, "timelapses")  # read by camera2mqtt.timelapse.reader
_CAMERA_KEYS = (*_CAMERA_KEYS, "keep_free_mb")
_CAMERA_KEYS = (*_CAMERA_KEYS, "library", "presence_interval")
_WIFI_KEYS = (*_CAMERA_KEYS, "host", "port", "timeout", "liveview")
_SERIAL_KEYS = (*_CAMERA_KEYS, "port", "speed", "model")
_TYPE_KEYS = {"wifi": _WIFI_KEYS, "serial": _SERIAL_KEYS}
_SNAPSHOT_KEYS = ("interval", "size", "max_bytes")
_ALLOW_KEYS = ("erase", "power_off", "raw")
_LIVEVIEW_KEYS = ("port", "size")
_SCHEDULE_KEYS = ("timelapse_interval", "sync_at", "sync_on_connect")
_STREAM_KEYS = ("targets", "packet_size", "header")
_HTTP_KEYS = ("listen",)
STREAM_HEADERS = ("auto", "short", "medium", "long")
_LIBRARY_KEYS = ("path_template", "delete_after_download")


def _read_config(context: _Context, root: yaml.Node) -> Config:
    if not isinstance(root, yaml.MappingNode):
        context.add(
            "", root, f"the file must be a mapping of {', '.join(_TOP_KEYS)}; got {_describe(root)}"
        )
        return Config()
    top = _Section(context, root, "", _TOP_KEYS)
    log_level = _read_log_level(top)
    state_dir = _path_value(context, top, "state_dir", DEFAULT_STATE_DIR)
    if state_dir is _INVALID:
        state_dir = DEFAULT_STATE_DIR
    photos_dir = _path_value(context, top, "photos_dir", state_dir / "photos")
    if photos_dir is _INVALID:
        photos_dir = state_dir / "photos"
    mqtt = _read_mqtt(context, top)
    from camera2mqtt.timelapse.reader import read_location

    context.location = read_location(top)
    cameras = _read_cameras(context, top, photos_dir, mqtt)
    return Config(
        mqtt=mqtt,
        cameras=cameras,
        log_level=log_level,
        photos_dir=photos_dir,
        state_dir=state_dir,
        http=_read_http(top),
        location=context.location,
    )


def _read_log_level(top: _Section) -> str:
    reader = _Reader(
        "str", f"one of {', '.join(LOG_LEVELS)}", lambda v: v.strip().upper() in LOG_LEVELS
    )
    return top.get("log_level", reader, "INFO").strip().upper()


def _read_mqtt(context: _Context, top: _Section) -> MqttConfig:
    section = top.section("mqtt", _MQTT_KEYS)
    if section is None:
        return MqttConfig()
    defaults = MqttConfig()
    password = section.get("password", _Reader("str", "a string", secret=True, nullable=True), None)
    if section.has("password_file"):
        if section.has("password"):
            context.add(
                _join(section.path, "password_file"),
                section.value_node("password_file"),
                "give either 'password' or 'password_file', not both",
            )
        password = _read_password_file(context, section)
    username = section.get("username", _Reader("str", "a string", nullable=True), None)
    if password is not None and username is None:
        context.add(
            _join(section.path, "password"),
            section.value_node("password") or section.value_node("password_file"),
            "a password needs a 'username' as well",
        )
    max_payload = section.get(
        "max_payload_bytes",
        _integer(1024, MQTT_PAYLOAD_LIMIT, "a byte count"),
        defaults.max_payload_bytes,
    )
    return MqttConfig(
        host=section.get("host", _HOST, defaults.host),
        port=section.get("port", _PORT, defaults.port),
        username=username,
        password=password,
        tls=_read_tls(context, section),
        client_id=section.get(
            "client_id",
            _text("1 to 64 characters without spaces", lambda v: 0 < len(v) <= 64 and " " not in v),
            defaults.client_id,
        ),
        keepalive=section.get("keepalive", _integer(5, 65535, "seconds"), defaults.keepalive),
        base_topic=section.get("base_topic", _TOPIC, defaults.base_topic),
        qos=section.get("qos", _choice((0, 1, 2), "int"), defaults.qos),
        discovery=section.get("discovery", _BOOL, defaults.discovery),
        discovery_prefix=_read_discovery_prefix(section, defaults),
        discovery_mode=section.get(
            "discovery_mode", _choice(("device", "entity")), defaults.discovery_mode
        ),
        max_payload_bytes=max_payload,
    )


def _read_discovery_prefix(section: _Section, defaults: MqttConfig) -> str:
    base = section.get("base_topic", _TOPIC, defaults.base_topic)
    prefix = section.get("discovery_prefix", _TOPIC, defaults.discovery_prefix)
    if _topics_overlap(base, prefix):
        key = "discovery_prefix" if section.has("discovery_prefix") else "base_topic"
        section.context.add(
            _join(section.path, key),
            section.value_node(key) or section.node,
            f"mqtt.base_topic ({base!r}) and mqtt.discovery_prefix ({prefix!r}) must not be "
            "equal or one inside the other, or the daemon's topics and Home Assistant's mix; "
            "e.g. camera2mqtt and homeassistant",
        )
    return prefix


def _topics_overlap(one: str, other: str) -> bool:
    """Equal, or one a prefix of the other at a level boundary (``a/b`` and ``a/b/c``)."""
    return one == other or one.startswith(f"{other}/") or other.startswith(f"{one}/")


def _read_password_file(context: _Context, section: _Section) -> str | None:
    path = _existing_file(context, section, "password_file")
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        secret = lines[0] if lines else ""  # the first line; a trailing newline is not in it
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        context.add(
            _join(section.path, "password_file"),
            section.value_node("password_file"),
            f"must be a readable UTF-8 file; {path}: {reason}",
        )
        return None
    if not secret:
        context.add(
            _join(section.path, "password_file"),
            section.value_node("password_file"),
            f"must contain the password on its first line; the first line of {path} is empty",
        )
        return None
    return secret


def _read_tls(context: _Context, mqtt: _Section) -> TlsConfig | None:
    node = mqtt.value_node("tls")
    if node is None:
        return None
    if isinstance(node, yaml.ScalarNode) and node.tag in (
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null",
    ):
        return TlsConfig() if context.construct(node) else None
    section = mqtt.section("tls", _TLS_KEYS)
    if section is None:
        return None
    tls = TlsConfig(
        ca=_existing_file(context, section, "ca"),
        cert=_existing_file(context, section, "cert"),
        key=_existing_file(context, section, "key"),
        insecure=section.get("insecure", _BOOL, False),
    )
    if section.has("key") and not section.has("cert"):
        context.add(
            _join(section.path, "cert"),
            section.node,
            "a client 'key' needs its 'cert' (give both or neither)",
        )
    return tls


def _read_cameras(
    context: _Context, top: _Section, photos_dir: Path, mqtt: MqttConfig
) -> tuple[CameraConfig, ...]:
    node = top.value_node("cameras")
    if node is None or node.tag == "tag:yaml.org,2002:null":
        context.add(
            "cameras",
            node or top.node,
            "missing required key 'cameras': a mapping of camera name -> settings "
            "with at least one camera",
        )
        return ()
    if not isinstance(node, yaml.MappingNode):
        context.add(
            "cameras", node, f"must be a mapping of camera name -> settings; got {_describe(node)}"
        )
        return ()
    if len(node.value) > MAX_CAMERAS:
        context.add(
            "cameras",
            node,
            f"at most {MAX_CAMERAS} cameras per daemon, got {len(node.value)}; run several "
            "daemons (each with its own mqtt.client_id and base_topic) for more",
        )
        return ()
    names = _Section(context, node, "cameras", ())
    if not names.entries:
        context.add("cameras", node, "must list at least one camera")
    cameras = []
    claimed: dict[tuple[tuple[str, ...], object], str] = {}
    for name, (key_node, value_node) in names.entries.items():
        path = f"cameras.{name}"
        if not CAMERA_NAME_PATTERN.fullmatch(name):
            context.add(
                path,
                key_node,
                "camera names are MQTT topic levels and Home Assistant ids: use 1 to 64 "
                "lower-case letters, digits, '_' or '-'",
            )
        elif name in RESERVED_CAMERA_NAMES:
            context.add(
                path,
                key_node,
                f"'{name}' is reserved for the daemon's own topic "
                f"({mqtt.base_topic}/{name}/...); choose another name",
            )
        camera = _read_camera(context, name, path, key_node, value_node, photos_dir, mqtt)
        if camera is not None:
            cameras.append(camera)
            _check_shared_resources(context, camera, key_node, value_node, claimed)
    return tuple(cameras)


def _shared_resources(camera: CameraConfig) -> dict[tuple[str, ...], tuple[str, object]]:
    """What two cameras must not share: key path in the camera -> (what it is, the resource)."""
    claims = {("download_dir",): ("this folder is", camera.download_dir)}
    if isinstance(camera, SerialCameraConfig):
        claims[("port",)] = ("this serial port is", camera.port)
    elif isinstance(camera, WifiCameraConfig):
        claims[("host",)] = ("this host and port are", (camera.host, camera.port))
        if camera.liveview.port:
            claims[("liveview", "port")] = ("this UDP port is", camera.liveview.port)
    return claims


def _check_shared_resources(
    context: _Context,
    camera: CameraConfig,
    key_node: yaml.Node,
    node: yaml.Node,
    claimed: dict[tuple[tuple[str, ...], object], str],
) -> None:
    """Record what ``camera`` uses in ``claimed``; a problem for what an earlier one uses."""
    for keys, (what, resource) in _shared_resources(camera).items():
        other = claimed.setdefault((keys, resource), camera.name)
        if other != camera.name:
            context.add(
                ".".join((f"cameras.{camera.name}", *keys)),
                _find(node, keys) or key_node,
                f"{what} already used by camera '{other}'; each camera needs its own",
            )


def _find(node: yaml.Node, keys: tuple[str, ...]) -> yaml.Node | None:
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            return None
        found = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        if found is None:
            return None
        node = found
    return node


def _read_camera(
    context: _Context,
    name: str,
    path: str,
    key_node: yaml.Node,
    node: yaml.Node,
    photos_dir: Path,
    mqtt: MqttConfig,
) -> CameraConfig | None:
    types = ", ".join(_TYPE_KEYS)
    if not isinstance(node, yaml.MappingNode):
        context.add(
            path, node, f"must be a mapping with at least 'type: {types}'; got {_describe(node)}"
        )
        return None
    context.flatten(node, path)
    # The last one wins: a key written in the camera overrides one merged in with <<.
    type_nodes = [v for k, v in node.value if getattr(k, "value", None) == "type"]
    type_node = type_nodes[-1] if type_nodes else None
    camera_type = (
        type_node.value
        if isinstance(type_node, yaml.ScalarNode) and type_node.value in _TYPE_KEYS
        else None
    )
    allowed = _TYPE_KEYS[camera_type] if camera_type else ()
    section = _Section(context, node, path, allowed, key_node)
    if camera_type is None:
        section.get("type", _choice(tuple(_TYPE_KEYS)))
        return None
    common = _read_camera_common(context, section, name, photos_dir, mqtt)
    if camera_type == "wifi":
        return WifiCameraConfig(**common, **_read_wifi(section))
    return SerialCameraConfig(**common, **_read_serial(section))


def _read_camera_common(
    context: _Context, section: _Section, name: str, photos_dir: Path, mqtt: MqttConfig
) -> dict[str, Any]:
    from camera2mqtt.timelapse.reader import read_timelapses

    download_dir = _path_value(context, section, "download_dir", photos_dir / name)
    schedule = _read_schedule(section)
    allow = _read_allow(section)
    return {
        "name": name,
        "poll_interval": section.get("poll_interval", _number(0.1, 86400), 30.0),
        "snapshot": _read_snapshot(section, mqtt),
        "allow": allow,
        "schedule": schedule,
        "download_dir": photos_dir / name if download_dir is _INVALID else download_dir,
        "stream": _read_stream(section),
        "timelapses": read_timelapses(
            section,
            camera_name=name,
            photos_dir=photos_dir,
            location=context.location,
            legacy_interval=schedule.timelapse_interval,
        ),
        "keep_free_mb": section.get("keep_free_mb", _integer(0, 10**9, "megabytes"), 100),
        "library": _read_library(section, allow),
        "presence_interval": section.get("presence_interval", _number(0.5, 3600), 3.0),
    }


def _read_library(camera: _Section, allow: AllowConfig) -> LibraryConfig:
    section = camera.section("library", _LIBRARY_KEYS)
    if section is None:
        return LibraryConfig()
    template = section.get(
        "path_template",
        _Reader(
            "str",
            f"a relative path template with {{name}} and fields from {', '.join(TEMPLATE_FIELDS)}",
            lambda v: template_problem(v) is None,
        ),
        DEFAULT_TEMPLATE,
    )
    delete = section.get("delete_after_download", _BOOL, False)
    if delete and not allow.erase:
        section.context.add(
            _join(section.path, "delete_after_download"),
            section.value_node("delete_after_download"),
            "needs 'allow: {erase: true}' in the same camera; set both or neither",
        )
        delete = False
    return LibraryConfig(path_template=template, delete_after_download=delete)


def _read_snapshot(camera: _Section, mqtt: MqttConfig) -> SnapshotConfig:
    section = camera.section("snapshot", _SNAPSHOT_KEYS)
    if section is None:
        return SnapshotConfig()
    defaults = SnapshotConfig()
    limit = min(SNAPSHOT_MAX_BYTES_LIMIT, mqtt.max_payload_bytes)
    return SnapshotConfig(
        interval=section.get(
            "interval", _number(0.2, 86400, zero="only on request"), defaults.interval
        ),
        size=section.get("size", _integer(16, 4096, "pixels"), defaults.size),
        max_bytes=section.get(
            "max_bytes",
            _integer(1024, limit, "a byte count (at most mqtt.max_payload_bytes)"),
            defaults.max_bytes,
        ),
    )


def _read_allow(camera: _Section) -> AllowConfig:
    section = camera.section("allow", _ALLOW_KEYS)
    if section is None:
        return AllowConfig()
    return AllowConfig(
        erase=section.get("erase", _BOOL, False),
        power_off=section.get("power_off", _BOOL, False),
        raw=section.get("raw", _BOOL, False),
    )


def _read_schedule(camera: _Section) -> ScheduleConfig:
    section = camera.section("schedule", _SCHEDULE_KEYS)
    if section is None:
        return ScheduleConfig()
    return ScheduleConfig(
        timelapse_interval=section.get(
            "timelapse_interval", _number(1, 7 * 86400, zero="no timelapse"), 0.0
        ),
        sync_at=_read_times(section, "sync_at"),
        sync_on_connect=section.get("sync_on_connect", _BOOL, False),
    )


def _read_times(section: _Section, key: str) -> tuple[str, ...]:
    node = section.value_node(key)
    if node is None or node.tag == "tag:yaml.org,2002:null":
        return ()
    path = _join(section.path, key)
    reader = _Reader(
        "str", 'a 24-hour time "HH:MM" (quote it)', lambda v: bool(SYNC_TIME_PATTERN.fullmatch(v))
    )
    items: Iterator[tuple[str, yaml.Node]]
    if isinstance(node, yaml.SequenceNode) and len(node.value) > MAX_SYNC_TIMES:
        section.context.add(
            path,
            node,
            f"at most {MAX_SYNC_TIMES} times a day, got {len(node.value)}; for more frequent "
            "downloads use sync_on_connect or several shorter lists",
        )
        return ()
    if isinstance(node, yaml.SequenceNode):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(node.value))
    else:
        items = iter([(path, node)])
    times = []
    for item_path, item in items:
        if isinstance(item, yaml.ScalarNode) and item.tag == "tag:yaml.org,2002:int":
            # Unquoted 02:00 is YAML 1.1 sexagesimal (120); ask for quotes.
            section.context.add(
                item_path, item, f'must be a time like "{item.value}" in quotes; got {item.value}'
            )
            continue
        value = reader.read(section.context, item, item_path)
        if value is not _INVALID:
            times.append(value)
    return tuple(times)


def _read_wifi(section: _Section) -> dict[str, Any]:
    liveview = section.section("liveview", _LIVEVIEW_KEYS)
    live = LiveViewConfig()
    if liveview is not None:
        size_reader = _Reader(
            "str",
            f"WIDTHxHEIGHT with 4 digits each, e.g. {', '.join(LIVEVIEW_SIZES)}",
            lambda v: bool(LIVEVIEW_SIZE_PATTERN.fullmatch(v)),
        )
        live = LiveViewConfig(
            port=liveview.get("port", _integer(0, 65535, "0 (any free port) or a UDP port"), 0),
            size=liveview.get("size", size_reader, live.size),
        )
    return {
        "host": section.get("host", _HOST, "192.168.0.10"),
        "port": section.get("port", _PORT, 80),
        "timeout": section.get("timeout", _number(0.1, 300), 5.0),
        "liveview": live,
    }


def _read_serial(section: _Section) -> dict[str, Any]:
    port = section.get(
        "port",
        _text("a serial device path (/dev/ttyUSB0) or a pyserial URL (socket://host:port)"),
    )
    return {
        "port": "" if port is _INVALID else port,
        "speed": section.get("speed", _choice(SERIAL_SPEEDS, "int"), 115200),
        "model": section.get("model", _Reader("str", "a model name", nullable=True), None),
    }


def _read_stream(camera: _Section) -> StreamConfig:
    section = camera.section("stream", _STREAM_KEYS)
    if section is None:
        return StreamConfig()
    defaults = StreamConfig()

    def is_target(text: str) -> bool:
        try:
            parse_target(text)
        except StreamTargetError:
            return False
        return True

    reader = _Reader("str", "udp://HOST:PORT, e.g. udp://127.0.0.1:5004", is_target)
    targets: list[str] = []
    node = section.value_node("targets")
    path = _join(section.path, "targets")
    if node is not None and node.tag != "tag:yaml.org,2002:null":
        if not isinstance(node, yaml.SequenceNode):
            section.context.add(
                path, node, f"must be a list of udp://HOST:PORT; got {_describe(node)}"
            )
        elif len(node.value) > MAX_STREAM_TARGETS:
            section.context.add(
                path,
                node,
                f"at most {MAX_STREAM_TARGETS} targets, got {len(node.value)}; for more "
                "receivers use an IPv4 multicast group",
            )
        else:
            for index, item in enumerate(node.value):
                value = reader.read(section.context, item, f"{path}[{index}]")
                if value is not _INVALID:
                    targets.append(value.strip())
    return StreamConfig(
        targets=tuple(targets),
        packet_size=section.get(
            "packet_size",
            _integer(MIN_PACKET_SIZE, MAX_PACKET_SIZE, "a datagram size in bytes"),
            defaults.packet_size,
        ),
        header=section.get("header", _choice(STREAM_HEADERS), defaults.header),
    )


def _read_http(top: _Section) -> HttpConfig:
    section = top.section("http", _HTTP_KEYS)
    if section is None:
        return HttpConfig()

    def is_listen(text: str) -> bool:
        host, _, port = text.rpartition(":")
        return bool(host) and port.isdigit() and 1 <= int(port) <= 65535

    reader = _Reader("str", "HOST:PORT to serve on, e.g. 127.0.0.1:8090", is_listen, nullable=True)
    return HttpConfig(listen=section.get("listen", reader, None))


# --------------------------------------------------------------------------- folders


def _check_folders(context: _Context, root: yaml.Node, config: Config) -> None:
    """Every folder the daemon writes to is one, or can be made, by this user."""
    folders: list[tuple[tuple[str, ...], Path]] = [
        (("state_dir",), config.state_dir),
        (("photos_dir",), config.photos_dir),
    ]
    folders += [(("cameras", c.name, "download_dir"), c.download_dir) for c in config.cameras]
    for keys, folder in folders:
        problem = folder_problem(folder)
        if problem is not None:
            node = _find(root, keys) or _find(root, keys[:2]) or root
            context.add(".".join(keys), node, problem)
