"""``camera2mqtt wifi ...`` against the simulator: in-process, and end to end as subprocesses."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from camera2mqtt.cli import main
from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.wifi.server import WifiSimulator
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SUBPROCESS_TIMEOUT = 60


def run_cli(sim: WifiSimulator, *args: str) -> int:
    return main(["wifi", "--host", f"127.0.0.1:{sim.port}", "--timeout", "10", *args])


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for number, year in enumerate((2019, 2023), 1):
        path = folder / f"P101000{number}.JPG"
        path.write_bytes(make_jpeg(800, 600, path.name, seed=number))
        stamp = datetime(year, 1, 1, 12, 0, 0).timestamp()
        os.utime(path, (stamp, stamp))
    raw = folder / "P1010003.ORF"
    raw.write_bytes(os.urandom(200_000))
    stamp = datetime(2023, 5, 6, 7, 8, 10).timestamp()
    os.utime(raw, (stamp, stamp))
    return folder


@pytest.fixture
def sim(images: Path):
    with WifiSimulator("e-m1-iii", images_dir=images) as simulator:
        yield simulator


def test_info(sim, capsys):
    assert run_cli(sim, "info") == 0
    out = capsys.readouterr().out
    assert "Connected to E-M1MarkIII, version 4.40, oitrackversion 3.10." in out
    assert "modes:         rec, play, shutter, maintenance, cameralog" in out
    assert "0640x0480" in out


def test_shoot(sim, capsys):
    before = set(sim.state.files)
    assert run_cli(sim, "shoot") == 0
    (new,) = set(sim.state.files) - before
    assert capsys.readouterr().out.startswith(new + "\t")


def test_download_filters_and_skips(sim, images, tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert run_cli(sim, "download", "--output", str(out_dir), "--ext", "jpg") == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["P1010001.JPG", "P1010002.JPG"]
    for path in out_dir.iterdir():
        assert path.read_bytes() == (images / path.name).read_bytes()
    capsys.readouterr()
    assert run_cli(sim, "download", "--output", str(out_dir), "--since", "2023-01-01") == 0
    err = capsys.readouterr().err
    assert "Downloaded 1 file(s), skipped 1 already present." in err
    assert (out_dir / "P1010003.ORF").read_bytes() == (images / "P1010003.ORF").read_bytes()


def test_download_default_destination_is_pictures_year(sim, images, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run_cli(sim, "download") == 0
    pictures = tmp_path / "home" / "Pictures"
    original = (images / "P1010001.JPG").read_bytes()
    assert (pictures / "2019" / "P1010001.JPG").read_bytes() == original
    assert (pictures / "2023" / "P1010002.JPG").is_file()
    assert (pictures / "2023" / "P1010003.ORF").is_file()


def test_download_cut_then_rerun(sim, images, tmp_path, capsys):
    out_dir = tmp_path / "out"
    sim.faults.cut_after_bytes = 20_000  # more than the command list, less than a photo
    assert run_cli(sim, "download", "--output", str(out_dir), "--retries", "0") == 1
    errors = capsys.readouterr().err.splitlines()
    cut = "camera2mqtt: The camera stopped sending /DCIM/100OLYMP/P1010001.JPG"
    assert any(line.startswith(cut) for line in errors), errors
    assert errors[-1].endswith("failed; run the download again to fetch them.")
    assert not [p for p in out_dir.iterdir() if not p.name.startswith(".")]
    sim.faults.reset()
    assert run_cli(sim, "download", "--output", str(out_dir)) == 0
    for path in images.iterdir():
        assert (out_dir / path.name).read_bytes() == path.read_bytes()
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(p.name for p in images.iterdir())


def test_download_never_overwrites_a_different_file(sim, images, tmp_path, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "P1010001.JPG").write_bytes(b"another photo of the same name")
    assert run_cli(sim, "download", "--output", str(out_dir)) == 0
    assert (out_dir / "P1010001.JPG").read_bytes() == b"another photo of the same name"
    assert (out_dir / "P1010001-1.JPG").read_bytes() == (images / "P1010001.JPG").read_bytes()


def test_set_clock_and_power_off(sim, capsys):
    assert run_cli(sim, "set-clock") == 0
    assert "Camera clock set to" in capsys.readouterr().out
    assert run_cli(sim, "power-off") == 0
    assert "turned off" in capsys.readouterr().out


def test_props(sim, capsys):
    assert run_cli(sim, "props") == 0
    out = capsys.readouterr().out
    assert "isospeedvalue = Auto  (rw)  [Auto Low 200" in out
    assert run_cli(sim, "props", "get", "takemode") == 0
    assert capsys.readouterr().out == "P\n"
    assert run_cli(sim, "props", "set", "isospeedvalue", "400") == 0
    assert sim.state.properties["isospeedvalue"] == "400"
    capsys.readouterr()
    assert run_cli(sim, "props", "set", "isospeedvalue", "7") == 1
    err = capsys.readouterr().err
    assert err.startswith("camera2mqtt: '7' is not an allowed value of isospeedvalue; supported:")
    assert err.count("\n") == 1
    assert run_cli(sim, "props", "frobnicate") == 1


def test_cmd_sequence_text_binary_and_redirect(sim, tmp_path, capsys):
    assert (
        run_cli(sim, "cmd", "switch_cammode mode=rec", "get_camprop com=get propname=takemode") == 0
    )
    assert "<get><value>P</value></get>" in capsys.readouterr().out
    path = "/DCIM/100OLYMP/P1010001.JPG"
    resize = f"get_resizeimg DIR={path} size=1024"
    assert run_cli(sim, "cmd", "switch_cammode mode=play", resize) == 0
    out = capsys.readouterr().out
    assert "bytes of image/jpeg. Re-run with redirection" in out
    assert "\xff" not in out
    target = tmp_path / "small.jpg"
    assert run_cli(sim, "cmd", f"get_resizeimg DIR={path} size=1024 > {target}") == 0
    assert target.read_bytes().startswith(b"\xff\xd8")


def test_cmd_validation_errors(sim, capsys):
    assert run_cli(sim, "cmd", "whatever") == 1
    connected, error = capsys.readouterr().err.splitlines()
    assert connected.startswith("Connected to E-M1MarkIII")
    assert "'whatever' is not supported by this camera; valid commands: get_connectmode" in error
    assert run_cli(sim, "cmd", "get_camprop com=get propname=whatever") == 1
    err = capsys.readouterr().err
    assert "'whatever' in propname=whatever is not supported; supported: propname=" in err
    assert run_cli(sim, "cmd", "get_caminfo oops") == 1
    assert "is not KEY=VALUE" in capsys.readouterr().err


def test_unreachable_is_one_line(capsys):
    assert main(["wifi", "--host", f"127.0.0.1:{free_port()}", "--timeout", "2", "info"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Private mode" in err


def test_bad_host_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["wifi", "--host", "127.0.0.1:notaport", "info"])
    assert caught.value.code == 2


# -- end to end, as a user runs it ------------------------------------------------------------


def _camera2mqtt(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camera2mqtt", *args],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        cwd=REPO,
        check=False,
        **kwargs,
    )


def test_end_to_end_e_m10_iv(images, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camera2mqtt",
            "simulate",
            "wifi",
            "--model",
            "e-m10-iv",
            "--port",
            str(port),
            "--images",
            str(images),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in server.stdout], daemon=True
        ).start()
        assert "listening on" in lines.get(timeout=SUBPROCESS_TIMEOUT)

        host = f"127.0.0.1:{port}"
        shot = _camera2mqtt("wifi", "--host", host, "--timeout", "10", "shoot")
        assert shot.returncode == 0, shot.stderr
        new_path = shot.stdout.split("\t")[0]
        assert new_path.startswith("/DCIM/100OLYMP/P")

        out_dir = tmp_path / "out"
        fetched = _camera2mqtt(
            "wifi", "--host", host, "--timeout", "10", "download", "--output", str(out_dir)
        )
        assert fetched.returncode == 0, fetched.stderr
        new_name = new_path.rsplit("/", 1)[1]
        assert sorted(p.name for p in out_dir.iterdir()) == sorted(
            [p.name for p in images.iterdir()] + [new_name]
        )
        for original in images.iterdir():
            assert (out_dir / original.name).read_bytes() == original.read_bytes()
        # The new shot exists only inside the simulator: fetch it with a plain GET to compare.
        with urllib.request.urlopen(f"http://{host}{new_path}", timeout=SUBPROCESS_TIMEOUT) as r:
            assert (out_dir / new_name).read_bytes() == r.read()
    finally:
        server.terminate()
        try:
            server.wait(timeout=SUBPROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=SUBPROCESS_TIMEOUT)


def test_progress_bar_only_on_a_terminal(sim, tmp_path, capsys, monkeypatch):
    assert run_cli(sim, "download", "--output", str(tmp_path / "piped")) == 0
    out = capsys.readouterr().out
    assert "\r" not in out and "#" not in out
    assert str(tmp_path / "piped" / "P1010001.JPG") in out
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert run_cli(sim, "download", "--output", str(tmp_path / "tty")) == 0
    out = capsys.readouterr().out
    assert "\r[1/3] P1010001.JPG [" in out and "100.0%" in out
