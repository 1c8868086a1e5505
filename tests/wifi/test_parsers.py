"""The command list and image list parsers, against real camera responses."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camera2mqtt.cameras.base import InvalidCommand, ProtocolError
from camera2mqtt.cameras.wifi.commandlist import parse_commandlist
from camera2mqtt.cameras.wifi.imglist import fat_datetime, parse_imglist

DATA = Path(__file__).parent / "data"
E_M1_III = DATA / "e-m1-iii_get_commandlist.xml"
IMGLIST_DCIM = DATA / "v2.20_get_imglist_DCIM.txt"
IMGLIST_100OLYMP = DATA / "v2.20_get_imglist_DCIM_100OLYMP.txt"


@pytest.fixture(scope="module")
def em1iii():
    return parse_commandlist(E_M1_III.read_bytes())


# -- command list -------------------------------------------------------------------------


def test_every_cgi_of_the_real_e_m1_iii_list_is_registered(em1iii):
    raw = E_M1_III.read_text()
    names = re.findall(r'<cgi name="([^"]+)"', raw)
    assert len(names) == 63
    assert set(em1iii.names) == set(names)
    # The odd ones: no <http_method>, self-closing, options beside <http_method>.
    for odd in (
        "cancel_trimresize",
        "get_cameraloginfo",
        "clear_cameralogdata",
        "get_partialcameralogdata",
        "fwup_sendinfo",
        "request_getmysetdata",
    ):
        assert odd in em1iii
    assert em1iii.version == "4.40"
    assert em1iii.oitrackversion == "3.10"
    assert "cameralog" in em1iii.supports


def test_methods(em1iii):
    assert em1iii.spec("set_camprop").method == "post"
    assert em1iii.spec("get_caminfo").method == "get"
    assert em1iii.spec("cancel_trimresize").method == "get"
    assert em1iii.spec("fwup_sendsplit").method == "post"


def test_values(em1iii):
    assert em1iii.values("switch_cammode", "mode") == (
        "rec",
        "play",
        "shutter",
        "maintenance",
        "cameralog",
    )
    assert em1iii.values("switch_cammode", "lvqty", after=[("mode", "rec")]) == (
        "0320x0240",
        "0640x0480",
        "0800x0600",
        "1024x0768",
        "1280x0960",
    )
    assert em1iii.values("get_resizeimg", "size", after=[("DIR", "/DCIM/x.JPG")]) == (
        "1024",
        "1600",
        "1920",
        "2048",
    )
    assert em1iii.values("exec_pwoff", "mode") == ("withble",)


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("switch_cammode", [("mode", "rec"), ("lvqty", "0640x0480")]),
        ("switch_cammode", [("mode", "play")]),
        ("get_imglist", [("DIR", "/DCIM")]),
        ("get_resizeimg", [("DIR", "/DCIM/100OLYMP/P1.JPG"), ("size", "1024")]),
        ("set_utctimediff", [("utctime", "20240101T120000"), ("diff", "+0100")]),
        ("exec_takemotion", [("com", "starttake"), ("point", "0100x0100"), ("exposuremin", "1")]),
        ("exec_takemotion", [("com", "starttake"), ("point", "0100x0100"), ("upperlimit", "1")]),
        # cmd3 beside cmd2 under one param
        ("exec_takemotion", [("com", "startmovietake"), ("limitter", "10"), ("liveview", "on")]),
        ("exec_takemotion", [("com", "startmovietake"), ("liveview", "on")]),
        ("exec_takemisc", [("com", "supermacromfinaflock"), ("move", "near"), ("movement", "3")]),
        ("exec_takemisc", [("com", "startliveview"), ("port", "40000")]),
        ("get_camprop", [("com", "get"), ("propname", "takemode")]),
        ("set_camprop", [("com", "set"), ("propname", "isospeedvalue")]),
        # options directly under <cgi>, beside or without <http_method>
        ("get_partialcameralogdata", [("offset", "0"), ("size", "512")]),
        ("request_getmysetdata", [("mode", "myset1"), ("kind", "factory")]),
        ("get_partialmysetdata", [("kind", "current"), ("offset", "0"), ("size", "9")]),
        ("fwup_sendinfo", [("ObjectCompressSize", "100")]),
        # cmd2 beside the params of cmd1
        ("req_storegpsinfo", [("mode", "new"), ("date", "20240101")]),
        ("exec_pwoff", [("mode", "withble")]),
        ("exec_pwoff", []),
        ("cancel_trimresize", []),
    ],
)
def test_valid_commands(em1iii, command, args):
    assert em1iii.validate(command, args).name == command


def test_unknown_command_lists_valid_commands(em1iii):
    with pytest.raises(InvalidCommand) as caught:
        em1iii.validate("whatever")
    message = str(caught.value)
    assert "'whatever'" in message
    assert "valid commands: get_connectmode, switch_cammode, get_caminfo" in message
    assert "clear_cameralogdata" in caught.value.valid


def test_bad_value_lists_valid_values(em1iii):
    with pytest.raises(InvalidCommand) as caught:
        em1iii.validate("get_camprop", [("com", "get"), ("propname", "whatever")])
    message = str(caught.value)
    assert "'whatever' in propname=whatever is not supported" in message
    assert "supported: propname=touchactiveframe, propname=takemode" in message
    assert "propname=takemode" in caught.value.valid


def test_bad_key_and_order(em1iii):
    with pytest.raises(InvalidCommand, match="option 'lvqty'"):
        em1iii.validate("switch_cammode", [("lvqty", "0640x0480"), ("mode", "rec")])
    with pytest.raises(InvalidCommand, match="supported here: mode="):
        em1iii.validate("switch_cammode", [("foo", "1")])
    with pytest.raises(InvalidCommand, match="takes no further options"):
        em1iii.validate("get_caminfo", [("foo", "1")])
    # lvqty only belongs to rec
    with pytest.raises(InvalidCommand):
        em1iii.validate("switch_cammode", [("mode", "play"), ("lvqty", "0640x0480")])
    with pytest.raises(InvalidCommand, match="lvqty=0320x0240"):
        em1iii.validate("switch_cammode", [("mode", "rec"), ("lvqty", "9999x9999")])


def test_quirky_lists():
    text = (
        '<?xml version="1.0" encoding="Shift-JIS"?><oishare><version>2.60</version>'
        '<cgi name="get_caminfo"><http_method type="get"/></cgi>'
        '<cgi name="set_camprop"><http_method type="post"><cmd1 name="com">'
        '<param1 name="set"><cmd2 name="propname"><param2 name="artfilter "/>'
        '<param2 name="takemode"/></cmd2></param1></cmd1></http_method></cgi>'
        '<cgi name="cancel_trimresize"></cgi><cgi name="exec_pwoff"><http_method type="get">'
        '<cmd1 name="mode"/></http_method></cgi></oishare>'
    )
    commands = parse_commandlist(text.encode("shift_jis"))
    assert commands.version == "2.60"
    assert set(commands.names) == {
        "get_caminfo",
        "set_camprop",
        "cancel_trimresize",
        "exec_pwoff",
    }
    assert commands.allows("set_camprop", [("com", "set"), ("propname", "artfilter")])
    assert commands.allows("exec_pwoff", [("mode", "anything")])


def test_garbage_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        parse_commandlist(b"<html>oops")
    with pytest.raises(ProtocolError):
        parse_commandlist(b"<oishare></oishare>")
    with pytest.raises(ProtocolError, match="forbidden"):
        parse_commandlist('<!DOCTYPE x [<!ENTITY a "b">]><oishare>&a;</oishare>')


# -- image list ---------------------------------------------------------------------------


def test_fat_date_time_counts_seconds_twice():
    assert fat_datetime(21846, 43106) == datetime(2022, 10, 22, 21, 3, 4)
    assert fat_datetime(18228, 30168) == datetime(2015, 9, 20, 14, 46, 48)
    assert fat_datetime(19689, 43009) == datetime(2018, 7, 9, 21, 0, 2)
    assert fat_datetime(0, 0) is None  # month 0: an impossible date, not a crash


def test_seed_line():
    body = b"VER_100\r\n/DCIM/100OLYMP,PA220001.JPG,2514746,0,21846,43106\r\n"
    (entry,) = parse_imglist(body)
    assert entry.path == "/DCIM/100OLYMP/PA220001.JPG"
    assert entry.size == 2514746
    assert entry.timestamp == datetime(2022, 10, 22, 21, 3, 4)
    assert not entry.is_directory


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_real_v220_capture(line_end):
    dcim = parse_imglist(IMGLIST_DCIM.read_text().replace("\n", line_end))
    assert [(e.path, e.is_directory) for e in dcim] == [("/DCIM/100OLYMP", True)]
    text = IMGLIST_100OLYMP.read_text()
    expected = [line for line in text.splitlines()[1:] if line]
    assert len(expected) == 1107
    entries = parse_imglist(text.replace("\n", line_end))
    assert len(entries) == 1107
    assert [f"{e.directory},{e.name},{e.size}" for e in entries] == [
        ",".join(line.split(",")[:3]) for line in expected
    ]
    assert all(not e.is_directory and e.timestamp is not None for e in entries)
    assert entries[0].path == "/DCIM/100OLYMP/P7090001.ORF"
    assert entries[0].timestamp == datetime(2018, 7, 9, 21, 0, 2)
    assert entries[-1].name == "P9261067.ORF"


def test_attributes_big_sizes_and_garbled_lines():
    body = (
        "VER_100\r\n"
        "/DCIM,100OLYMP,0,16,19623,28007\r\n"
        "/DCIM,HIDDEN.DAT,10,2,19623,28007\r\n"
        "/DCIM,SYSTEM.DAT,10,4,19623,28007\r\n"
        "/DCIM,LABEL,0,8,19623,28007\r\n"
        "/DCIM/,P1010001.AVI,4294967296,32,19623,28007\r\n"
        "garbage line\r\n"
        "\r\n"
    )
    entries = parse_imglist(body)
    visible = [e for e in entries if not e.is_skipped]
    assert [e.name for e in visible] == ["100OLYMP", "P1010001.AVI"]
    assert visible[1].size == 4294967296
    assert visible[1].path == "/DCIM/P1010001.AVI"


def test_names_that_could_leave_their_folder_are_skipped():
    body = (
        "VER_100\r\n"
        "/DCIM/100OLYMP,a/b.JPG,10,0,21846,43106\r\n"
        "/DCIM/100OLYMP,..,0,16,21846,43106\r\n"
        "/DCIM/100OLYMP,x\\y.JPG,10,0,21846,43106\r\n"
        "/DCIM/100OLYMP,nul\x00.JPG,10,0,21846,43106\r\n"
        "/DCIM/100OLYMP,PA220001.JPG,2514746,0,21846,43106\r\n"
    )
    assert [e.name for e in parse_imglist(body)] == ["PA220001.JPG"]


def test_missing_header():
    with pytest.raises(ProtocolError, match="VER_100"):
        parse_imglist(b"<html></html>")


# -- robustness -----------------------------------------------------------------------------


@given(st.binary(max_size=400))
def test_imglist_garbage_is_a_protocol_error_or_entries(body):
    try:
        entries = parse_imglist(b"VER_100\r\n" + body)
    except ProtocolError:
        return
    assert all(entry.size >= 0 for entry in entries)


@given(st.text(max_size=400))
def test_commandlist_garbage_never_crashes(text):
    with contextlib.suppress(ProtocolError):
        parse_commandlist(text)


@given(st.datetimes(min_value=datetime(1980, 1, 1), max_value=datetime(2107, 12, 31, 23, 59, 58)))
def test_fat_round_trip(moment):
    moment = moment.replace(microsecond=0, second=moment.second - moment.second % 2)
    date_word = ((moment.year - 1980) << 9) | (moment.month << 5) | moment.day
    time_word = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    assert fat_datetime(date_word, time_word) == moment
