"""The camera drivers, registered in one place: the configuration's ``type:`` -> driver class.

Nothing else in the program knows the list. Each driver class is a :class:`Camera` with a
``from_config(camera_config)`` class method that builds it from its section of the config.
"""

from __future__ import annotations

import importlib
from typing import Any

from camera2mqtt.cameras.base import Camera

__all__ = ["DRIVER_TYPES", "driver_class", "open_camera"]

# type -> "module:Class"; imported on first use so that a Wi-Fi-only set-up never loads pyserial.
_DRIVERS = {
    "wifi": "camera2mqtt.cameras.wifi:WifiCamera",
    "serial": "camera2mqtt.cameras.serial:SerialCamera",
}

DRIVER_TYPES = tuple(_DRIVERS)


def driver_class(camera_type: str) -> type[Camera]:
    """The driver class for a config ``type:`` value."""
    try:
        target = _DRIVERS[camera_type]
    except KeyError:
        raise ValueError(
            f"unknown camera type {camera_type!r}; allowed: {', '.join(DRIVER_TYPES)}"
        ) from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def open_camera(camera_config: Any) -> Camera:
    """Build (not yet connect) the driver for one camera section of the configuration."""
    return driver_class(camera_config.type).from_config(camera_config)
