"""The MQTT connection: a thin wrapper around one paho-mqtt 2.x client.

paho runs its network loop in its own thread (``loop_start``) and reconnects by itself with
back-off. Our callbacks on that thread never block and never raise (an exception would end the
loop and every later publish would silently go nowhere): they hand work to the service through
the ``on_connect`` / ``on_message`` hooks, which must only parse and enqueue.

The bridge announces itself on ``<base>/bridge/state``: ``online`` after each connect,
``offline`` on a clean stop and, through the broker's last will, on an abrupt drop. Both are
retained with QoS 1.

``publish`` never hands a message to paho directly: it goes to the :class:`Outbox`, and one
sender thread passes messages on to paho only while connected and only a few at a time, so
paho's own queue never fills and never drops anything. On every reconnect the messages paho
still held unconfirmed are taken back into the outbox (where an older retained value gives
way to a newer one), ``online`` is published first, then everything waiting.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from camera2mqtt.config import EX_CONFIG, MqttConfig
from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.mqtt.outbox import MessageKind, Outbox, OutboxLimits, OutgoingMessage
from camera2mqtt.mqtt.throttle import Throttle
from camera2mqtt.mqtt.topics import OFFLINE, ONLINE, TopicError, Topics

__all__ = ["BridgeError", "MessageHandler", "MqttBridge"]

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 1
RECONNECT_MAX_DELAY = 5  # seconds; a broker back after an outage is found again within this
# Messages handed to paho and not yet confirmed; the rest wait in the outbox, where an
# outage keeps only what is still true. paho's own queue is unbounded and stays this short.
MAX_PENDING = 100
BRIDGE_QOS = 1
CONNECT_FAILURE_LOG_INTERVAL = 60.0  # seconds between two logs of the same failure

# Linux only: acknowledge received TCP data at once instead of after the delayed-ACK timer.
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)

# paho 2.2 logs this at ERROR on every loop pass while a reconnect is pending; our own
# disconnect warning already says so once.
_PAHO_NOISE = "Client is not connected."

MessageHandler = Callable[[str, bytes, bool], None]
"""Called on the network thread as ``handler(topic, payload, retained)``; must not block."""


class BridgeError(Camera2MqttError):
    """The MQTT client cannot be set up from the configuration."""

    exit_code = EX_CONFIG  # a configuration problem: systemd must not restart in a loop


class _QuietWhileDisconnected(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_PAHO_NOISE)


_paho_log = logging.getLogger(f"{__name__}.paho")
_paho_log.addFilter(_QuietWhileDisconnected())


class MqttBridge:
    """One broker connection for the daemon; thread-safe ``publish`` for the workers."""

    def __init__(
        self,
        config: MqttConfig,
        topics: Topics,
        *,
        subscriptions: tuple[str, ...] = (),
        on_connect: Callable[[], None] | None = None,
        on_message: MessageHandler | None = None,
        outbox_limits: OutboxLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._topics = topics
        self._subscriptions = subscriptions
        self._on_connect_hook = on_connect
        self._on_message_hook = on_message
        self._connected = threading.Event()
        self._disconnected = threading.Event()
        self._stopping = False
        # Guards the outbox, _pending and _sendable; never held while calling into paho.
        self._lock = threading.Condition()
        self._outbox = Outbox(limits=outbox_limits, clock=clock)
        self._pending = 0  # handed to paho, not yet confirmed
        self._sendable = False  # connected, as far as the sender knows
        self._closed = False
        self._sender = threading.Thread(target=self._send_loop, name="mqtt-sender", daemon=True)
        self._connect_failures = Throttle(CONNECT_FAILURE_LOG_INTERVAL, clock=clock)
        self._last_failure: str | None = None
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.enable_logger(_paho_log)
        client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        client.max_queued_messages_set(0)  # unbounded: the outbox limits what paho gets
        client.max_inflight_messages_set(MAX_PENDING)
        client.will_set(topics.bridge_state, OFFLINE, qos=BRIDGE_QOS, retain=True)
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        if config.tls is not None:
            try:
                client.tls_set(
                    ca_certs=str(config.tls.ca) if config.tls.ca else None,
                    certfile=str(config.tls.cert) if config.tls.cert else None,
                    keyfile=str(config.tls.key) if config.tls.key else None,
                    cert_reqs=ssl.CERT_NONE if config.tls.insecure else ssl.CERT_REQUIRED,
                )
            except (ssl.SSLError, OSError, ValueError) as error:
                raise BridgeError(
                    f"Cannot set up TLS to the MQTT broker ({error}); check that mqtt.tls.ca, "
                    "cert and key are PEM files and that the key matches the certificate."
                ) from None
            client.tls_insecure_set(config.tls.insecure)
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_publish = self._handle_publish
        self._client = client

    def _handle_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: mqtt.ReasonCode,
        properties: mqtt.Properties,
    ) -> None:
        with self._lock:
            self._pending = max(0, self._pending - 1)
            self._lock.notify_all()
        # The broker's PUBACK would otherwise wait for our delayed TCP ACK (40 ms on Linux),
        # and with the broker's default Nagle setting the next command it forwards to us
        # waits behind it. Acknowledging at once keeps command latency low on a stock broker.
        sock = client.socket()
        if _TCP_QUICKACK is None or sock is None:
            return
        with contextlib.suppress(OSError, ValueError):
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Begin connecting in the background; paho retries until the broker answers."""
        log.info(
            "Connecting to MQTT broker %s:%d as %s%s",
            self._config.host,
            self._config.port,
            self._config.client_id,
            " over TLS" if self._config.tls else "",
        )
        self._sender.start()
        self._client.connect_async(self._config.host, self._config.port, self._config.keepalive)
        self._client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        """Send what is waiting and ``offline`` (bounded wait), disconnect, end the threads."""
        self._stopping = True
        deadline = time.monotonic() + timeout
        if self._connected.is_set():
            with self._lock:
                self._lock.wait_for(
                    lambda: not (self._outbox or self._pending) or not self._sendable,
                    timeout=max(0.1, timeout / 2),
                )
            info = self._client.publish(
                self._topics.bridge_state, OFFLINE, qos=BRIDGE_QOS, retain=True
            )
            try:
                info.wait_for_publish(timeout=max(0.1, timeout / 2))
            except (ValueError, RuntimeError) as error:
                log.warning("Could not publish offline before disconnecting: %s", error)
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()
        with self._lock:
            self._closed = True
            self._sendable = False
            unsent = len(self._outbox)
            self._lock.notify_all()
        if self._sender.is_alive():
            self._sender.join(max(0.1, deadline - time.monotonic()))
        if unsent:
            log.warning("Stopped with %d message(s) not sent to the MQTT broker.", unsent)

    @property
    def max_payload_bytes(self) -> int:
        return self._config.max_payload_bytes

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_disconnected(self, timeout: float) -> bool:
        """Wait until a connection that was up has been lost."""
        return self._disconnected.wait(timeout)

    # -- publishing ---------------------------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        """Accept a message for the broker; returns False when it was dropped (larger than
        ``mqtt.max_payload_bytes``, or a reply or event beyond the outbox's bounds).

        Thread-safe and never blocks on the network; the sender thread hands it to paho."""
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        if len(data) > self._config.max_payload_bytes:
            log.error(
                "Not publishing %d bytes to %s: more than mqtt.max_payload_bytes (%d).",
                len(data),
                topic,
                self._config.max_payload_bytes,
            )
            return False
        message = OutgoingMessage(
            topic=topic,
            payload=data,
            qos=self._config.qos if qos is None else qos,
            retain=retain,
            kind=self._kind_of(topic, retain),
        )
        with self._lock:
            if self._closed:
                log.debug("Not publishing to %s: the bridge is stopped", topic)
                return False
            accepted = self._outbox.put(message)
            self._lock.notify_all()
        return accepted

    @property
    def dropped(self) -> dict[str, int]:
        """Replies and events dropped since the start because the outbox was full."""
        with self._lock:
            return self._outbox.dropped

    def _kind_of(self, topic: str, retain: bool) -> MessageKind:
        if retain:
            return MessageKind.LATEST
        camera, _, leaf = topic.removeprefix(f"{self._topics.base}/").partition("/")
        try:
            topics = self._topics.camera(camera) if camera and "/" not in leaf else None
        except TopicError:
            topics = None
        if topics is not None and topic == topics.response:
            return MessageKind.REPLY
        if topics is not None and topic == topics.snapshot:
            return MessageKind.LATEST  # an older live-view frame is worth nothing
        return MessageKind.EVENT

    # -- the sender thread ---------------------------------------------------------------------

    def _send_loop(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(
                    lambda: (
                        self._closed
                        or (self._sendable and self._pending < MAX_PENDING and bool(self._outbox))
                    )
                )
                if self._closed:
                    return
                message = self._outbox.pop()
                assert message is not None
                self._pending += 1
            self._hand_to_paho(message)

    def _hand_to_paho(self, message: OutgoingMessage) -> None:
        try:
            info = self._client.publish(
                message.topic, message.payload, qos=message.qos, retain=message.retain
            )
        except (ValueError, TypeError) as error:
            log.error("Not publishing to %s: %s", message.topic, error)
            with self._lock:
                self._pending = max(0, self._pending - 1)
            return
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            return
        # QoS 0 while the connection just went away: keep it for the next connection.
        with self._lock:
            self._pending = max(0, self._pending - 1)
            self._sendable = False
            self._outbox.put_back([message])

    # -- paho callbacks (network thread: never block, never raise) -----------------------------

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: object,
    ) -> None:
        try:
            if reason_code.is_failure:
                self._log_connect_failure(
                    f"the broker refused the connection ({reason_code})",
                    "check mqtt.username, mqtt.password, mqtt.client_id and the broker's ACLs",
                )
                return
            log.info("Connected to MQTT broker %s:%d", self._config.host, self._config.port)
            self._connect_failures.reset()
            self._last_failure = None
            # Subscribe first: whoever sees "online" can rely on the subscriptions being active.
            for topic in self._subscriptions:
                client.subscribe(topic, qos=1)
            # What paho still holds from the last connection goes back to the outbox, so that
            # "online" is sent first and a newer retained value is not overtaken by an older one.
            unconfirmed = [
                OutgoingMessage(
                    topic=m.topic,
                    payload=m.payload,
                    qos=m.qos,
                    retain=m.retain,
                    kind=self._kind_of(m.topic, m.retain),
                )
                for m in client.drop_out_messages()
                if m.topic != self._topics.bridge_state
            ]
            client.publish(self._topics.bridge_state, ONLINE, qos=BRIDGE_QOS, retain=True)
            with self._lock:
                self._outbox.put_back(unconfirmed)
                self._outbox.report()
                self._pending = 1  # "online"
                self._sendable = True
                self._lock.notify_all()
            self._disconnected.clear()
            self._connected.set()
            if self._on_connect_hook is not None:
                self._on_connect_hook()
        except Exception:
            log.exception("Error while handling the MQTT connection")

    def _handle_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        # paho calls this from inside its ``except OSError`` block: the error is the one
        # being handled.
        try:
            if self._stopping:
                return
            self._log_connect_failure(_connect_failure_reason(sys.exc_info()[1]))
        except Exception:
            log.exception("Error while handling a failed MQTT connection attempt")

    def _log_connect_failure(self, reason: str, hint: str = "") -> None:
        """Log a failed attempt: the first at once, then the same reason once per interval."""
        if reason != self._last_failure:
            self._last_failure = reason
            self._connect_failures.reset()
        if not self._connect_failures.ready():
            return
        held = self._connect_failures.take_held_back()
        log.warning(
            "Cannot connect to the MQTT broker %s:%d: %s%s; retrying every %d to %d s (%s).",
            self._config.host,
            self._config.port,
            reason,
            f" ({held + 1} attempts since the last message)" if held else "",
            RECONNECT_MIN_DELAY,
            RECONNECT_MAX_DELAY,
            hint
            or "check mqtt.host, mqtt.port"
            + (", mqtt.tls" if self._config.tls else "")
            + " and that the broker is running",
        )

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: object,
    ) -> None:
        try:
            self._connected.clear()
            self._disconnected.set()
            with self._lock:
                self._sendable = False
            if not self._stopping:
                log.warning("Lost the MQTT connection (%s); reconnecting", reason_code)
        except Exception:
            log.exception("Error while handling the MQTT disconnection")

    def _handle_message(
        self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        try:
            if self._on_message_hook is not None:
                self._on_message_hook(message.topic, message.payload, bool(message.retain))
        except Exception:
            log.exception("Error while handling an MQTT message on %s", message.topic)


def _connect_failure_reason(error: BaseException | None) -> str:
    """One phrase saying why a connection attempt failed (no secrets: none are in it)."""
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name ({error.strerror or error})"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"the TLS certificate check failed ({error.verify_message or error.reason})"
    if isinstance(error, ssl.SSLError):
        return f"the TLS handshake failed ({error.reason or error})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    if isinstance(error, OSError):
        return error.strerror or str(error) or type(error).__name__
    return "unknown error" if error is None else str(error) or type(error).__name__
