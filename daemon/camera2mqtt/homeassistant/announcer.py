"""Debounced, deduplicated Home Assistant discovery: each config is announced once.

Home Assistant still setting up a device from one config ignores parts of a second config
that follows within a fraction of a second (docs/homeassistant.md). The announcer therefore
keeps, for every discovery topic, what was last published and when, and what is wanted now:

- a wanted config equal to the published one is not sent again, except when asked to
  (:meth:`Announcer.resend`, after a reconnect or Home Assistant's birth message), and then
  with the very same bytes;
- a config that differs from the published one goes out no sooner than ``debounce`` seconds
  after it; meanwhile only the newest wanted config is kept;
- an owner (a camera, the bridge) announces nothing until :meth:`Announcer.want` is called
  for it, so a camera is announced once with what the first contact taught, not first as a
  placeholder;
- configs that nobody wants any more are cleared with an empty retained payload; in a device
  config, a component that goes away is first sent as ``{"p": "<platform>"}`` (how Home
  Assistant removes one component) and left out of the next config.

Everything sent is recorded in the state file (:class:`HomeAssistantStore`), so a restart
knows what the broker holds. The announcer keeps no thread: the caller calls :meth:`tick`
when :meth:`next_due` says so, with an injectable ``clock``.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from camera2mqtt.homeassistant.store import HomeAssistantStore

__all__ = ["DEFAULT_DEBOUNCE", "Announcer", "DiscoveryPublish"]

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE = 5.0  # seconds between two different configs on one topic
RETRY_DELAY = 1.0  # seconds before a config that could not be published is tried again
_UNOWNED = ""  # topics recorded by an earlier release, whose owner is not known

DiscoveryPublish = Callable[[str, bytes], bool]
"""Publishes a retained discovery message; False when it could not be sent now."""


@dataclass
class _Topic:
    owner: str
    sent: bytes | None = None  # what the broker holds (None: nothing / cleared)
    sent_at: float = -math.inf
    wanted: bytes | None = None  # None: the topic should be cleared
    decided: bool = False  # the owner said what it wants
    retry_at: float = -math.inf  # after a failed publish


class Announcer:
    """Decides which discovery message goes out when; thread-safe."""

    def __init__(
        self,
        publish: DiscoveryPublish,
        store: HomeAssistantStore,
        *,
        owners: Iterable[str],
        debounce: float = DEFAULT_DEBOUNCE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self._store = store
        self._owners = set(owners)
        self._debounce = debounce
        self._clock = clock
        self._lock = threading.Lock()
        self._topics: dict[str, _Topic] = {}
        self._decided_owners: set[str] = set()
        for sent in store.sent_configs():
            owner = sent.owner if sent.owner in self._owners else _UNOWNED
            if sent.owner and sent.owner not in self._owners:
                # A camera removed from the configuration: nobody will want its configs.
                self._topics[sent.topic] = _Topic(sent.owner, sent.payload, decided=True)
            else:
                self._topics[sent.topic] = _Topic(owner, sent.payload)

    # -- what is wanted -------------------------------------------------------------------

    def want(self, owner: str, configs: Mapping[str, bytes]) -> None:
        """``owner``'s complete set of discovery configs (topic -> payload) from now on;
        its other topics are cleared."""
        with self._lock:
            for topic, entry in self._topics.items():
                if entry.owner == owner or (entry.owner == _UNOWNED and topic in configs):
                    entry.owner = owner
                    entry.wanted = None
                    entry.decided = True
            for topic, payload in configs.items():
                entry = self._topics.setdefault(topic, _Topic(owner))
                entry.owner = owner
                entry.wanted = payload
                entry.decided = True
            self._decided_owners.add(owner)
            if self._owners <= self._decided_owners:
                for entry in self._topics.values():
                    if entry.owner == _UNOWNED:
                        entry.decided = True  # nobody claimed it: clear it
        self.tick()

    def wants(self, owner: str) -> bool:
        """Whether :meth:`want` was called for ``owner``."""
        with self._lock:
            return owner in self._decided_owners

    # -- sending --------------------------------------------------------------------------

    def resend(self) -> None:
        """Publish every wanted config again as it was (after a reconnect or Home
        Assistant's birth); changes still wait for their debounce."""
        with self._lock:
            now = self._clock()
            for topic, entry in self._topics.items():
                entry.retry_at = -math.inf
                if entry.decided and entry.sent is not None and self._message(entry) == entry.sent:
                    self._send(topic, entry, entry.sent, now)
        self.tick()

    def tick(self) -> None:
        """Publish whatever is due now."""
        with self._lock:
            now = self._clock()
            for topic, entry in list(self._topics.items()):
                if not entry.decided:
                    continue
                message = self._message(entry)
                if message == entry.sent or now < self._due(entry):
                    continue
                self._send(topic, entry, message, now)

    def next_due(self) -> float:
        """The clock time of the next change waiting for its debounce (inf: none)."""
        with self._lock:
            due = math.inf
            for entry in self._topics.values():
                if entry.decided and self._message(entry) != entry.sent:
                    due = min(due, self._due(entry))
            return due

    def _due(self, entry: _Topic) -> float:
        return max(entry.sent_at + self._debounce, entry.retry_at)

    def published(self) -> dict[str, bytes]:
        """Every config the broker holds from us now (topic -> payload)."""
        with self._lock:
            return {t: e.sent for t, e in self._topics.items() if e.sent is not None}

    def _message(self, entry: _Topic) -> bytes | None:
        """What ``entry``'s topic should carry next: the wanted config, with components
        the broker still has turned into removal placeholders first."""
        if entry.wanted is None:
            return None
        removed = _removed_components(entry.sent, entry.wanted)
        if not removed:
            return entry.wanted
        config = json.loads(entry.wanted)
        config["components"] = {**config["components"], **removed}
        return json.dumps(config, separators=(",", ":")).encode()

    def _send(self, topic: str, entry: _Topic, message: bytes | None, now: float) -> None:
        payload = message or b""
        if not self._publish(topic, payload):
            entry.retry_at = now + RETRY_DELAY  # resend() after a reconnect tries at once
            return
        entry.sent = message
        entry.sent_at = now
        self._store.record_sent(topic, entry.owner, payload)
        if message is None:
            log.info("Cleared the Home Assistant discovery config %s", topic)
        else:
            log.debug("Announced %s", topic)


def _removed_components(sent: bytes | None, wanted: bytes) -> dict[str, dict[str, str]]:
    """``{"p": platform}`` for each component of the device config ``sent`` that ``wanted``
    lacks (nothing for entity configs, which are cleared whole)."""
    if not sent:
        return {}
    try:
        before = json.loads(sent).get("components")
        after = json.loads(wanted).get("components")
    except (ValueError, AttributeError):
        return {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return {}
    removed = {}
    for key, component in before.items():
        if key in after or not isinstance(component, dict):
            continue
        if set(component) == {"p"}:
            continue  # already a placeholder: the broker's next config leaves it out
        platform = component.get("platform", component.get("p"))
        if isinstance(platform, str):
            removed[key] = {"p": platform}
    return removed
