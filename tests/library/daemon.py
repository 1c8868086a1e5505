"""The daemon (in-process or as a subprocess) with the Wi-Fi simulator, driven over MQTT."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camera2mqtt.config import parse_config
from camera2mqtt.library import PARTIAL_DIR, DownloadStore
from camera2mqtt.service import Service
from camera2mqtt.statedb import StateDB
from tests.daemon.mqtt_probe import MqttProbe
from tests.daemon_config import mqtt_and_folders

READY = 60.0
CAMERA = "tg"


def config_text(
    *,
    mqtt_port: int,
    wifi_port: int,
    base: str,
    root: Path,
    extra: tuple[str, ...] = (),
    poll_interval: float = 1,
) -> str:
    lines = [
        *mqtt_and_folders(port=mqtt_port, base=base, root=root),
        "cameras:",
        f"  {CAMERA}:",
        "    type: wifi",
        "    host: 127.0.0.1",
        f"    port: {wifi_port}",
        "    timeout: 5",
        f"    poll_interval: {poll_interval}",
        *(f"    {line}" for line in extra),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Daemon:
    probe: MqttProbe
    base: str
    root: Path

    @property
    def photos(self) -> Path:
        return self.root / "photos" / CAMERA

    def topic(self, leaf: str) -> str:
        return f"{self.base}/{CAMERA}/{leaf}"

    def command(self, body: dict[str, Any], *, timeout: float = 60.0) -> dict[str, Any]:
        return self.probe.request(self.base, CAMERA, body, timeout=timeout)

    def events(self, since: int = 0, name: str | None = None) -> list[dict[str, Any]]:
        found = [m.json() for m in self.probe.messages(self.topic("event"), since)]
        return [e for e in found if name is None or e["event"] == name]

    def wait_event(self, name: str, *, since: int, timeout: float = READY, **fields: Any):
        return self.probe.wait_for(
            lambda m: (
                m.topic == self.topic("event")
                and m.json()["event"] == name
                and all(m.json().get(k) == v for k, v in fields.items())
            ),
            timeout=timeout,
            since=since,
            what=f"{name} event",
        ).json()

    def wait_online(self, since: int = 0) -> None:
        self.probe.wait_for(
            lambda m: m.topic == self.topic("availability") and m.text() == "online",
            timeout=READY,
            since=since,
            what="camera online",
        )


def new_base() -> str:
    return f"lib{uuid.uuid4().hex[:8]}"


def probe_for(broker_port: int, base: str) -> Iterator[MqttProbe]:
    with MqttProbe("127.0.0.1", broker_port, (f"{base}/#", f"{base}-ha/#")) as probe:
        yield probe


def start_in_process(
    broker, sim, root: Path, extra: tuple[str, ...] = (), poll_interval: float = 1.0
) -> Iterator[Daemon]:
    """The daemon in this process with the simulator ``sim``, online; stopped afterwards."""
    base = new_base()
    text = config_text(
        mqtt_port=broker.port,
        wifi_port=sim.port,
        base=base,
        root=root,
        extra=extra,
        poll_interval=poll_interval,
    )
    for probe in probe_for(broker.port, base):
        service = Service(parse_config(text))
        service.start()
        try:
            daemon = Daemon(probe, base, root)
            daemon.wait_online()
            yield daemon
        finally:
            service.stop()


def local_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def check_consistent(root: Path, photos: Path, card: dict[str, bytes]) -> None:
    """Every card file exactly once and byte-identical, nothing else, no temp files, and
    the store's records match the files on disk."""
    files = local_files(photos)
    assert sorted(files.values()) == sorted(card.values())
    assert not (photos / PARTIAL_DIR).exists()
    assert not [p for p in photos.rglob("*") if p.name.startswith(".")]
    with StateDB.in_state_dir(root / "state") as db:
        records = DownloadStore(db).records()
    assert sorted(r.identity.path for r in records) == sorted(card)
    for record in records:
        data = Path(record.local_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == record.sha256
        assert data == card[record.identity.path]
