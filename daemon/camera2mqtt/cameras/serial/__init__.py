"""The photopc/Sierra serial camera driver: packets -> link -> camera.

``packets`` frames bytes, ``link`` runs the session (ACK/NAK, retries, speed, timeouts),
``registers`` and ``quirks`` hold the protocol's numbers and the model differences as
data, and ``camera`` maps them onto the :class:`~camera2mqtt.cameras.base.Camera` interface.
"""

from camera2mqtt.cameras.serial.camera import SerialCamera

__all__ = ["SerialCamera"]
