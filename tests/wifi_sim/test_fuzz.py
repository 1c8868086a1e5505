"""Whatever a client sends, the simulator answers like a camera: never a 500, never silence."""

from __future__ import annotations

import contextlib
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camera2mqtt.sim.wifi import WifiSimulator
from tests.wifi_sim.conftest import raw_get, raw_request

CAMERA_STATUSES = {200, 202, 400, 404, 414, 501, 520}
COMMANDS = [
    "switch_cammode",
    "get_imglist",
    "get_thumbnail",
    "get_resizeimg",
    "get_camprop",
    "set_camprop",
    "exec_takemisc",
    "exec_takemotion",
    "exec_shutter",
    "set_utctimediff",
    "exec_erase",
    "get_caminfo",
    "nonsense",
]
NAMES = ["mode", "lvqty", "DIR", "size", "com", "propname", "port", "utctime", "diff", "x"]
VALUES = st.one_of(
    st.sampled_from(
        [
            "rec",
            "play",
            "shutter",
            "/DCIM",
            "/DCIM/100OLYMP",
            "1024",
            "desclist",
            "get",
            "startliveview",
            "starttake",
            "1st2ndpush",
            "takemode",
            "40000",
            "0640x0480",
        ]
    ),
    st.text(max_size=12),
)


@pytest.fixture(scope="module")
def fuzz_sim():
    with WifiSimulator("e-m1-iii") as sim:
        yield sim


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    command=st.sampled_from(COMMANDS),
    args=st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=4),
)
def test_any_query_gets_a_camera_answer(fuzz_sim, command, args):
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in args)
    reply = raw_get(fuzz_sim, f"/{command}.cgi" + (f"?{query}" if query else ""))
    assert reply.status in CAMERA_STATUSES
    assert reply.header("Connection") == "close"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(line=st.binary(min_size=1, max_size=200))
def test_garbage_requests_do_not_take_the_server_down(fuzz_sim, line):
    # no answer, or one that is not HTTP: both are fine for garbage
    with contextlib.suppress(OSError, ValueError):
        raw_request(fuzz_sim, line + b"\r\n\r\n", timeout=10)
    assert raw_get(fuzz_sim, "/get_caminfo.cgi").status == 200
