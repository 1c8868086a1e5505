"""A :class:`~camera2mqtt.timelapse.engine.Shooter` on a connected camera driver, as is."""

from __future__ import annotations

from pathlib import Path

from camera2mqtt.cameras.base import Camera, ImageRef

__all__ = ["CameraShooter"]


class CameraShooter:
    """Shoots, downloads and sets properties through one connected :class:`Camera`."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera

    def take_shot(self, timelapse: str) -> list[ImageRef]:
        return self.camera.shoot()

    def fetch(self, ref: ImageRef, dest_dir: Path) -> Path:
        return self.camera.download(ref, dest_dir)

    def apply_property(self, name: str, value: str) -> None:
        self.camera.set_property(name, value)
