"""gphoto2's sierra driver against the simulator, through the ioctl shim of reference §2.

CI does not install gphoto2; these run where it and a C compiler are present.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from camera2mqtt.sim.serial import SerialSimulator

GPHOTO2 = shutil.which("gphoto2")
CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(
    GPHOTO2 is None or CC is None,
    reason="needs gphoto2 and a C compiler for the pty ioctl shim (not installed in CI)",
)

SHIM_SOURCE = Path(__file__).with_name("ioctl_shim.c")
RUN_TIMEOUT_S = 120
CAMERA = "Olympus C-2020Z"


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert CC is not None
    library = tmp_path_factory.mktemp("shim") / "ioctl_shim.so"
    subprocess.run(
        [CC, "-shared", "-fPIC", "-o", str(library), str(SHIM_SOURCE), "-ldl"],
        check=True,
        timeout=RUN_TIMEOUT_S,
    )
    return library


@pytest.fixture
def sim() -> Iterator[SerialSimulator]:
    with SerialSimulator(idle_reset_s=None) as simulator:
        yield simulator


def gphoto2(sim: SerialSimulator, shim: Path, cwd: Path, *args: str) -> str:
    assert GPHOTO2 is not None
    result = subprocess.run(
        [GPHOTO2, "--camera", CAMERA, "--port", f"serial:{sim.slave_path}", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env={**os.environ, "LD_PRELOAD": str(shim), "LANG": "C"},
        cwd=cwd,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_summary_and_list(sim: SerialSimulator, shim: Path, tmp_path: Path) -> None:
    summary = gphoto2(sim, shim, tmp_path, "--summary")
    assert "OLYMPUS DIGITAL CAMERA" in summary and "Frames Taken: 3" in summary
    listing = gphoto2(sim, shim, tmp_path, "--list-files")
    assert "There are 3 files in folder '/DCIM/100OLYMP'" in listing
    for name, _ in sim.state.frames:
        assert name in listing


def test_get_file_is_byte_identical(sim: SerialSimulator, shim: Path, tmp_path: Path) -> None:
    gphoto2(sim, shim, tmp_path, "--get-file", "2", "--filename", "got.jpg")
    assert (tmp_path / "got.jpg").read_bytes() == sim.state.frames[1][1]


# gphoto2 waits 20 ms for a stray byte before each of the ~430 packets of the new picture.
@pytest.mark.slow
def test_capture_and_download_keeps_the_file(
    sim: SerialSimulator, shim: Path, tmp_path: Path
) -> None:
    out = gphoto2(
        sim, shim, tmp_path, "--capture-image-and-download", "--keep", "--filename", "cap.jpg"
    )
    name, data = sim.state.frames[-1]
    assert f"/DCIM/100OLYMP/{name}" in out
    assert len(sim.state.frames) == 4
    assert (tmp_path / "cap.jpg").read_bytes() == data


def test_capture_preview(sim: SerialSimulator, shim: Path, tmp_path: Path) -> None:
    gphoto2(sim, shim, tmp_path, "--capture-preview", "--filename", "live.jpg")
    (saved,) = tmp_path.glob("*live.jpg")
    assert saved.read_bytes() == sim.state.preview
