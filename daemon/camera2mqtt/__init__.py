"""camera2mqtt: Olympus Wi-Fi and photopc/Sierra serial cameras on an MQTT bus."""

__version__ = "0.1.0"

__all__ = ["__version__"]
