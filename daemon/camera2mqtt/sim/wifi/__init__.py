"""A simulated Olympus Wi-Fi (OI.Share) camera: HTTP wire server, device state, faults.

``WifiSimulator`` serves the real protocol on loopback for tests, the demo and users
(``camera2mqtt simulate wifi``); see docs/wifi-simulator.md.
"""

from camera2mqtt.sim.wifi.faults import RequestLog, WifiFaults
from camera2mqtt.sim.wifi.models import MODELS
from camera2mqtt.sim.wifi.server import LiveViewStreamer, SimulatorError, WifiSimulator

__all__ = [
    "MODELS",
    "LiveViewStreamer",
    "RequestLog",
    "SimulatorError",
    "WifiFaults",
    "WifiSimulator",
]
