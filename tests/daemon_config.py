"""The common head of the daemon configs the tests write."""

from __future__ import annotations

from pathlib import Path


def mqtt_and_folders(*, port: int, base: str, root: Path, prefix: str | None = None) -> list[str]:
    """Config lines for the broker on 127.0.0.1:``port`` with topics under ``base`` (discovery
    under ``prefix``, else ``{base}-ha``) and the folders under ``root``; the rest follows."""
    return [
        "mqtt:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        f"  base_topic: {base}",
        f"  client_id: {base}-daemon",
        f"  discovery_prefix: {prefix or f'{base}-ha'}",
        "  keepalive: 10",
        f"state_dir: {root / 'state'}",
        f"photos_dir: {root / 'photos'}",
    ]
