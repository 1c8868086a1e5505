"""The Olympus/OM System Wi-Fi (OI.Share) camera driver."""

from camera2mqtt.cameras.wifi.camera import WifiCamera

__all__ = ["WifiCamera"]
