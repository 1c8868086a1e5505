"""Fault injection: 503s, delays, throttled and cut bodies."""

from __future__ import annotations

import time

import pytest
import requests

from tests.wifi_sim.conftest import HTTP_TIMEOUT, raw_get


def get(sim, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", HTTP_TIMEOUT)
    return requests.get(sim.url + path, **kwargs)


def test_fail_503_answers_the_next_n_requests(sim):
    sim.faults.fail_503 = 2
    assert get(sim, "/get_caminfo.cgi").status_code == 503
    assert raw_get(sim, "/get_caminfo.cgi").header("Connection") == "close"
    assert sim.faults.fail_503 == 0
    assert get(sim, "/get_caminfo.cgi").status_code == 200
    assert [path for _method, path in sim.requests] == ["/get_caminfo.cgi"] * 3


def test_delay_makes_a_short_client_timeout_expire(sim):
    sim.faults.delay_s = 3.0
    with pytest.raises(requests.exceptions.ReadTimeout):
        get(sim, "/get_caminfo.cgi", timeout=0.3)
    sim.faults.delay_s = 0.0
    assert get(sim, "/get_caminfo.cgi").status_code == 200


def test_cut_after_bytes_closes_mid_body(sim):
    path, local = next(iter(sim.state.files.items()))
    sim.faults.cut_after_bytes = 1000
    reply = raw_get(sim, path)
    assert int(reply.header("Content-Length")) == local.stat().st_size
    assert reply.body == local.read_bytes()[:1000]
    with pytest.raises(requests.exceptions.RequestException):
        get(sim, path)
    sim.faults.cut_after_bytes = None
    assert get(sim, path).content == local.read_bytes()


def test_cut_applies_to_imglist_too(sim):
    sim.faults.cut_after_bytes = 5
    assert raw_get(sim, "/get_imglist.cgi?DIR=/DCIM/100OLYMP").body == b"VER_1"


def test_throttle_slows_the_body_but_delivers_it_whole(sim):
    path, local = next(iter(sim.state.files.items()))
    size = local.stat().st_size
    rate = size  # about one second for the whole file
    sim.faults.throttle_bytes_per_s = rate
    started = time.monotonic()
    response = get(sim, path)
    elapsed = time.monotonic() - started
    assert response.content == local.read_bytes()
    # a lower bound only: a slow machine can make it longer, never shorter
    assert elapsed >= 0.8 * size / rate


@pytest.mark.parametrize(
    ("field", "value"),
    [("cut_after_bytes", -1), ("throttle_bytes_per_s", 0), ("fail_503", -1), ("delay_s", -0.5)],
)
def test_fault_fields_reject_nonsense(sim, field, value):
    with pytest.raises(ValueError):
        setattr(sim.faults, field, value)


def test_reset_clears_every_fault(sim):
    sim.faults.cut_after_bytes = 10
    sim.faults.throttle_bytes_per_s = 10
    sim.faults.fail_503 = 3
    sim.faults.delay_s = 1.0
    sim.faults.reset()
    assert (
        sim.faults.cut_after_bytes,
        sim.faults.throttle_bytes_per_s,
        sim.faults.fail_503,
        sim.faults.delay_s,
    ) == (None, None, 0, 0.0)


def test_stop_does_not_wait_for_a_throttled_download():
    import threading

    from camera2mqtt.sim.wifi import WifiSimulator

    sim = WifiSimulator("e-m1-iii").start()
    path = next(iter(sim.state.files))
    sim.faults.throttle_bytes_per_s = 1000  # the whole file would take many minutes
    outcome: list[object] = []

    def download() -> None:
        try:
            outcome.append(get(sim, path, timeout=60).content)
        except requests.exceptions.RequestException as error:
            outcome.append(error)

    worker = threading.Thread(target=download)
    worker.start()
    deadline = time.monotonic() + 30
    while not sim.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.requests, "the download never reached the simulator"
    sim.stop()
    worker.join(timeout=60)
    assert not worker.is_alive()  # stop() cut the slow reply instead of finishing it
    assert isinstance(outcome[0], requests.exceptions.RequestException) or len(outcome[0]) < (
        sim.state.card_file(path).size
    )


def test_concurrent_clients_see_a_consistent_card(sim):
    from concurrent.futures import ThreadPoolExecutor

    paths = list(sim.state.files)
    sizes = {p: sim.state.card_file(p).size for p in paths}

    def download(path: str) -> int:
        return len(get(sim, path).content)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(download, paths * 4))
    assert results == [sizes[p] for p in paths * 4]
