"""The live-view CLI and session against the Wi-Fi simulator (HTTP + RTP on 127.0.0.1)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from PIL import Image

from camera2mqtt import cli
from camera2mqtt.cameras import wifi as wifi_driver
from camera2mqtt.cameras.wifi.liveview import LiveView
from camera2mqtt.cameras.wifi.liveview_cli import add_liveview_command
from camera2mqtt.sim import wifi as wifi_sim
from camera2mqtt.sim.wifi.liveview import RtpStreamer


def wifi_parser() -> argparse.ArgumentParser:
    """The shape of ``camera2mqtt wifi``: --host/--timeout, then the sub-commands."""
    parser = argparse.ArgumentParser(prog="camera2mqtt wifi")
    parser.add_argument("--host", type=lambda text: ("127.0.0.1", int(text)))
    parser.add_argument("--timeout", type=float, default=5.0)
    add_liveview_command(parser.add_subparsers(dest="wifi_command", required=True))
    return parser


def run(sim, *argv: str) -> int:
    args = wifi_parser().parse_args(
        ["--host", str(sim.port), "liveview", "--bind", "127.0.0.1", *argv]
    )
    return args.func(args)


def test_driver_snapshot_through_the_simulator() -> None:
    streamer = RtpStreamer(fps=30)
    with wifi_sim.WifiSimulator(liveview=streamer) as sim:
        camera = wifi_driver.WifiCamera("127.0.0.1", sim.port, timeout=5)
        camera.connect()
        try:
            with LiveView(camera, bind_host="127.0.0.1", size="0320x0240") as live:
                jpeg = live.snapshot()
        finally:
            camera.close()
    assert jpeg in streamer.sent_frames().values()
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.size == (320, 240)
    assert not streamer.running


@pytest.mark.parametrize("model", ["e-m1-iii", "e-m10-iv"])
def test_camera_snapshot_is_a_frame_the_simulator_sent(model: str) -> None:
    streamer = RtpStreamer(fps=30)
    with wifi_sim.WifiSimulator(model, liveview=streamer) as sim:
        camera = wifi_driver.WifiCamera("127.0.0.1", sim.port, timeout=5)
        camera.connect()
        try:
            jpeg = camera.snapshot()
        finally:
            camera.close()
        assert not sim.state.liveview_running
    assert jpeg in streamer.sent_frames().values()


def test_liveview_is_a_subcommand_of_camera2mqtt_wifi(tmp_path: Path) -> None:
    streamer = RtpStreamer(fps=30)
    with wifi_sim.WifiSimulator(liveview=streamer) as sim:
        code = cli.main(
            [
                "wifi",
                "--host",
                f"127.0.0.1:{sim.port}",
                "liveview",
                "--snapshot",
                str(tmp_path / "s.jpg"),
            ]
        )
    assert code == 0
    assert (tmp_path / "s.jpg").read_bytes() in streamer.sent_frames().values()


def test_cli_snapshot_and_frames(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    streamer = RtpStreamer(fps=60)
    with wifi_sim.WifiSimulator(liveview=streamer) as sim:
        assert run(sim, "--snapshot", str(tmp_path / "snap.jpg"), "--size", "0640x0480") == 0
        assert run(sim, "--frames", "5", "--out", str(tmp_path / "frames")) == 0
    out = capsys.readouterr().out
    assert "Saved" in out and "Counters: frames ok" in out
    sent = set(streamer.sent_frames().values())
    assert (tmp_path / "snap.jpg").read_bytes() in sent
    files = sorted((tmp_path / "frames").iterdir())
    assert [f.name for f in files] == [f"liveview-{i:05d}.jpg" for i in range(1, 6)]
    assert all(f.read_bytes() in sent for f in files)


def test_cli_rejects_a_malformed_size() -> None:
    with pytest.raises(SystemExit):
        wifi_parser().parse_args(["liveview", "--snapshot", "x.jpg", "--size", "640x480"])


def test_cli_without_a_stream_fails_with_a_one_line_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from camera2mqtt.cameras.base import CameraTimeout

    with wifi_sim.WifiSimulator(liveview=None) as sim:
        target = tmp_path / "snap.jpg"
        with pytest.raises(CameraTimeout, match="firewall"):
            run(sim, "--snapshot", str(target), "--first-frame-timeout", "0.5")
    assert not target.exists()
    assert "Counters: frames ok 0" in capsys.readouterr().out
