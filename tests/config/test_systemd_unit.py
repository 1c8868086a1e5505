"""The shipped systemd unit: the settings the daemon relies on, and `systemd-analyze verify`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from camera2mqtt.config import EX_CONFIG

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "camera2mqtt.service"
INSTALLED_BINARY = "/opt/camera2mqtt/bin/camera2mqtt"
ANALYZE_TIMEOUT = 60.0

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None,
    reason="systemd-analyze not installed (Debian package 'systemd'); unit not verified",
)


def settings(text: str) -> dict[tuple[str, str], list[str]]:
    """(section, key) -> every value given, in order (systemd keys may repeat)."""
    result: dict[tuple[str, str], list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        result.setdefault((section, key.strip()), []).append(value.strip())
    return result


UNIT_SETTINGS = settings(UNIT.read_text())


def one(section: str, key: str) -> str:
    values = UNIT_SETTINGS.get((section, key))
    assert values, f"[{section}] {key}= missing"
    return values[-1]


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|min)?", value)
    assert match, value
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1.0, "min": 60.0}[unit]


def test_type_notify_with_watchdog() -> None:
    assert one("Service", "Type") == "notify"
    assert one("Service", "NotifyAccess") == "main"
    assert seconds(one("Service", "WatchdogSec")) >= 10


def test_the_exec_start_command() -> None:
    assert one("Service", "ExecStart") == (
        f"{INSTALLED_BINARY} run --config /etc/camera2mqtt/camera2mqtt.yaml"
    )


def test_restart_policy_stays_clear_of_the_start_limit() -> None:
    assert one("Service", "Restart") == "on-failure"
    restart = seconds(one("Service", "RestartSec"))
    interval = seconds(one("Unit", "StartLimitIntervalSec"))
    burst = int(one("Unit", "StartLimitBurst"))
    # Fewer than `burst` starts can fall into any interval: systemd never gives up for good.
    assert restart > interval / burst
    assert restart * (burst - 1) >= interval
    # A broken config file is not worth restarting for.
    assert one("Service", "RestartPreventExitStatus") == str(EX_CONFIG)


def test_directories_and_user() -> None:
    for key in ("StateDirectory", "CacheDirectory", "ConfigurationDirectory"):
        assert one("Service", key) == "camera2mqtt"
    assert one("Service", "User") == "camera2mqtt"
    assert "dialout" in one("Service", "SupplementaryGroups").split()
    assert one("Service", "Environment") == "PYTHONUNBUFFERED=1"


def test_hardening_keeps_serial_ports_usable() -> None:
    assert one("Service", "ProtectSystem") == "strict"
    assert one("Service", "NoNewPrivileges") == "yes"
    assert ("Service", "PrivateDevices") not in UNIT_SETTINGS
    allowed = set(UNIT_SETTINGS[("Service", "DeviceAllow")])
    assert {"char-ttyUSB rw", "char-ttyACM rw", "char-ttyS rw"} <= allowed
    # DeviceAllow= takes no globs (systemd.resource-control(5)).
    assert not any("*" in value for value in allowed)
    families = one("Service", "RestrictAddressFamilies").split()
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= set(families)


def unit_with_this_binary(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this environment's camera2mqtt (verify needs it)."""
    binary = Path(sys.executable).parent / "camera2mqtt"
    if not binary.exists():
        found = shutil.which("camera2mqtt")
        if found is None:
            pytest.skip("the camera2mqtt console script is not installed in this environment")
        binary = Path(found)
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(INSTALLED_BINARY, str(binary)))
    return copy


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", "--recursive-errors=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=ANALYZE_TIMEOUT,
        stdin=subprocess.DEVNULL,
        cwd=unit.parent,
    )


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    result = verify(unit_with_this_binary(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert UNIT.name not in result.stdout + result.stderr, result.stdout + result.stderr


@needs_systemd_analyze
def test_systemd_analyze_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    unit = unit_with_this_binary(tmp_path)
    unit.write_text(unit.read_text().replace("Type=notify", "Type=notify\nWatchdogSecs=60"))
    result = verify(unit)
    assert result.returncode != 0
    assert "WatchdogSecs" in result.stderr


@needs_systemd_analyze
def test_systemd_analyze_security_rates_the_unit_ok(tmp_path: Path) -> None:
    unit = unit_with_this_binary(tmp_path)
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=ANALYZE_TIMEOUT,
        stdin=subprocess.DEVNULL,
        cwd=unit.parent,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    if result.returncode != 0 or match is None:
        pytest.skip(f"systemd-analyze security --offline is unavailable here: {result.stderr}")
    # systemd's scale: 0-10, where below 4 reads as "OK"/"SAFE".
    assert float(match.group(1)) < 4.0, result.stdout
