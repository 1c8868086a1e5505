"""The simulator's exact wire format, checked over raw sockets and plain requests."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime
from pathlib import Path

import pytest
import requests
from PIL import Image

from camera2mqtt.sim.images import make_jpeg
from camera2mqtt.sim.wifi import WifiSimulator
from camera2mqtt.sim.wifi.state import fat_date, fat_time
from tests.wifi_sim.conftest import HTTP_TIMEOUT, raw_get, raw_request

REAL_EM1III_SHA256 = "69509443cff0bb2c189ca3f2962469e1dc3f8b2cbb331e4f89a3708a7b8022a8"
LINE = re.compile(r"^(/[^,]*),([^,]+),(\d+),(\d+),(\d+),(\d+)$")


def get(sim: WifiSimulator, path: str) -> requests.Response:
    return requests.get(sim.url + path, timeout=HTTP_TIMEOUT)


def decode_fat(date: int, time: int) -> datetime:
    return datetime(
        1980 + (date >> 9),
        (date >> 5) & 15,
        date & 31,
        time >> 11,
        (time >> 5) & 63,
        2 * (time & 31),
    )


def test_fat_encoding_matches_real_listing_vectors():
    # TG-5 PA220001.JPG,2514746,0,21846,43106 -> 2022-10-22T21:03:04 (wifi-protocol.md a.9)
    moment = datetime(2022, 10, 22, 21, 3, 4)
    assert (fat_date(moment), fat_time(moment)) == (21846, 43106)
    # assaft P7090001.ORF ... 19689,43009 -> 2018-07-09T21:00:02
    moment = datetime(2018, 7, 9, 21, 0, 2)
    assert (fat_date(moment), fat_time(moment)) == (19689, 43009)
    # odd seconds are stored halved, so they come back one second early
    assert decode_fat(21846, fat_time(datetime(2022, 10, 22, 21, 3, 5))).second == 4


def test_every_reply_says_connection_close(sim):
    for path in (
        "/get_caminfo.cgi",
        "/get_commandlist.cgi",
        "/get_imglist.cgi?DIR=/DCIM",
        "/get_camprop.cgi?com=get&propname=takemode",  # 520 in play mode
        "/no_such_command.cgi",
    ):
        reply = raw_get(sim, path)
        assert reply.header("Connection") == "close", path


def test_caminfo_is_xml_with_content_length(any_sim):
    reply = raw_get(any_sim, "/get_caminfo.cgi")
    assert reply.status == 200
    assert reply.header("Content-Type") == "text/xml"
    assert int(reply.header("Content-Length")) == len(reply.body)
    assert f"<model>{any_sim.profile.model}</model>".encode() in reply.body


def test_e_m10_iv_caminfo_is_nested():
    with WifiSimulator("e-m10-iv") as sim:
        body = get(sim, "/get_caminfo.cgi").text
    # the model is the third child, after two elements that share a tag
    assert body.index("<wifiinfo>") < body.rindex("<wifiinfo>") < body.index("<model>")


def test_e_m1_iii_commandlist_is_the_real_capture(sim):
    reply = raw_get(sim, "/get_commandlist.cgi")
    assert reply.status == 200
    assert reply.header("Content-Type") == "text/xml"
    assert hashlib.sha256(reply.body).hexdigest() == REAL_EM1III_SHA256


def test_imglist_wire_format(sim):
    reply = raw_get(sim, "/get_imglist.cgi?DIR=/DCIM/100OLYMP")
    # exactly the response head of the real capture (assaft/olyapp-sdk dumps/read_dir.txt)
    assert (reply.status, reply.reason) == (200, "OK")
    assert reply.headers == [("Content-Type", "text/plain"), ("Connection", "close")]
    text = reply.body.decode("ascii")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[0] == "VER_100"
    assert lines[-1] == ""
    files = sim.state.files
    assert len(lines[1:-1]) == len(files)
    for line in lines[1:-1]:
        directory, name, size, attribute, date, time = LINE.match(line).groups()
        path = f"{directory}/{name}"
        assert path in files
        card = sim.state.card_file(path)
        assert int(size) == card.size == files[path].stat().st_size
        assert attribute == "0"
        assert decode_fat(int(date), int(time)) == card.taken.replace(
            second=card.taken.second // 2 * 2
        )


def test_imglist_folders_have_attribute_16(sim):
    reply = raw_get(sim, "/get_imglist.cgi?DIR=/DCIM")
    lines = reply.body.decode("ascii").split("\r\n")
    assert lines[0] == "VER_100"
    directory, name, size, attribute, _date, _time = LINE.match(lines[1]).groups()
    assert (directory, name, size, attribute) == ("/DCIM", "100OLYMP", "0", "16")


def test_imglist_404_for_missing_and_empty_folders(tmp_path):
    with WifiSimulator("tg-5", images_dir=tmp_path) as sim:
        assert raw_get(sim, "/get_imglist.cgi?DIR=/DCIM").status == 404
        assert raw_get(sim, "/get_imglist.cgi?DIR=/DCIM/100OLYMP").status == 404
    with WifiSimulator("e-m1-iii") as sim:
        assert raw_get(sim, "/get_imglist.cgi?DIR=/DCIM/999NOPE").status == 404
        for path in list(sim.state.files):
            assert get(sim, f"/exec_erase.cgi?DIR={path}").status_code == 200
        assert raw_get(sim, "/get_imglist.cgi?DIR=/DCIM/100OLYMP").status == 404


def test_download_has_content_length_and_the_file_bytes(sim):
    path, local = next(iter(sim.state.files.items()))
    reply = raw_get(sim, path)
    assert reply.status == 200
    assert reply.header("Content-Type") == "image/jpeg"
    assert int(reply.header("Content-Length")) == local.stat().st_size
    assert reply.body == local.read_bytes()
    assert raw_get(sim, "/DCIM/100OLYMP/P1019999.JPG").status == 404


def test_thumbnail_is_160x120_jpeg(sim):
    path = next(iter(sim.state.files))
    response = get(sim, f"/get_thumbnail.cgi?DIR={path}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "JPEG"
        assert image.size == (160, 120)


@pytest.mark.parametrize("size", ["1024", "1600"])
def test_resizeimg_sizes_come_from_the_commandlist(sim, size):
    path = next(iter(sim.state.files))
    response = get(sim, f"/get_resizeimg.cgi?DIR={path}&size={size}")
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as image:
        assert max(image.size) == int(size)


def test_resizeimg_rejects_sizes_not_in_the_commandlist(sim):
    path = next(iter(sim.state.files))
    assert get(sim, f"/get_resizeimg.cgi?DIR={path}&size=999").status_code == 400


def test_unknown_commands_and_arguments(sim):
    assert get(sim, "/get_nothing.cgi").status_code == 404
    assert get(sim, "/get_imglist.cgi?FOLDER=/DCIM").status_code == 400
    assert get(sim, "/switch_cammode.cgi?mode=sleep").status_code == 400
    # declared order matters: lvqty comes after mode
    assert get(sim, "/switch_cammode.cgi?lvqty=0640x0480&mode=rec").status_code == 400
    assert get(sim, "/switch_cammode.cgi?mode=rec&lvqty=0640x0480").status_code == 200
    assert get(sim, "/index.html").status_code == 404


def test_post_only_commands_reject_get_and_need_content_length(sim):
    get(sim, "/switch_cammode.cgi?mode=rec")
    assert get(sim, "/set_camprop.cgi?com=set&propname=isospeedvalue").status_code == 400
    reply = raw_request(
        sim,
        b"POST /set_camprop.cgi?com=set&propname=isospeedvalue HTTP/1.1\r\n"
        b"Host: 192.168.0.10\r\n\r\n",
    )
    assert reply.status == 411


def test_long_uri_gets_414(sim):
    assert raw_get(sim, "/get_thumbnail.cgi?DIR=/DCIM/" + "A" * 200).status == 414


def test_requests_are_logged_in_order(sim):
    get(sim, "/get_caminfo.cgi")
    get(sim, "/switch_cammode.cgi?mode=rec&lvqty=0320x0240")
    requests.post(
        sim.url + "/set_camprop.cgi?com=set&propname=isospeedvalue",
        data=b"<set><value>400</value></set>",
        timeout=HTTP_TIMEOUT,
    )
    assert list(sim.requests) == [
        ("GET", "/get_caminfo.cgi"),
        ("GET", "/switch_cammode.cgi?mode=rec&lvqty=0320x0240"),
        ("POST", "/set_camprop.cgi?com=set&propname=isospeedvalue"),
    ]
    assert len(sim.requests) == 3
    sim.requests.clear()
    assert list(sim.requests) == []


def test_images_dir_is_served_and_never_written(tmp_path):
    images = tmp_path / "photos"
    images.mkdir()
    (images / "P1010001.JPG").write_bytes(make_jpeg(320, 240, "one"))
    (images / "holiday.jpeg").write_bytes(make_jpeg(320, 240, "two"))
    (images / "notes.txt").write_text("not a picture")
    before = {p.name: p.read_bytes() for p in images.iterdir()}
    with WifiSimulator("e-m1-iii", images_dir=images) as sim:
        assert set(sim.state.files) == {
            "/DCIM/100OLYMP/P1010001.JPG",
            "/DCIM/100OLYMP/holiday.jpeg",
        }
        assert get(sim, "/DCIM/100OLYMP/holiday.jpeg").content == before["holiday.jpeg"]
        get(sim, "/switch_cammode.cgi?mode=shutter")
        assert get(sim, "/exec_shutter.cgi?com=1st2ndpush").status_code == 200
        new = set(sim.state.files) - {
            "/DCIM/100OLYMP/P1010001.JPG",
            "/DCIM/100OLYMP/holiday.jpeg",
        }
        (new_path,) = new
        assert new_path.endswith("0002.JPG")
        assert sim.state.files[new_path].parent != images
        get(sim, "/switch_cammode.cgi?mode=play")
        assert get(sim, "/exec_erase.cgi?DIR=/DCIM/100OLYMP/P1010001.JPG").status_code == 200
    assert {p.name: p.read_bytes() for p in images.iterdir()} == before


def test_generated_card_is_removed_on_stop():
    sim = WifiSimulator("tg-5").start()
    locals_ = list(sim.state.files.values())
    assert locals_ and all(path.is_file() for path in locals_)
    folder = locals_[0].parent
    sim.stop()
    assert not folder.exists()
    sim.stop()  # idempotent


def test_files_are_real_jpegs_with_olympus_names(any_sim):
    for path, local in any_sim.state.files.items():
        assert re.fullmatch(r"/DCIM/100OLYMP/P[1-9A-C]\d{2}\d{4}\.JPG", path)
        with Image.open(Path(local)) as image:
            assert image.format == "JPEG"


def test_a_broken_picture_is_a_500_not_a_dead_server(tmp_path):
    (tmp_path / "P1010001.JPG").write_bytes(b"\xff\xd8 not a real jpeg \xff\xd9")
    with WifiSimulator("e-m1-iii", images_dir=tmp_path) as sim:
        reply = raw_get(sim, "/get_thumbnail.cgi?DIR=/DCIM/100OLYMP/P1010001.JPG")
        assert reply.status == 500
        assert reply.header("Connection") == "close"
        assert raw_get(sim, "/get_caminfo.cgi").status == 200


def test_a_file_gone_from_disk_is_a_404(tmp_path):
    (tmp_path / "P1010001.JPG").write_bytes(make_jpeg(64, 48, "gone"))
    with WifiSimulator("e-m1-iii", images_dir=tmp_path) as sim:
        (tmp_path / "P1010001.JPG").unlink()
        assert raw_get(sim, "/DCIM/100OLYMP/P1010001.JPG").status == 404


def test_only_loopback_addresses_are_accepted():
    from camera2mqtt.sim.wifi import SimulatorError

    for host in ("192.168.0.10", "0.0.0.0", "localhost", "::1"):
        with pytest.raises(SimulatorError, match="loopback"):
            WifiSimulator(host=host)
    with WifiSimulator(host="127.0.0.2") as sim:
        assert sim.url.startswith("http://127.0.0.2:")
        assert get(sim, "/get_caminfo.cgi").status_code == 200


def test_power_on_again_keeps_the_card_and_settings(sim):
    requests.get(sim.url + "/switch_cammode.cgi?mode=rec", timeout=HTTP_TIMEOUT)
    requests.post(
        sim.url + "/set_camprop.cgi?com=set&propname=isospeedvalue",
        data=b"<set><value>800</value></set>",
        timeout=HTTP_TIMEOUT,
    )
    files = sim.state.files
    assert get(sim, "/exec_pwoff.cgi").status_code == 202
    sim.power_on()
    assert sim.state.files == files
    assert sim.state.properties["isospeedvalue"] == "800"
    assert sim.state.mode == "play"


def test_pen_f_caminfo_is_the_real_108_bytes():
    with WifiSimulator("pen-f") as sim:
        reply = raw_get(sim, "/get_caminfo.cgi")
    assert reply.header("Content-Length") == "108"
    assert reply.body == (
        b'<?xml version="1.0"?>\r\n<caminfo>\r\n<model>PEN-F</model>\r\n'
        b"<MISOAExpComp>available</MISOAExpComp>\r\n</caminfo>\r\n"
    )


def test_pen_f_commandlist_declares_shift_jis():
    import xml.etree.ElementTree as PlainElementTree

    with WifiSimulator("pen-f") as sim:
        body = get(sim, "/get_commandlist.cgi").content
    assert body.startswith(b'<?xml version="1.0" encoding="Shift-JIS"?>')
    with pytest.raises(ValueError, match="multi-byte encodings"):
        PlainElementTree.fromstring(body)
    assert PlainElementTree.fromstring(body.decode("shift_jis")).findtext("version") == "2.60"


@pytest.mark.parametrize("model", ["e-m1-iii", "tg-5", "e-m10-iv", "pen-f"])
def test_every_listed_property_is_modelled(model):
    from camera2mqtt.sim.wifi.models import MODELS

    profile = MODELS[model]
    commands = profile.commandlist.commands
    described = set(commands["get_camprop"].values_of("com", "desc", "propname")) - {"desclist"}
    readable = set(commands["get_camprop"].values_of("com", "get", "propname"))
    settable = set(commands["set_camprop"].values_of("com", "set", "propname"))
    for name in described | readable | settable:
        assert profile.property_spec(name) is not None, name
    for name in settable:
        assert profile.property_spec(name).writable, name
    for spec in profile.properties:
        assert spec.enum is None or spec.value in spec.enum, spec.name


def test_dcf_subfolders_of_the_images_dir_are_card_folders(tmp_path):
    (tmp_path / "P1010001.JPG").write_bytes(make_jpeg(64, 48, "one"))
    (tmp_path / "101OLYMP").mkdir()
    (tmp_path / "101OLYMP" / "P1020002.JPG").write_bytes(make_jpeg(64, 48, "two"))
    (tmp_path / "holiday").mkdir()  # not a DCF name: ignored
    (tmp_path / "holiday" / "P1030003.JPG").write_bytes(make_jpeg(64, 48, "three"))
    with WifiSimulator("e-m1-iii", images_dir=tmp_path) as sim:
        root = get(sim, "/get_imglist.cgi?DIR=/DCIM").text.split("\r\n")
        assert [line.split(",")[:4] for line in root[1:-1]] == [
            ["/DCIM", "100OLYMP", "0", "16"],
            ["/DCIM", "101OLYMP", "0", "16"],
        ]
        listing = get(sim, "/get_imglist.cgi?DIR=%2FDCIM%2F101OLYMP").text
        assert "/DCIM/101OLYMP,P1020002.JPG," in listing
        requests.get(sim.url + "/switch_cammode.cgi?mode=shutter", timeout=HTTP_TIMEOUT)
        requests.get(sim.url + "/exec_shutter.cgi?com=1st2ndpush", timeout=HTTP_TIMEOUT)
        (new,) = set(sim.state.files) - {
            "/DCIM/100OLYMP/P1010001.JPG",
            "/DCIM/101OLYMP/P1020002.JPG",
        }
        assert new.startswith("/DCIM/101OLYMP/") and new.endswith("0003.JPG")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "P1010001.JPG",
        "P1020002.JPG",
        "P1030003.JPG",
    ]
