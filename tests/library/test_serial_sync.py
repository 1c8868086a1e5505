"""The sync job against the serial simulator on a pty (no folders, no Range)."""

from __future__ import annotations

from camera2mqtt.cameras.serial import SerialCamera
from camera2mqtt.sim.serial import SerialSimulator
from tests.library.conftest import files_under, sync


def test_serial_frames_are_synced_once(store, tmp_path) -> None:
    with SerialSimulator("c-2020z", idle_reset_s=None) as sim:
        camera = SerialCamera(sim.slave_path)
        camera.connect()
        try:
            out = tmp_path / "photos"
            job = sync(camera, store, out, template="{folder}/{name}")
            frames = {name: data for name, data in sim.state.frames}
            assert len(job.summary().done) == len(frames) > 0
            assert files_under(out) == {f"card/{name}": data for name, data in frames.items()}
            assert sync(camera, store, out, template="{folder}/{name}").summary().done == ()
        finally:
            camera.close()
