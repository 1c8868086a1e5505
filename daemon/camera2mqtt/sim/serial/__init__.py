"""A photopc/Sierra serial camera on a pseudo-terminal (``camera2mqtt simulate serial``).

Three parts: :mod:`.server` (the pty and its thread), :mod:`.state` and :mod:`.models`
(what the camera stores and which model it is), :mod:`.faults` (scenario controls).
"""

from camera2mqtt.sim.serial.faults import SerialFaults
from camera2mqtt.sim.serial.models import MODELS, ModelProfile, get_model
from camera2mqtt.sim.serial.protocol import ReceivedCommand
from camera2mqtt.sim.serial.server import MODEL_IDLE_RESET, SerialSimulator
from camera2mqtt.sim.serial.state import DeviceState

__all__ = [
    "MODELS",
    "MODEL_IDLE_RESET",
    "DeviceState",
    "ModelProfile",
    "ReceivedCommand",
    "SerialFaults",
    "SerialSimulator",
    "get_model",
]
