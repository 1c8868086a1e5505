"""The shared pieces every driver relies on: the atomic writer and the CLI entry point."""

from __future__ import annotations

import io
import os
import stat
import threading
from datetime import datetime
from pathlib import Path

import pytest

from camera2mqtt import cli
from camera2mqtt.cameras.base import ImageRef, TransferError, UnsafeFilename
from camera2mqtt.cli import main
from camera2mqtt.files import TEMP_PREFIX, write_atomically
from camera2mqtt.progress import ProgressBar


def test_write_atomically_writes_and_stamps(tmp_path: Path) -> None:
    stamp = datetime(2022, 10, 22, 21, 3, 4)
    final = write_atomically(tmp_path, "P1.JPG", [b"ab", b"cd"], expected_size=4, mtime=stamp)
    assert final == tmp_path / "P1.JPG"
    assert final.read_bytes() == b"abcd"
    assert final.stat().st_mtime == stamp.timestamp()
    assert list(tmp_path.iterdir()) == [final]


def test_finished_files_get_the_usual_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        final = write_atomically(tmp_path, "P1.JPG", [b"ab"], expected_size=2)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(final.stat().st_mode) == 0o640


def test_short_transfer_leaves_nothing_and_keeps_old_file(tmp_path: Path) -> None:
    (tmp_path / "P1.JPG").write_bytes(b"old")
    with pytest.raises(TransferError, match="got 2 of 4 bytes"):
        write_atomically(tmp_path, "P1.JPG", [b"ab"], expected_size=4)
    assert (tmp_path / "P1.JPG").read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_failing_source_leaves_no_temp_file(tmp_path: Path) -> None:
    def chunks():
        yield b"ab"
        raise ConnectionResetError("cut")

    with pytest.raises(ConnectionResetError):
        write_atomically(tmp_path, "P1.JPG", chunks(), expected_size=4)
    assert list(tmp_path.iterdir()) == []


def test_cancel_stops_the_transfer(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TransferError, match="cancelled"):
        write_atomically(tmp_path, "P1.JPG", [b"ab"], expected_size=2, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["../evil.JPG", "a/b.JPG", "x\x00.JPG", "..", "", "a\\b"])
def test_unsafe_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafeFilename):
        write_atomically(tmp_path, name, [b"x"], expected_size=1)
    assert list(tmp_path.iterdir()) == []


def test_image_ref_name() -> None:
    assert ImageRef("/DCIM/100OLYMP/P1010001.JPG", 10).name == "P1010001.JPG"


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert "camera2mqtt" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "modules"),
    [
        (["run", "--config", "x.yaml"], ["camera2mqtt.service_cli"]),
        (["--log-level", "DEBUG", "wifi", "--host", "h", "info"], ["camera2mqtt.cameras.wifi.cli"]),
        (["simulate", "serial", "--model", "c-2020z"], ["camera2mqtt.sim.serial.cli"]),
    ],
)
def test_only_the_chosen_command_is_imported(argv: list[str], modules: list[str]) -> None:
    assert cli._modules_for(argv) == modules


def test_help_and_unknown_commands_load_every_command() -> None:
    everything = [*cli.COMMAND_MODULES.values(), *cli.SIMULATOR_MODULES.values()]
    assert cli._modules_for(["--help"]) == everything
    assert cli._modules_for(["nonsense"]) == everything
    assert cli._modules_for(["simulate", "--help"]) == everything


def test_progress_bar_draws_one_line_and_always_the_last_state() -> None:
    out = io.StringIO()
    bar = ProgressBar("P1.JPG", out)
    bar(0, 200)
    bar(100, 200)  # within the redraw interval: skipped
    bar(200, 200)
    bar.finish()
    lines = out.getvalue().split("\r")
    assert lines[1].startswith("P1.JPG [---") and "0.0%" in lines[1]
    assert lines[-1].startswith("P1.JPG [" + "#" * ProgressBar.WIDTH + "]")
    assert "100.0%" in lines[-1] and lines[-1].endswith("\n")
    assert len(lines) == 3
