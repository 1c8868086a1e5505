"""The link layer against a misbehaving simulated camera: noise, silence, idle resets."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from camera2mqtt.cameras.base import CameraBusy, CameraTimeout, CameraUnreachable
from camera2mqtt.cameras.serial import SerialCamera
from camera2mqtt.cameras.serial.registers import Register
from camera2mqtt.files import TEMP_PREFIX
from camera2mqtt.sim.serial import SerialFaults, SerialSimulator

from .conftest import FAST_FAILURE

SET_INT, GET_INT, ACTION, SET_VAR, GET_VAR = range(5)
# Every wait in the driver is bounded; these only keep a broken test from running long.
SLOW = 60.0


# A long noisy session: about 1,000 garbled packets, each ended by real line silence.
@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_noisy_line_still_gives_identical_files(seed: int, tmp_path: Path) -> None:
    faults = SerialFaults(corrupt_rate=0.001, drop_rate=0.001, seed=seed)
    with (
        SerialSimulator("c-2020z", idle_reset_s=None, faults=faults) as sim,
        SerialCamera(sim.slave_path) as camera,
    ):
        assert isinstance(camera, SerialCamera)
        refs = camera.list_images()
        assert [r.name for r in refs] == [n for n, _ in sim.state.frames]
        ref = refs[2]
        path = camera.download(ref, tmp_path)
        assert path.read_bytes() == sim.state.frames[2][1]
        assert camera.thumbnail(ref).startswith(b"\xff\xd8")
        assert camera.status().frames_taken == 3
        assert camera.snapshot().startswith(b"\xff\xd8")
        (new,) = camera.shoot()
        assert (new.name, new.size) == (sim.state.frames[-1][0], len(sim.state.frames[-1][1]))
        assert camera._link is not None and camera._link.stats.failures > 0
    assert sim.protocol.naks_received > 0


def test_empty_camera_with_folders(tmp_path: Path) -> None:
    with (
        SerialSimulator("c-2020z", images_dir=tmp_path, idle_reset_s=None) as sim,
        SerialCamera(sim.slave_path) as camera,
    ):
        assert camera.list_images() == []
        assert sim.state.in_image_folder
        (ref,) = camera.shoot()
        assert ref.index == 1
        path = camera.download(ref, tmp_path / "out")
        assert path.read_bytes() == sim.state.frames[0][1]


def test_bad_checksum_is_answered_with_nak(
    sim: SerialSimulator, camera: SerialCamera, tmp_path: Path
) -> None:
    sim.faults.corrupt_packets = 2
    path = camera.download(camera.image(3), tmp_path)
    assert path.read_bytes() == sim.state.frames[2][1]
    assert sim.protocol.naks_received >= 2  # more when the driver confirms packets
    assert sim.protocol.packets_resent >= 2


def test_a_packet_repeated_after_a_lost_ack_is_kept_once(
    sim: SerialSimulator, camera: SerialCamera, tmp_path: Path
) -> None:
    sim.faults.repeat_packets = 3
    path = camera.download(camera.image(3), tmp_path)
    assert path.read_bytes() == sim.state.frames[2][1]
    assert sim.faults.repeat_packets == 0  # all three repeats were sent
    assert sim.protocol.packets_resent >= 3


def test_missing_reply_resends_the_command(sim: SerialSimulator, camera: SerialCamera) -> None:
    sim.clear_log()
    sim.faults.missing_reply = True
    assert camera.frame_count() == 3
    reads = [c for c in sim.command_log if c.opcode == GET_INT and c.register == Register.FRAMES]
    assert len(reads) == 2


def test_slow_camera_is_waited_for(sim: SerialSimulator, camera: SerialCamera) -> None:
    sim.faults.delay_s = 0.5
    assert camera.frame_count() == 3
    assert len(camera.snapshot()) > 0


def test_idle_reset_initialises_again(tmp_path: Path) -> None:
    with (
        SerialSimulator("c-2020z", idle_reset_s=0.5) as sim,
        SerialCamera(sim.slave_path) as camera,
    ):
        assert isinstance(camera, SerialCamera)
        assert sim.wait_until(lambda: sim.protocol.idle_resets == 1, SLOW)
        assert not sim.in_session
        path = camera.download(camera.image(3), tmp_path)
        assert path.read_bytes() == sim.state.frames[2][1]
        assert camera.line_speed == 115200
        assert camera._link is not None and camera._link.stats.reinits == 1


def test_many_idle_resets_over_a_long_session(tmp_path: Path) -> None:
    with (
        SerialSimulator("c-2020z", idle_reset_s=0.5) as sim,
        SerialCamera(sim.slave_path) as camera,
    ):
        for resets in range(1, 6):
            assert sim.wait_until(lambda n=resets: sim.protocol.idle_resets >= n, SLOW)
            assert camera.frame_count() == 3
        assert camera._link is not None and camera._link.stats.reinits >= 5


def test_no_second_init_without_0xff(sim: SerialSimulator, camera: SerialCamera) -> None:
    """Some models stop talking after a second init: timeouts alone must not cause one."""
    sim.faults.missing_reply = True
    camera.status()
    sim.faults.delay_s = 0.1
    camera.list_images()
    assert camera._link is not None and camera._link.stats.reinits == 0


def test_speed_falls_back_to_what_the_camera_accepts() -> None:
    with (
        SerialSimulator("c-420l", idle_reset_s=None) as sim,
        SerialCamera(sim.slave_path) as camera,
    ):
        assert isinstance(camera, SerialCamera)
        assert camera.line_speed == 57600 == sim.host_speed
        speeds = [
            c.argument[0] for c in sim.command_log if c.register == Register.SPEED and c.first
        ]
        assert speeds == [5, 4]  # 115200 refused, 57600 taken
        ref = camera.image(1)
        assert ref.timestamp is None  # this model has no picture summary
        assert camera.read_image(1) == sim.state.frames[0][1]


def test_model_quirks_avoid_refused_requests() -> None:
    with SerialSimulator("epson-650", idle_reset_s=None) as sim:
        with SerialCamera(sim.slave_path, model="epson-650") as camera:
            assert isinstance(camera, SerialCamera)
            assert camera.line_speed == 38400
            status = camera.status()
            assert status.card_present is None  # no register 51 on this model
            assert status.frames_taken == 3
        asked = {(c.opcode, c.register) for c in sim.command_log}
        assert (GET_INT, Register.CARD) not in asked
        speeds = [c.argument[0] for c in sim.command_log if c.register == Register.SPEED]
        assert speeds[0] == 3  # 38400 straight away


def test_configured_lower_speed_is_kept(sim: SerialSimulator) -> None:
    with SerialCamera(sim.slave_path, speed=19200) as camera:
        assert isinstance(camera, SerialCamera)
        assert camera.line_speed == 19200
        assert camera.frame_count() == 3
    assert not [c for c in sim.command_log if c.register == Register.SPEED]
    assert sim.command_log[0].first  # the first command opens the session with 0x53


def test_port_that_does_not_exist() -> None:
    started = time.monotonic()
    with pytest.raises(CameraUnreachable, match="No such file"):
        SerialCamera("/dev/does-not-exist-camera2mqtt").connect()
    assert time.monotonic() - started < 5


def test_busy_port(sim: SerialSimulator, camera: SerialCamera) -> None:
    other = SerialCamera(sim.slave_path)
    with pytest.raises(CameraBusy, match="in use"):
        other.connect()
    other.close()
    assert camera.frame_count() == 3  # the holder is not disturbed


def test_port_is_released_on_every_exit(sim: SerialSimulator) -> None:
    sim.faults.missing_reply = True  # the init byte goes unanswered once
    first = SerialCamera(sim.slave_path, timeouts=FAST_FAILURE)
    first.connect()
    first.close()
    with SerialCamera(sim.slave_path) as again:
        assert isinstance(again, SerialCamera)
        assert again.frame_count() == 3


def test_silent_port_fails_in_bounded_time() -> None:
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        started = time.monotonic()
        camera = SerialCamera(path, timeouts=FAST_FAILURE)
        with pytest.raises(CameraUnreachable, match="No camera answers"):
            camera.connect()
        assert time.monotonic() - started < 10
        # The port was released: it can be opened again at once.
        with pytest.raises(CameraUnreachable):
            SerialCamera(path, timeouts=FAST_FAILURE).connect()
    finally:
        os.close(master)
        os.close(slave)


def test_camera_going_silent_mid_download_leaves_no_file(
    sim: SerialSimulator, tmp_path: Path
) -> None:
    camera = SerialCamera(sim.slave_path, timeouts=FAST_FAILURE)
    camera.connect()
    try:

        def progress(done: int, total: int) -> None:
            if done > 50_000:
                sim.faults.drop_rate = 1.0

        started = time.monotonic()
        with pytest.raises(CameraTimeout):
            camera.download(camera.image(1), tmp_path, progress=progress)
        assert time.monotonic() - started < SLOW
        assert list(tmp_path.iterdir()) == []
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]
    finally:
        sim.faults.clear()
        camera.close()


def test_frames_taken_falls_back_to_register_40(sim: SerialSimulator, camera: SerialCamera) -> None:
    # A model that rejects register 10 (the simulator answers it with DC1).
    sim.state.profile = dataclasses.replace(sim.state.profile, unsupported=frozenset({10}))
    sim.clear_log()
    assert camera.status().frames_taken == 3
    reads = [c.register for c in sim.command_log if c.opcode == GET_INT]
    assert Register.FRAMES in reads and Register.FRAMES_TAKEN in reads
