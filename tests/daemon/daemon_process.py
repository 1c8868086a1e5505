"""The daemon as a separate process: ``camera2mqtt run --config FILE``."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

STOP_TIMEOUT = 20.0


class DaemonProcess:
    def __init__(self, config_path: Path, log_path: Path) -> None:
        self._command = [sys.executable, "-m", "camera2mqtt", "run", "--config", str(config_path)]
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DaemonProcess:
        with self._log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self._command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self._log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send sig, wait for the exit (kill after STOP_TIMEOUT) and return the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
                raise AssertionError(
                    f"daemon ignored signal {sig} for {STOP_TIMEOUT:g} s"
                ) from None
        return self.process.returncode
