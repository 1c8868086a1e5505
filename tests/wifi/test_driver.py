"""The Wi-Fi driver against the simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from camera2mqtt.cameras.base import (
    CameraBusy,
    CameraTimeout,
    CameraUnreachable,
    Capability,
    ImageRef,
    InvalidCommand,
    TransferError,
    UnsafeFilename,
    Unsupported,
    WrongMode,
)
from camera2mqtt.cameras.wifi import WifiCamera
from camera2mqtt.files import TEMP_PREFIX
from camera2mqtt.sim.wifi.server import WifiSimulator
from tests.conftest import free_port
from tests.wifi.conftest import TIMEOUT


def commands_sent(sim: WifiSimulator) -> list[str]:
    return [path for _method, path in sim.requests]


def card(sim: WifiSimulator) -> dict[str, bytes]:
    return {path: local.read_bytes() for path, local in sim.state.files.items()}


# -- connect ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "name", "shoots_with"),
    [
        ("e-m1-iii", "E-M1MarkIII", "shutter"),
        ("tg-5", "TG-5", "shutter"),
        ("e-m10-iv", "E-M10MarkIV", "takemotion"),  # nested caminfo, no shutter mode
    ],
)
def test_connect(camera, model, name, shoots_with):
    info = camera.info
    assert info.model == name
    assert info.firmware
    for capability in (
        Capability.SHOOT,
        Capability.LIST,
        Capability.DOWNLOAD,
        Capability.THUMBNAIL,
        Capability.SET_CLOCK,
        Capability.POWER_OFF,
        Capability.PROPERTIES,
        Capability.RAW,
    ):
        assert capability in info.capabilities
    assert camera._shoot_method() == shoots_with
    assert "0640x0480" in camera.liveview_sizes()


def test_from_config(sim):
    class LiveView:
        port = 0
        size = "0320x0240"

    class Config:
        host = "127.0.0.1"
        port = sim.port
        timeout = 3.0
        liveview = LiveView()

    camera = WifiCamera.from_config(Config())
    assert (camera.host, camera.port, camera.timeout) == ("127.0.0.1", sim.port, 3.0)
    assert camera.liveview_size == "0320x0240"
    assert camera.connect().model == "E-M1MarkIII"
    camera.close()


def test_unreachable_says_what_to_check():
    camera = WifiCamera("127.0.0.1", free_port(), timeout=2.0)
    with pytest.raises(CameraUnreachable) as caught:
        camera.connect()
    message = str(caught.value)
    assert "Private mode" in message
    assert "joined the camera's network" in message
    assert "127.0.0.1" in message


def test_status_is_one_short_request(camera, sim):
    sim.requests.clear()
    status = camera.status()
    assert status.details["model"] == "E-M1MarkIII"
    assert len(sim.requests) == 1
    # before connect() it still tells who is there
    fresh = WifiCamera("127.0.0.1", sim.port, timeout=TIMEOUT)
    assert fresh.status().details["model"] == "E-M1MarkIII"


def test_status_reports_free_space_and_after_a_snapshot_the_frame_readings() -> None:
    from camera2mqtt.sim.wifi.liveview import RtpStreamer

    with WifiSimulator("e-m1-iii", liveview=RtpStreamer()) as streaming:
        camera = WifiCamera("127.0.0.1", streaming.port, timeout=TIMEOUT)
        camera.connect()
        try:
            before = camera.status()
            assert before.free_bytes == int(before.details["unused_capacity"]) > 0
            assert before.frames_left is None and before.card_state is None  # not yet seen
            assert camera.snapshot()[:2] == b"\xff\xd8"
            after = camera.status()
            # What the simulator puts in the media and max-take TLVs of each frame.
            assert after.frames_left == 999
            assert after.card_state == "ok"
        finally:
            camera.close()


def test_status_times_out_quickly(camera, sim):
    camera.status_timeout = 0.3
    sim.faults.delay_s = 3.0
    with pytest.raises(CameraUnreachable):
        camera.status()


# -- listing and downloads --------------------------------------------------------------------


def test_list_images_matches_the_card(camera, sim):
    refs = camera.list_images()
    files = sim.state.files
    assert [ref.path for ref in refs] == sorted(files)
    for ref in refs:
        assert ref.size == files[ref.path].stat().st_size
        taken = sim.state.card_file(ref.path).taken
        assert ref.timestamp == taken.replace(second=taken.second - taken.second % 2)
    assert sim.state.mode == "play"


def test_empty_card_is_no_files(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with WifiSimulator("tg-5", images_dir=empty) as sim:
        camera = WifiCamera("127.0.0.1", sim.port, timeout=TIMEOUT)
        camera.connect()
        assert camera.list_images() == []
        assert any("get_imglist.cgi?DIR=/DCIM" in path for path in commands_sent(sim))


def test_mode_switches_only_when_needed(camera, sim):
    sim.requests.clear()
    camera.list_images()
    camera.list_images()
    camera.thumbnail(camera.list_images()[0])
    switches = [p for p in commands_sent(sim) if p.startswith("/switch_cammode")]
    assert switches == ["/switch_cammode.cgi?mode=play"]


def test_download_is_byte_identical_with_camera_mtime(camera, sim, tmp_path):
    progress: list[tuple[int, int]] = []
    for ref in camera.list_images():
        path = camera.download(ref, tmp_path, progress=lambda d, t: progress.append((d, t)))
        assert path == tmp_path / ref.name
        assert path.read_bytes() == sim.state.files[ref.path].read_bytes()
        assert datetime.fromtimestamp(path.stat().st_mtime) == ref.timestamp
    assert progress[-1][0] == progress[-1][1]


def test_cut_download_leaves_nothing_and_a_rerun_completes(camera, sim, tmp_path):
    ref = camera.list_images()[0]
    sim.faults.cut_after_bytes = ref.size // 2
    with pytest.raises(TransferError, match="Run the download again"):
        camera.download(ref, tmp_path)
    assert list(tmp_path.iterdir()) == []
    sim.faults.reset()
    path = camera.download(ref, tmp_path)
    assert path.read_bytes() == sim.state.files[ref.path].read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [ref.name]


def test_cut_download_keeps_an_earlier_complete_copy(camera, sim, tmp_path):
    ref = camera.list_images()[0]
    good = camera.download(ref, tmp_path).read_bytes()
    sim.faults.cut_after_bytes = 1000
    with pytest.raises(TransferError):
        camera.download(ref, tmp_path)
    assert (tmp_path / ref.name).read_bytes() == good
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_download_size_mismatch_with_listing(camera, sim, tmp_path):
    ref = camera.list_images()[0]
    wrong = ImageRef(ref.path, ref.size + 1, ref.timestamp)
    with pytest.raises(TransferError, match="list the images again"):
        camera.download(wrong, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "path",
    ["/DCIM/../../etc/passwd", "/DCIM/100OLYMP/..", "DCIM/x.JPG", "/DCIM/a\x00b.JPG", "/DCIM/"],
)
def test_unsafe_paths_are_refused(camera, sim, tmp_path, path):
    sim.requests.clear()
    with pytest.raises(UnsafeFilename):
        camera.download(ImageRef(path, 10), tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert not [p for p in commands_sent(sim) if "passwd" in p or "x.JPG" in p]


def test_slow_download_still_completes(camera, sim, tmp_path):
    ref = camera.list_images()[0]
    sim.faults.throttle_bytes_per_s = 4 * ref.size  # about a quarter of a second
    path = camera.download(ref, tmp_path)
    assert path.read_bytes() == sim.state.files[ref.path].read_bytes()


def test_thumbnail_and_resized_image(camera, sim):
    ref = camera.list_images()[0]
    assert camera.thumbnail(ref).startswith(b"\xff\xd8")
    assert camera.resize_sizes() == ("1024", "1600", "1920", "2048")
    resized = camera.resized_image(ref, 1024)
    assert resized.startswith(b"\xff\xd8")
    assert "/get_resizeimg.cgi?DIR=/DCIM/100OLYMP/" in commands_sent(sim)[-1]
    with pytest.raises(InvalidCommand, match="size=1024, size=1600"):
        camera.resized_image(ref, 999)


# -- faults -----------------------------------------------------------------------------------


def test_503_on_a_read_is_retried(camera, sim):
    sim.faults.fail_503 = 1
    assert camera.list_images()


def test_persistent_503_is_a_clear_error(camera, sim):
    sim.faults.fail_503 = 10
    with pytest.raises(CameraBusy, match="overloaded"):
        camera.list_images()


def test_503_on_the_shutter_is_not_retried(camera, sim):
    camera.list_images()
    camera._switch("shutter")
    sim.requests.clear()
    sim.faults.fail_503 = 1
    with pytest.raises(CameraBusy):
        camera._send("exec_shutter", [("com", "1st2ndpush")])
    assert len(sim.requests) == 1


def test_timeout_is_a_clear_error(sim):
    camera = WifiCamera("127.0.0.1", sim.port, timeout=0.5)
    camera.connect()
    sim.faults.delay_s = 2.0
    with pytest.raises(CameraTimeout, match="stopped answering"):
        camera.set_clock()


# -- modes ------------------------------------------------------------------------------------


def test_camera_mode_changed_behind_our_back(camera, sim):
    camera.get_property("takemode")
    assert camera.mode == "rec"
    sim.state.switch_mode("play", None)  # someone pressed a button on the camera
    assert camera.get_property("takemode").value == "P"
    assert sim.state.mode == "rec"


def test_raw_in_the_wrong_mode_names_the_modes(camera, sim):
    camera.raw("switch_cammode", {"mode": "play"})
    with pytest.raises(WrongMode, match="wrong mode") as caught:
        camera.raw("get_camprop", {"com": "get", "propname": "takemode"})
    assert "switch_cammode mode=rec" in str(caught.value)
    assert caught.value.mode == "rec"
    camera.raw("switch_cammode", {"mode": "rec"})
    with pytest.raises(WrongMode, match="get_imglist needs play mode") as caught:
        camera.raw("get_imglist", {"DIR": "/DCIM"})
    assert caught.value.mode == "play"
    reply = camera.raw("get_camprop", [("com", "get"), ("propname", "takemode")])
    assert b"<value>P</value>" in reply.body
    assert reply.is_text


def test_raw_switch_is_tracked(camera, sim):
    camera.raw("switch_cammode", {"mode": "rec"})
    assert camera.mode == "rec"
    sim.requests.clear()
    camera.properties()
    assert not [p for p in commands_sent(sim) if p.startswith("/switch_cammode")]


# -- validation -------------------------------------------------------------------------------


def test_validation_lists_valid_commands_and_values(camera, sim):
    sim.requests.clear()
    with pytest.raises(InvalidCommand, match="valid commands: get_connectmode, switch_cammode"):
        camera.raw("whatever")
    with pytest.raises(InvalidCommand) as caught:
        camera.raw("get_camprop", {"com": "get", "propname": "whatever"})
    assert "supported: propname=touchactiveframe, propname=takemode" in str(caught.value)
    with pytest.raises(InvalidCommand, match="POST"):
        camera.raw("set_camprop", {"com": "set", "propname": "takemode"})
    assert len(sim.requests) == 0  # nothing invalid reached the camera


def test_raw_binary_reply(camera, sim):
    ref = camera.list_images()[0]
    reply = camera.raw("get_thumbnail", {"DIR": ref.path})
    assert not reply.is_text
    assert reply.content_type == "image/jpeg"
    assert reply.body.startswith(b"\xff\xd8")


# -- properties -------------------------------------------------------------------------------


def test_properties(camera, sim):
    props = {p.name: p for p in camera.properties()}
    assert sim.state.mode == "rec"
    iso = props["isospeedvalue"]
    assert iso.writable and "200" in iso.allowed and iso.value == "Auto"
    assert not props["noisereduction"].writable
    drive = props["cameradrivemode"].allowed  # the camera's enum repeats values
    assert len(drive) == len(set(drive)) and "continuous" in drive
    assert camera.get_property("takemode").value == "P"
    camera.set_property("isospeedvalue", "400")
    assert sim.state.properties["isospeedvalue"] == "400"
    assert camera.get_property("isospeedvalue").value == "400"
    sent = [p for m, p in sim.requests if m == "POST"]
    assert sent == ["/set_camprop.cgi?com=set&propname=isospeedvalue"]


def test_property_errors_list_valid_values(camera, sim):
    with pytest.raises(InvalidCommand, match="supported: Auto, Low, 200") as caught:
        camera.set_property("isospeedvalue", "7")
    assert "400" in caught.value.valid
    # noisereduction is read-only: set_camprop does not list it
    with pytest.raises(InvalidCommand, match="supported: propname=takemode"):
        camera.set_property("noisereduction", "on")
    with pytest.raises(InvalidCommand, match="propname=takemode"):
        camera.set_property("whatever", "1")
    with pytest.raises(InvalidCommand, match="takemode"):
        camera.get_property("whatever")
    assert "400" not in sim.state.properties.values()


# -- shooting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["e-m1-iii", "tg-5"])
def test_shoot_in_shutter_mode(camera, sim, model):
    before = set(sim.state.files)
    new = camera.shoot()
    assert len(new) == 1
    assert set(sim.state.files) - before == {new[0].path}
    assert new[0].size == sim.state.files[new[0].path].stat().st_size
    sent = commands_sent(sim)
    assert "/switch_cammode.cgi?mode=shutter" in sent
    assert sent.index("/exec_shutter.cgi?com=1st2ndpush") < sent.index(
        "/exec_shutter.cgi?com=2nd1strelease"
    )


@pytest.mark.parametrize("model", ["e-m10-iv"])
def test_shoot_without_shutter_mode(camera, sim, model, udp_port):
    camera.liveview_port = udp_port
    before = set(sim.state.files)
    new = camera.shoot()
    assert [ref.path for ref in new] == sorted(set(sim.state.files) - before)
    sent = commands_sent(sim)
    assert not [p for p in sent if "exec_shutter" in p or "mode=shutter" in p]
    start = sent.index(f"/exec_takemisc.cgi?com=startliveview&port={udp_port}")
    take = sent.index("/exec_takemotion.cgi?com=starttake")
    stop = sent.index("/exec_takemisc.cgi?com=stopliveview")
    assert any(p.startswith("/switch_cammode.cgi?mode=rec&lvqty=") for p in sent[:start])
    assert start < take < stop
    assert not sim.state.liveview_running


@pytest.mark.parametrize("model", ["e-m10-iv"])
def test_shoot_while_live_view_runs_keeps_it_running(camera, sim, model, udp_port):
    camera.start_liveview(udp_port)
    camera.shoot()
    assert sim.state.liveview_running
    assert sim.state.liveview_dest[1] == udp_port
    assert sim.state.mode == "rec"


# -- live view control ------------------------------------------------------------------------


def test_liveview_start_stop_and_size_change(camera, sim, udp_port):
    camera.start_liveview(udp_port, "0320x0240")
    assert sim.state.liveview_dest == ("127.0.0.1", udp_port)
    assert (sim.state.mode, sim.state.lvqty) == ("rec", "0320x0240")
    sim.requests.clear()
    camera.start_liveview(udp_port, "1024x0768")
    assert sim.state.lvqty == "1024x0768"
    switches = [p for p in commands_sent(sim) if p.startswith("/switch_cammode")]
    assert switches == [
        "/switch_cammode.cgi?mode=play",
        "/switch_cammode.cgi?mode=rec&lvqty=1024x0768",
    ]
    camera.stop_liveview()
    assert not sim.state.liveview_running
    with pytest.raises(InvalidCommand, match="0320x0240, 0640x0480"):
        camera.start_liveview(udp_port, "9x9")


def test_liveview_resumes_after_a_play_mode_operation(camera, sim, udp_port):
    camera.start_liveview(udp_port, "0800x0600")
    camera.list_images()
    assert sim.state.liveview_dest == ("127.0.0.1", udp_port)
    assert sim.state.lvqty == "0800x0600"


# -- clock and power --------------------------------------------------------------------------


def test_set_clock(camera, sim):
    when = datetime(2021, 6, 5, 4, 3, 2)
    camera.set_clock(when)
    assert sim.state.mode == "play"
    assert abs(sim.state.clock.now() - when) < timedelta(seconds=30)
    (sent,) = [p for p in commands_sent(sim) if p.startswith("/set_utctimediff")]
    assert "&diff=%2B" in sent or "&diff=-" in sent


def wait_until(condition, timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_power_off(camera, sim):
    camera.power_off()
    # the simulator powers down just after its 202 reply
    assert wait_until(lambda: not sim.state.powered)
    with pytest.raises(CameraUnreachable):
        camera.status()


def test_power_off_with_bluetooth_only_where_listed(camera, sim):
    with WifiSimulator("tg-5") as other:
        tg5 = WifiCamera("127.0.0.1", other.port, timeout=TIMEOUT)
        tg5.connect()
        if "withble" not in tg5.commands.values("exec_pwoff", "mode"):
            with pytest.raises(InvalidCommand):
                tg5.power_off(keep_bluetooth=True)
            assert other.state.powered
    camera.power_off(keep_bluetooth=True)
    assert "/exec_pwoff.cgi?mode=withble" in commands_sent(sim)


def test_unsupported_mode_is_unsupported(camera, sim):
    with WifiSimulator("e-m10-iv") as other:
        em10 = WifiCamera("127.0.0.1", other.port, timeout=TIMEOUT)
        em10.connect()
        with pytest.raises(Unsupported, match="shutter mode"):
            em10._switch("shutter")


@pytest.mark.parametrize("model", ["e-m10-iv"])
def test_no_leftover_sockets(camera, sim, model, udp_port):
    # The live-view sink of a rec-mode shot is closed again: the port can be bound at once.
    camera.liveview_port = udp_port
    camera.shoot()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", udp_port))


def test_download_into_a_new_folder(camera, sim, tmp_path):
    ref = camera.list_images()[0]
    dest = tmp_path / "a" / "b"
    assert camera.download(ref, dest) == Path(dest / ref.name)


def test_erase_where_listed(camera, sim):
    ref = camera.list_images()[0]
    camera.erase(ref)
    assert ref.path not in sim.state.files
    with WifiSimulator("tg-5") as other:
        tg5 = WifiCamera("127.0.0.1", other.port, timeout=TIMEOUT)
        tg5.connect()
        with pytest.raises(Unsupported, match="erase is not supported by the TG-5"):
            tg5.erase(tg5.list_images()[0])


def test_download_recovers_from_a_mode_change_and_reports_missing_files(camera, sim, tmp_path):
    ref = camera.list_images()[0]
    sim.state.switch_mode("rec", None)  # behind the driver's back
    assert camera.download(ref, tmp_path).read_bytes() == sim.state.files[ref.path].read_bytes()
    sim.state.erase(ref.path)
    with pytest.raises(TransferError, match="not on the card any more"):
        camera.download(ref, tmp_path / "again")


def test_cancelled_download_leaves_nothing(camera, sim, tmp_path):
    ref = camera.list_images()[0]
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TransferError, match="cancelled"):
        camera.download(ref, tmp_path, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("model", ["e-m10-iv"])
def test_shoot_when_the_liveview_port_is_taken(camera, sim, model):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        camera.liveview_port = taken.getsockname()[1]
        assert len(camera.shoot()) == 1


@pytest.mark.parametrize("model", ["e-m10-iv"])
def test_shoot_ignores_a_configured_size_the_camera_lacks(camera, sim, model):
    camera.liveview_size = "9999x9999"
    assert len(camera.shoot()) == 1
    with pytest.raises(InvalidCommand, match="9999x9999"):
        camera.start_liveview(free_port(socket.SOCK_DGRAM))
