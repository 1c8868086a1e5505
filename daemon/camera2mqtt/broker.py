"""Local MQTT brokers for the demo, the tests and the benchmarks.

:class:`MosquittoBroker` runs the real ``mosquitto`` binary on a loopback port with a generated
configuration in a temporary folder. :class:`EmbeddedBroker` runs the pure-Python ``amqtt``
broker in a thread for machines without mosquitto. :func:`start_local_broker` picks whichever is
available, and :func:`broker_answers` tells whether something already speaks MQTT at an address.
Both brokers listen on 127.0.0.1 only and keep no state on disk after they stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.lifecycle import StartStop

__all__ = [
    "BrokerError",
    "EmbeddedBroker",
    "LocalBroker",
    "MosquittoBroker",
    "broker_answers",
    "embedded_broker_available",
    "find_mosquitto",
    "start_local_broker",
]

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEFAULT_START_TIMEOUT = 10.0
DEFAULT_STOP_TIMEOUT = 5.0
MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
LOG_TAIL_CHARS = 600
CONSOLE_LOG = "console.log"
_POLL_INTERVAL = 0.05
_PR_SET_PDEATHSIG = 1

# An MQTT 3.1.1 CONNECT with clean session, keepalive 10 s and an empty client id; a broker
# answers it with a CONNACK (packet type 0x20), which is all broker_answers needs to see.
_PROBE_CONNECT = bytes([0x10, 12, 0x00, 0x04, *b"MQTT", 0x04, 0x02, 0x00, 0x0A, 0x00, 0x00])
_DISCONNECT = bytes([0xE0, 0x00])
_CONNACK = 0x20
_AMQTT_ANONYMOUS_PLUGIN = "amqtt.plugins.authentication.AnonymousAuthPlugin"


class BrokerError(Camera2MqttError):
    """A local broker could not be started or stopped."""


class LocalBroker(Protocol):
    """What the demo and the tests need from a broker they started."""

    host: str

    @property
    def port(self) -> int: ...

    @property
    def kind(self) -> str: ...

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None: ...


def find_mosquitto() -> str | None:
    """Path of the mosquitto broker binary, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in MOSQUITTO_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def embedded_broker_available() -> bool:
    """True when the optional pure-Python broker (``amqtt``) can be imported."""
    try:
        import amqtt.broker  # noqa: F401
    except ImportError:
        return False
    return True


def broker_answers(host: str = LOOPBACK, port: int = 1883, timeout: float = 1.0) -> bool:
    """True when an MQTT broker at host:port answers a CONNECT with a CONNACK within timeout."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_PROBE_CONNECT)
            reply = sock.recv(4)
            with contextlib.suppress(OSError):
                sock.sendall(_DISCONNECT)
    except OSError:
        return False
    return len(reply) >= 1 and reply[0] == _CONNACK


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _check_port_free(host: str, port: int, who: str) -> None:
    """Raise BrokerError when something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise BrokerError(
                f"{who} cannot listen on {host}:{port}: the port is in use ({error.strerror}); "
                "stop what uses it or choose another port."
            ) from None


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the process that started us dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _wait_until_answering(
    host: str, port: int, timeout: float, still_running: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not still_running():
            raise BrokerError("stopped")
        if broker_answers(host, port, timeout=0.5):
            return
        time.sleep(_POLL_INTERVAL)
    raise BrokerError("timeout")


class MosquittoBroker(StartStop):
    """The real mosquitto broker on a loopback port, for tests, benchmarks and the demo.

    ``port=0`` picks a free port once; :meth:`restart` reuses it so clients can reconnect.
    ``tcp_nodelay`` turns Nagle's algorithm off on client sockets (mosquitto's default: on).
    ``max_queued_messages`` is how many QoS 1 messages mosquitto queues for a slow client
    before it drops them (its default 1000; 0 = no limit).
    """

    kind = "mosquitto"

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = LOOPBACK,
        binary: str | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        tcp_nodelay: bool = False,
        max_queued_messages: int | None = None,
    ) -> None:
        self.host = host
        self._port = port or _free_loopback_port()
        self._binary = binary or find_mosquitto()
        self._tcp_nodelay = tcp_nodelay
        self._max_queued_messages = max_queued_messages
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start mosquitto and return once it answers MQTT (BrokerError after start_timeout)."""
        if self.running:
            return
        if self._binary is None:
            raise BrokerError(
                "mosquitto is not installed; install it (apt-get install mosquitto) "
                "or point camera2mqtt at a running broker."
            )
        _check_port_free(self.host, self._port, "mosquitto")
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="camera2mqtt-mosquitto-"))
        config = self._workdir / "mosquitto.conf"
        log_file = self._workdir / "mosquitto.log"
        config.write_text(
            f"listener {self._port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            f"set_tcp_nodelay {'true' if self._tcp_nodelay else 'false'}\n"
            + (
                f"max_queued_messages {self._max_queued_messages}\n"
                if self._max_queued_messages is not None
                else ""
            )
            + f"log_dest file {log_file}\n"
            "log_type error\nlog_type warning\nlog_type notice\n",
            encoding="utf-8",
        )
        log_file.write_text("", encoding="utf-8")
        # What mosquitto says before it opens its log file (a bad config, a busy port).
        with (self._workdir / CONSOLE_LOG).open("wb") as console:
            self._process = subprocess.Popen(
                [self._binary, "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        try:
            _wait_until_answering(self.host, self._port, self._start_timeout, lambda: self.running)
        except BrokerError as error:
            tail = self._log_tail()
            self.stop()
            reason = (
                "exited at once"
                if str(error) == "stopped"
                else f"did not answer within {self._start_timeout:g} s"
            )
            raise BrokerError(
                f"mosquitto on {self.host}:{self._port} {reason}; is the port in use? "
                f"Its log says: {tail or '(nothing)'}"
            ) from None
        log.info("mosquitto (pid %s) listening on %s:%d", self.pid, self.host, self._port)

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Stop mosquitto (SIGTERM, then SIGKILL after timeout) and remove its temp folder."""
        self._terminate(timeout)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def kill(self) -> None:
        """Stop mosquitto abruptly (SIGKILL), as a crash would; :meth:`start` brings it back."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=DEFAULT_STOP_TIMEOUT)
        self._process = None

    def restart(self) -> None:
        """Stop and start again on the same port (clients see the connection drop)."""
        self._terminate(DEFAULT_STOP_TIMEOUT)
        self.start()

    def _terminate(self, timeout: float) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)

    def _log_tail(self) -> str:
        if self._workdir is None:
            return ""
        text = ""
        for name in (CONSOLE_LOG, "mosquitto.log"):
            with contextlib.suppress(OSError):
                text += (self._workdir / name).read_text(encoding="utf-8", errors="replace")
        return " ".join(text.split())[-LOG_TAIL_CHARS:]

    def __repr__(self) -> str:
        return f"MosquittoBroker(port={self._port}, host={self.host!r}, running={self.running})"


class EmbeddedBroker(StartStop):
    """The pure-Python amqtt broker in a background thread (the optional ``demo`` extra)."""

    kind = "embedded amqtt broker"

    def __init__(
        self, port: int = 0, *, host: str = LOOPBACK, start_timeout: float = DEFAULT_START_TIMEOUT
    ) -> None:
        self.host = host
        self._port = port or _free_loopback_port()
        self._start_timeout = start_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the broker thread and return once it answers MQTT."""
        if self.running:
            return
        if not embedded_broker_available():
            raise BrokerError(
                "the embedded broker needs the amqtt package; install it with "
                "pip install 'camera2mqtt[demo]' or install mosquitto."
            )
        _check_port_free(self.host, self._port, "the embedded broker")
        ready = threading.Event()
        self._failure = None
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="embedded-mqtt-broker", daemon=True
        )
        self._thread.start()
        ready.wait(self._start_timeout)
        try:
            _wait_until_answering(self.host, self._port, self._start_timeout, lambda: self.running)
        except BrokerError:
            self.stop()
            raise BrokerError(
                f"the embedded broker did not start on {self.host}:{self._port}: "
                f"{self._failure or 'no answer'}; is the port in use?"
            ) from None
        log.info("embedded MQTT broker listening on %s:%d", self.host, self._port)

    def _serve(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._main(ready))
        except Exception as error:  # reported by start(); the thread must not die noisily
            self._failure = error
            ready.set()

    async def _main(self, ready: threading.Event) -> None:
        from amqtt.broker import Broker

        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self._port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        await broker.start()
        ready.set()
        try:
            await self._stopped.wait()
        finally:
            await broker.shutdown()

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        """Shut the broker down and join its thread."""
        loop, stopped, thread = self._loop, self._stopped, self._thread
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if thread is not None:
            thread.join(timeout)
        self._thread = self._loop = self._stopped = None

    def restart(self) -> None:
        self.stop()
        self.start()


def start_local_broker(port: int, *, host: str = LOOPBACK) -> MosquittoBroker | EmbeddedBroker:
    """Start mosquitto on host:port when installed, otherwise the embedded broker.

    Raises BrokerError with what to install when neither is available.
    """
    if find_mosquitto() is not None:
        broker: MosquittoBroker | EmbeddedBroker = MosquittoBroker(port, host=host)
    elif embedded_broker_available():
        broker = EmbeddedBroker(port, host=host)
    else:
        raise BrokerError(
            f"no MQTT broker answers on {host}:{port} and none can be started here: install "
            "mosquitto (apt-get install mosquitto) or the embedded broker "
            "(pip install 'camera2mqtt[demo]'), or pass --mqtt-port of a running broker."
        )
    broker.start()
    return broker
