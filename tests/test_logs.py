"""Log lines: syslog priorities for the journal under systemd, timestamps elsewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

LOG_TWO_LINES = (
    "import logging; from camera2mqtt.logs import configure_logging; "
    "configure_logging('INFO'); log = logging.getLogger('camera2mqtt.test'); "
    "log.warning('careful'); log.info('hello')"
)


def run_with_stderr_to(path: Path, *, journal: bool) -> list[str]:
    with open(path, "w") as stderr:
        env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
        if journal:
            stat = os.fstat(stderr.fileno())
            env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
        subprocess.run([sys.executable, "-c", LOG_TWO_LINES], stderr=stderr, env=env, check=True)
    return path.read_text().splitlines()


def test_under_the_journal_lines_carry_priorities_and_no_time(tmp_path: Path) -> None:
    lines = run_with_stderr_to(tmp_path / "err", journal=True)
    assert lines == ["<4>camera2mqtt.test: careful", "<6>camera2mqtt.test: hello"]


def test_elsewhere_lines_carry_a_timestamp(tmp_path: Path) -> None:
    lines = run_with_stderr_to(tmp_path / "err", journal=False)
    assert len(lines) == 2
    assert all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", line) for line in lines)
    assert "WARNING" in lines[0] and lines[0].endswith("camera2mqtt.test: careful")
