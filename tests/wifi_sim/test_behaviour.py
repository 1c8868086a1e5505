"""Mode state machine, shooting, properties, clock, power and live view of the simulator."""

from __future__ import annotations

import re
import socket
from datetime import datetime

import pytest
import requests
from defusedxml import ElementTree

from camera2mqtt.sim.wifi import WifiSimulator
from camera2mqtt.sim.wifi.models import STARTTAKE_RESPONSE
from tests.wifi_sim.conftest import HTTP_TIMEOUT, FakeStreamer, raw_get

OLYMPUS_NAME = re.compile(r"^/DCIM/100OLYMP/P([1-9A-C])(\d{2})(\d{4})\.JPG$")


def get(sim: WifiSimulator, path: str) -> requests.Response:
    return requests.get(sim.url + path, timeout=HTTP_TIMEOUT)


def set_prop(sim: WifiSimulator, name: str, value: str) -> requests.Response:
    return requests.post(
        f"{sim.url}/set_camprop.cgi?com=set&propname={name}",
        data=f'<?xml version="1.0"?>\r\n<set>\r\n<value>{value}</value>\r\n</set>\r\n'.encode(),
        headers={"Content-Type": "text/plain;charset=utf-8"},
        timeout=HTTP_TIMEOUT,
    )


def assert_wrong_mode(response: requests.Response) -> None:
    assert response.status_code == 520
    assert response.headers["Content-Type"] == "text/xml"
    root = ElementTree.fromstring(response.content)
    assert root.findtext("errorcode") == "1001"
    assert root.findtext("errormsg") == "WIFI_INTERNAL_ERROR"


def test_starts_in_play_mode(any_sim):
    assert any_sim.state.mode == "play"


@pytest.mark.parametrize(
    ("mode", "path"),
    [
        ("play", "/get_camprop.cgi?com=get&propname=takemode"),
        ("play", "/exec_takemisc.cgi?com=startliveview&port=40000"),
        ("play", "/exec_shutter.cgi?com=1st2ndpush"),
        ("rec", "/exec_shutter.cgi?com=1st2ndpush"),
        ("rec", "/get_imglist.cgi?DIR=/DCIM"),
        ("rec", "/set_utctimediff.cgi?utctime=20240102T030405&diff=%2B0100"),
        ("shutter", "/get_imglist.cgi?DIR=/DCIM"),
        ("shutter", "/get_camprop.cgi?com=desc&propname=desclist"),
        ("shutter", "/exec_takemotion.cgi?com=starttake"),
    ],
)
def test_commands_in_the_wrong_mode_get_520_1001(sim, mode, path):
    assert get(sim, f"/switch_cammode.cgi?mode={mode}").status_code == 200
    assert_wrong_mode(get(sim, path))


def test_downloads_need_play_mode(sim):
    path = next(iter(sim.state.files))
    get(sim, "/switch_cammode.cgi?mode=rec")
    assert_wrong_mode(get(sim, path))
    get(sim, "/switch_cammode.cgi?mode=play")
    assert get(sim, path).status_code == 200


def test_caminfo_and_commandlist_work_in_every_mode(sim):
    for mode in ("play", "rec", "shutter"):
        get(sim, f"/switch_cammode.cgi?mode={mode}")
        assert get(sim, "/get_caminfo.cgi").status_code == 200
        assert get(sim, "/get_commandlist.cgi").status_code == 200


def test_rec_keeps_its_lvqty_until_play(sim):
    get(sim, "/switch_cammode.cgi?mode=rec&lvqty=0320x0240")
    assert sim.state.lvqty == "0320x0240"
    assert get(sim, "/switch_cammode.cgi?mode=rec&lvqty=1280x0960").status_code == 200
    assert sim.state.lvqty == "0320x0240"
    get(sim, "/switch_cammode.cgi?mode=play")
    get(sim, "/switch_cammode.cgi?mode=rec&lvqty=1280x0960")
    assert sim.state.lvqty == "1280x0960"


@pytest.mark.parametrize("model", ["e-m1-iii", "tg-5"])
def test_shutter_mode_shot_creates_the_next_file(model):
    with WifiSimulator(model) as sim:
        before = set(sim.state.files)
        counters = [int(OLYMPUS_NAME.match(p).group(3)) for p in before]
        get(sim, "/switch_cammode.cgi?mode=shutter")
        assert get(sim, "/exec_shutter.cgi?com=1st2ndpush").status_code == 200
        assert get(sim, "/exec_shutter.cgi?com=2nd1strelease").status_code == 200
        (new,) = set(sim.state.files) - before
        month, day, counter = OLYMPUS_NAME.match(new).groups()
        assert int(counter) == max(counters) + 1
        taken = sim.state.card_file(new).taken
        assert (month, int(day)) == ("123456789ABC"[taken.month - 1], taken.day)
        get(sim, "/switch_cammode.cgi?mode=play")
        listing = get(sim, "/get_imglist.cgi?DIR=/DCIM/100OLYMP").text
        assert new.rsplit("/", 1)[1] in listing
        assert get(sim, new).content[:2] == b"\xff\xd8"


def test_half_press_then_full_press_shoots_once(sim):
    before = len(sim.state.files)
    get(sim, "/switch_cammode.cgi?mode=shutter")
    get(sim, "/exec_shutter.cgi?com=1stpush")
    assert len(sim.state.files) == before
    get(sim, "/exec_shutter.cgi?com=2ndpush")
    get(sim, "/exec_shutter.cgi?com=2ndrelease")
    get(sim, "/exec_shutter.cgi?com=1strelease")
    assert len(sim.state.files) == before + 1


def test_each_1st2ndpush_shoots_even_without_a_release(sim):
    before = len(sim.state.files)
    get(sim, "/switch_cammode.cgi?mode=shutter")
    get(sim, "/exec_shutter.cgi?com=1st2ndpush")
    assert sim.state.shutter_button == "full"
    get(sim, "/exec_shutter.cgi?com=1st2ndpush")
    assert len(sim.state.files) == before + 2
    get(sim, "/exec_shutter.cgi?com=2nd1strelease")
    assert sim.state.shutter_button == "released"
    get(sim, "/exec_shutter.cgi?com=2ndpush")  # from released straight to full: shoots
    get(sim, "/exec_shutter.cgi?com=2ndpush")  # still held: nothing new
    assert len(sim.state.files) == before + 3


def test_e_m10_iv_has_no_shutter_mode_and_shoots_with_starttake():
    streamer = FakeStreamer()
    with WifiSimulator("e-m10-iv", liveview=streamer) as sim:
        assert not sim.profile.has_shutter_mode
        assert get(sim, "/switch_cammode.cgi?mode=shutter").status_code == 400
        assert get(sim, "/exec_shutter.cgi?com=1st2ndpush").status_code == 404
        get(sim, "/switch_cammode.cgi?mode=rec&lvqty=0640x0480")
        # starttake without live view running is refused
        assert get(sim, "/exec_takemotion.cgi?com=starttake").status_code == 520
        before = set(sim.state.files)
        assert get(sim, "/exec_takemisc.cgi?com=startliveview&port=40000").status_code == 200
        reply = raw_get(sim, "/exec_takemotion.cgi?com=starttake")
        assert reply.status == 200
        assert reply.body == STARTTAKE_RESPONSE
        assert reply.header("Content-Length") == "152"
        assert reply.header("Content-Type") == "text/xml"
        assert len(set(sim.state.files) - before) == 1
        assert get(sim, "/exec_takemotion.cgi?com=stoptake").status_code == 200
        assert get(sim, "/exec_takemisc.cgi?com=stopliveview").status_code == 200
        assert not sim.state.liveview_running


def test_liveview_start_stop_and_leaving_rec():
    streamer = FakeStreamer()
    with WifiSimulator("e-m1-iii", liveview=streamer) as sim:
        get(sim, "/switch_cammode.cgi?mode=rec&lvqty=0800x0600")
        assert get(sim, "/exec_takemisc.cgi?com=startliveview&port=40123").status_code == 200
        assert sim.state.liveview_running
        assert streamer.calls == [("start", ("127.0.0.1", 40123), "0800x0600")]
        assert get(sim, "/exec_takemisc.cgi?com=startliveview&port=nope").status_code == 400
        get(sim, "/switch_cammode.cgi?mode=play")
        assert not sim.state.liveview_running
        assert streamer.calls[-1] == ("stop",)
        assert_wrong_mode(get(sim, "/exec_takemisc.cgi?com=stopliveview"))


def test_liveview_state_is_tracked_without_a_streamer(sim):
    get(sim, "/switch_cammode.cgi?mode=rec")
    assert get(sim, "/exec_takemisc.cgi?com=startliveview&port=40000").status_code == 200
    assert sim.state.liveview_running
    assert sim.state.liveview_dest == ("127.0.0.1", 40000)
    get(sim, "/exec_takemisc.cgi?com=stopliveview")
    assert not sim.state.liveview_running


def test_getlastjpg_returns_the_newest_picture(sim):
    get(sim, "/switch_cammode.cgi?mode=rec")
    newest = max(sim.state.files, key=lambda p: sim.state.card_file(p).taken)
    response = get(sim, "/exec_takemisc.cgi?com=getlastjpg")
    assert response.content == sim.state.files[newest].read_bytes()


def test_desclist_format(any_sim):
    get(any_sim, "/switch_cammode.cgi?mode=rec")
    response = get(any_sim, "/get_camprop.cgi?com=desc&propname=desclist")
    assert response.status_code == 200
    root = ElementTree.fromstring(response.content)
    assert root.tag == "desclist"
    descs = root.findall("desc")
    assert descs
    attributes = {d.findtext("attribute") for d in descs}
    assert attributes == {"get", "getset"}
    for desc in descs:
        name = desc.findtext("propname")
        spec = any_sim.profile.property_spec(name)
        assert desc.findtext("value") == spec.value
        enum = desc.findtext("enum")
        assert (enum.split(" ") if enum is not None else None) == (
            list(spec.enum) if spec.enum is not None else None
        )


def test_get_and_set_properties(any_sim):
    get(any_sim, "/switch_cammode.cgi?mode=rec")
    response = get(any_sim, "/get_camprop.cgi?com=get&propname=isospeedvalue")
    assert response.text == '<?xml version="1.0"?><get><value>Auto</value></get>'
    assert set_prop(any_sim, "isospeedvalue", "400").status_code == 200
    assert any_sim.state.properties["isospeedvalue"] == "400"
    response = get(any_sim, "/get_camprop.cgi?com=get&propname=isospeedvalue")
    assert "<value>400</value>" in response.text
    assert set_prop(any_sim, "isospeedvalue", "7").status_code == 400
    assert set_prop(any_sim, "cameradrivemode", "normal").status_code == 400  # get only
    assert set_prop(any_sim, "nosuchprop", "1").status_code == 400
    assert any_sim.state.properties["isospeedvalue"] == "400"
    assert get(any_sim, "/get_camprop.cgi?com=get&propname=nosuchprop").status_code == 400


def test_set_camprop_accepts_the_short_body_and_rejects_garbage(sim):
    get(sim, "/switch_cammode.cgi?mode=rec")
    url = f"{sim.url}/set_camprop.cgi?com=set&propname=wbvalue"
    ok = requests.post(url, data=b"<set><value>18</value></set>", timeout=HTTP_TIMEOUT)
    assert ok.status_code == 200
    bad = requests.post(url, data=b"<set><value>18</set>", timeout=HTTP_TIMEOUT)
    assert bad.status_code == 400
    assert sim.state.properties["wbvalue"] == "18"


def test_set_utctimediff_moves_the_clock_for_new_files(sim):
    response = get(sim, "/set_utctimediff.cgi?utctime=20240102T030405&diff=%2B0130")
    assert response.status_code == 200
    now = sim.state.clock.now()
    assert datetime(2024, 1, 2, 4, 34, 5) <= now < datetime(2024, 1, 2, 4, 40)
    before = set(sim.state.files)
    get(sim, "/switch_cammode.cgi?mode=shutter")
    get(sim, "/exec_shutter.cgi?com=1st2ndpush")
    (newest,) = set(sim.state.files) - before
    assert OLYMPUS_NAME.match(newest).group(1, 2) == ("1", "02")
    get(sim, "/switch_cammode.cgi?mode=play")
    listing = get(sim, "/get_imglist.cgi?DIR=/DCIM/100OLYMP").text
    line = next(line for line in listing.split("\r\n") if newest.rsplit("/", 1)[1] in line)
    date = int(line.split(",")[4])
    assert (1980 + (date >> 9), (date >> 5) & 15, date & 31) == (2024, 1, 2)


def test_set_utctimediff_rejects_bad_values(sim):
    assert get(sim, "/set_utctimediff.cgi?utctime=yesterday&diff=%2B0100").status_code == 400
    assert get(sim, "/set_utctimediff.cgi?utctime=20240102T030405&diff=0100").status_code == 400


def test_power_off_answers_202_then_refuses(sim):
    port = sim.port
    reply = raw_get(sim, "/exec_pwoff.cgi")
    assert reply.status == 202
    assert reply.header("Connection") == "close"
    assert not sim.state.powered
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    sim.power_on()
    assert sim.state.powered
    assert sim.state.mode == "play"
    assert get(sim, "/get_caminfo.cgi").status_code == 200


def test_power_off_with_ble_mode_on_e_m1_iii(sim):
    assert get(sim, "/exec_pwoff.cgi?mode=withble").status_code == 202
    assert not sim.state.powered


def test_power_off_stops_live_view():
    streamer = FakeStreamer()
    with WifiSimulator("e-m1-iii", liveview=streamer) as sim:
        get(sim, "/switch_cammode.cgi?mode=rec")
        get(sim, "/exec_takemisc.cgi?com=startliveview&port=40000")
        get(sim, "/exec_pwoff.cgi")
        assert not sim.state.liveview_running
        assert streamer.calls[-1] == ("stop",)


def test_a_new_simulator_can_take_over_the_port_after_power_off(sim):
    port = sim.port
    get(sim, "/exec_pwoff.cgi")
    with WifiSimulator("e-m1-iii", port=port) as revived:
        assert get(revived, "/get_caminfo.cgi").status_code == 200


def test_erase_only_where_listed():
    with WifiSimulator("tg-5") as sim:
        path = next(iter(sim.state.files))
        assert get(sim, f"/exec_erase.cgi?DIR={path}").status_code == 404  # not in its list
        assert path in sim.state.files


def test_listed_but_unsimulated_commands_answer_501(sim):
    assert get(sim, "/get_dcffilenum.cgi").status_code == 501


def test_unused_capacity_shrinks_with_each_shot(sim):
    def unused() -> int:
        response = get(sim, "/get_unusedcapacity.cgi")
        assert response.status_code == 200
        return int(ElementTree.fromstring(response.content).text)

    before = unused()
    get(sim, "/switch_cammode.cgi?mode=shutter")
    get(sim, "/exec_shutter.cgi?com=1st2ndpush")
    shot = max(sim.state.files, key=lambda p: sim.state.card_file(p).taken)
    assert before - unused() == sim.state.card_file(shot).size
