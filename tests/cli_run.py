"""The ``camera2mqtt`` command run as a user runs it: a subprocess with no stdin."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

RUN_TIMEOUT = 60.0
# Not inherited from the test's own environment: a systemd notify socket, the config secret.
UNINHERITED_ENV = ("NOTIFY_SOCKET", "C2M_SECRET")


def camera2mqtt(
    *args: str, env_extra: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in UNINHERITED_ENV}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "camera2mqtt", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )
