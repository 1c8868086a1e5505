"""The root of every error camera2mqtt raises on purpose.

Each message reads as a sentence that tells the user what happened and what to do; callers
(the CLI, the MQTT bridge) show ``str(error)`` as it is and never a traceback.
"""

__all__ = ["Camera2MqttError"]


class Camera2MqttError(Exception):
    """Base class of all camera2mqtt errors."""
