"""Home Assistant: discovery announced once per change, the bridge device, restart state.

The entity table and the rendering of one camera's config stay in
:mod:`camera2mqtt.mqtt.discovery`; this package decides when which config goes out
(:class:`Announcer`), keeps what must survive a restart (:class:`HomeAssistantStore`) and
wires both to the service (:class:`HomeAssistantLink`).
"""

from camera2mqtt.homeassistant.announcer import DEFAULT_DEBOUNCE, Announcer
from camera2mqtt.homeassistant.bridge import BRIDGE_OWNER, LOG_LEVELS, bridge_info
from camera2mqtt.homeassistant.link import CameraView, HomeAssistantLink
from camera2mqtt.homeassistant.store import HomeAssistantStore, LastPhoto

__all__ = [
    "BRIDGE_OWNER",
    "DEFAULT_DEBOUNCE",
    "LOG_LEVELS",
    "Announcer",
    "CameraView",
    "HomeAssistantLink",
    "HomeAssistantStore",
    "LastPhoto",
    "bridge_info",
]
