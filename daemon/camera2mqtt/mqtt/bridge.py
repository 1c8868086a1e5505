"""The MQTT connection: a thin wrapper around one paho-mqtt 2.x client.

paho runs its network loop in its own thread (``loop_start``) and reconnects by itself with
back-off. Our callbacks on that thread never block and never raise (an exception would end the
loop and every later publish would silently go nowhere): they hand work to the service through
the ``on_connect`` / ``on_message`` hooks, which must only parse and enqueue.

The bridge announces itself on ``<base>/bridge/state``: ``online`` after each connect,
``offline`` on a clean stop and, through the broker's last will, on an abrupt drop. Both are
retained with QoS 1.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from camera2mqtt.config import EX_CONFIG, MqttConfig
from camera2mqtt.errors import Camera2MqttError
from camera2mqtt.mqtt.topics import OFFLINE, ONLINE, Topics

__all__ = ["BridgeError", "MessageHandler", "MqttBridge"]

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 1
RECONNECT_MAX_DELAY = 5  # seconds; a broker back after an outage is found again within this
MAX_QUEUED_MESSAGES = 1000
BRIDGE_QOS = 1

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
    ) -> None:
        self._config = config
        self._topics = topics
        self._subscriptions = subscriptions
        self._on_connect_hook = on_connect
        self._on_message_hook = on_message
        self._connected = threading.Event()
        self._stopping = False
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.enable_logger(_paho_log)
        client.reconnect_delay_set(RECONNECT_MIN_DELAY, RECONNECT_MAX_DELAY)
        client.max_queued_messages_set(MAX_QUEUED_MESSAGES)
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
        self._client.connect_async(self._config.host, self._config.port, self._config.keepalive)
        self._client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        """Publish ``offline`` (bounded wait), disconnect and end the network thread."""
        self._stopping = True
        if self._connected.is_set():
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

    @property
    def max_payload_bytes(self) -> int:
        return self._config.max_payload_bytes

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # -- publishing ---------------------------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes | str, *, retain: bool = False, qos: int | None = None
    ) -> bool:
        """Queue a message; returns False when it was dropped (not connected at QoS 0, full,
        or larger than ``mqtt.max_payload_bytes``)."""
        size = len(payload.encode() if isinstance(payload, str) else payload)
        if size > self._config.max_payload_bytes:
            log.error(
                "Not publishing %d bytes to %s: more than mqtt.max_payload_bytes (%d).",
                size,
                topic,
                self._config.max_payload_bytes,
            )
            return False
        try:
            info = self._client.publish(
                topic, payload, qos=self._config.qos if qos is None else qos, retain=retain
            )
        except (ValueError, TypeError) as error:
            log.error("Not publishing to %s: %s", topic, error)
            return False
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            log.debug("Message to %s not sent now (%s)", topic, mqtt.error_string(info.rc))
            return False
        return True

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
                log.error(
                    "The MQTT broker refused the connection: %s; check mqtt.username, "
                    "mqtt.password and the broker's ACLs.",
                    reason_code,
                )
                return
            log.info("Connected to MQTT broker %s:%d", self._config.host, self._config.port)
            # Subscribe first: whoever sees "online" can rely on the subscriptions being active.
            for topic in self._subscriptions:
                client.subscribe(topic, qos=1)
            client.publish(self._topics.bridge_state, ONLINE, qos=BRIDGE_QOS, retain=True)
            self._connected.set()
            if self._on_connect_hook is not None:
                self._on_connect_hook()
        except Exception:
            log.exception("Error while handling the MQTT connection")

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
