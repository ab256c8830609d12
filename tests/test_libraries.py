"""Library defaults side by side (chapter 11): the formulas, the outage play, the picture."""

from __future__ import annotations

import base64
import inspect
import itertools
import math
import os
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from wslearn.backoff import BackoffPolicy
from wslearn.libraries import (
    COURSE,
    LIBRARIES,
    MAX_OUTAGE,
    ReactUseWebSocketProfile,
    ReconnectingWebSocketProfile,
    SocketIOProfile,
    WebsocketsProfile,
    outage_schedule,
    side_by_side,
    what_to_match,
)
from wslearn.libraries_svg import show_libraries

BY_NAME = {p.label: p for p in LIBRARIES}
RWS = BY_NAME["reconnecting-websocket"]
PARTY = BY_NAME["partysocket"]
RUW = BY_NAME["react-use-websocket (defaults)"]
RUW_ON = BY_NAME["react-use-websocket (shouldReconnect: () => true)"]
SIO = BY_NAME["socket.io-client"]
WS = next(p for p in LIBRARIES if isinstance(p, WebsocketsProfile))


def gaps(times: tuple[float, ...]) -> list[float]:
    return [round(b - a, 3) for a, b in zip((0.0, *times), times, strict=False)]


# -- the course's client ------------------------------------------------------------------


def test_course_follows_backoff_policy_and_gives_up():
    s = outage_schedule(COURSE, 60, seed=0)
    assert list(s.attempts) == list(itertools.accumulate(BackoffPolicy().delays()))
    assert s.attempts == (1.0, 3.0, 7.0, 15.0, 31.0)
    assert s.gave_up and s.gave_up_at == 31.0 and s.reconnected_at is None
    assert COURSE.gives_up_after == BackoffPolicy().max_attempts


def test_course_is_back_when_the_outage_is_short():
    s = outage_schedule(COURSE, 5, seed=0)
    assert s.attempts == (1.0, 3.0, 7.0) and s.reconnected_at == 7.0 and not s.gave_up


# -- reconnecting-websocket and partysocket --------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_reconnecting_websocket_draws_its_minimum_once_then_grows_by_1_3(seed):
    d = gaps(outage_schedule(RWS, 60, seed).attempts)
    assert 1.0 <= d[0] < 5.0  # 1000 + Math.random() * 4000 ms, the first retry waits it all
    for k, delay in enumerate(d, start=1):
        assert delay == pytest.approx(min(10.0, d[0] * 1.3 ** (k - 1)), abs=0.002)
    assert max(d) <= 10.0


def test_reconnecting_websocket_first_retry_waits_the_whole_drawn_minimum():
    # _connect increments _retryCount before _getNextDelay reads it: retry 1 waits min * 1.3**0
    drawn = round(1.0 + random.Random(11).random() * 4.0, 3)
    assert outage_schedule(RWS, 60, 11).attempts[0] == drawn


def test_reconnecting_websocket_each_direct_delay_call_is_a_new_page():
    rng = random.Random(3)
    firsts = {RWS.delay(1, rng) for _ in range(5)}
    assert len(firsts) == 5


def test_partysocket_ships_a_fixed_3000_ms_minimum():
    s = outage_schedule(PARTY, 60, seed=0)
    assert gaps(s.attempts)[:3] == [3.0, 3.9, 5.07]
    assert gaps(s.attempts)[-1] == 10.0
    assert s.attempts == outage_schedule(PARTY, 60, seed=99).attempts  # no jitter
    assert PARTY.min_uptime == 5.0 and PARTY.connect_timeout == 4.0
    assert PARTY.gives_up_after is None and RWS.gives_up_after is None


# -- react-use-websocket --------------------------------------------------------------------


def test_react_use_websocket_without_should_reconnect_never_retries():
    s = outage_schedule(RUW, 60, seed=0)
    assert s.attempts == () and s.gave_up and s.reconnected_at is None
    assert RUW.gives_up_after == 0


def test_react_use_websocket_with_should_reconnect_retries_every_5_s_twenty_times():
    s = outage_schedule(RUW_ON, 60, seed=0)
    assert s.attempts == tuple(float(5 * k) for k in range(1, 13))
    assert s.reconnected_at == 60.0  # exactly at the outage's end: that one succeeds
    long = outage_schedule(RUW_ON, 600, seed=0)
    assert len(long.attempts) == 20 and long.gave_up_at == 100.0


# -- socket.io-client ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_socket_io_delays_stay_within_randomization_bounds_and_the_cap(seed):
    d = gaps(outage_schedule(SIO, 120, seed).attempts)
    for k, delay in enumerate(d, start=1):
        ms = 1.0 * 2 ** (k - 1)
        assert min(ms * 0.5, 5.0) <= delay + 0.0015
        assert delay <= min(ms * 1.5, 5.0) + 0.0015
    assert all(x == 5.0 for x in d[4:])  # 16 s -/+ 50% is always over the 5 s cap


def test_socket_io_backoff_matches_backo2_step_by_step():
    rng, ref = random.Random(7), random.Random(7)
    for k in range(1, 8):
        rand = ref.random()
        ms = 1000 * 2 ** (k - 1)
        dev = math.floor(rand * 0.5 * ms)
        ms = ms - dev if math.floor(rand * 10) % 2 == 0 else ms + dev
        assert SIO.delay(k, rng) == int(min(ms, 5000)) / 1000


def test_jitter_is_deterministic_by_seed():
    for p in LIBRARIES:
        assert outage_schedule(p, 60, 5) == outage_schedule(p, 60, 5)
    assert outage_schedule(SIO, 60, 1).attempts != outage_schedule(SIO, 60, 2).attempts
    assert show_libraries(60, 4).to_svg() == show_libraries(60, 4).to_svg()


# -- Python websockets ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_websockets_retries_at_once_then_random_then_golden_growth(seed):
    d = gaps(outage_schedule(WS, 600, seed).attempts)
    assert d[0] == 0.0  # the loop reconnects at once after a drop
    assert 0.0 <= d[1] < 5.0
    expected = [3.1 * 1.618**j for j in range(len(d) - 2)]
    for got, want in zip(d[2:], expected, strict=True):
        assert got == pytest.approx(min(want, 90.0), abs=0.002)
    assert d[-1] == 90.0


@pytest.mark.skipif(
    any(k.startswith("WEBSOCKETS_BACKOFF") for k in os.environ),
    reason="WEBSOCKETS_BACKOFF_* set: the installed defaults are overridden",
)
def test_websockets_profile_matches_the_installed_backoff():
    import websockets.client as wsc

    params = inspect.signature(wsc.backoff).parameters
    assert params["initial_delay"].default == WS.initial_delay
    assert params["min_delay"].default == WS.min_delay
    assert params["max_delay"].default == WS.max_delay
    assert params["factor"].default == WS.factor
    real = wsc.backoff()
    assert 0 <= next(real) < WS.initial_delay
    rng = random.Random(0)
    for retry in range(3, 20):
        assert next(real) == WS.delay(retry, rng)


# -- what_to_match: the options really reproduce the course's schedule ------------------------


def _numbers(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"(\w+): (\d+(?:\.\d+)?)", text)}


def test_matching_options_reproduce_the_course_schedule():
    course = outage_schedule(COURSE, 60, 0)
    for p in (RWS, PARTY):
        o = _numbers(what_to_match(p))
        assert isinstance(p, ReconnectingWebSocketProfile)
        matched = replace(
            p, min_delay=o["minReconnectionDelay"] / 1000,
            grow_factor=o["reconnectionDelayGrowFactor"],
            max_delay=o["maxReconnectionDelay"] / 1000, max_retries=int(o["maxRetries"]))
        assert outage_schedule(matched, 60, 0).attempts == course.attempts
        assert outage_schedule(matched, 60, 0).gave_up_at == course.gave_up_at
    o = _numbers(what_to_match(SIO))
    assert isinstance(SIO, SocketIOProfile)
    matched_sio = replace(
        SIO, reconnection_delay=o["reconnectionDelay"] / 1000,
        delay_max=o["reconnectionDelayMax"] / 1000,
        randomization=o["randomizationFactor"], attempts=int(o["reconnectionAttempts"]))
    for seed in range(5):
        assert outage_schedule(matched_sio, 60, seed).attempts == course.attempts
    assert "shouldReconnect: () => true" in what_to_match(RUW)
    assert "reconnectAttempts: 5" in what_to_match(RUW_ON)
    assert "process_exception" in what_to_match(WS)
    assert what_to_match(COURSE).startswith("nothing")


# -- the table and the picture ---------------------------------------------------------------


def test_side_by_side_rows():
    rows = side_by_side(60, 0)
    assert [r.library for r in rows] == [COURSE.label, *(p.label for p in LIBRARIES)]
    course, *_ = rows
    assert (course.retries_during_outage, course.first_retry, course.last_failed_retry) == (
        5, 1.0, 31.0)
    assert "after 5" in course.gives_up
    ruw = rows[1 + LIBRARIES.index(RUW)]
    assert ruw.retries_during_outage == 0 and ruw.gives_up == "never retries"
    ws = rows[1 + LIBRARIES.index(WS)]
    assert ws.first_retry == 0.0 and ws.reconnected_at is not None and ws.reconnected_at > 60
    assert all(r.as_dict()["library"] == r.library for r in rows)


_CW, _SCW, _W = 6.7, 6.1, 780


@pytest.mark.parametrize(("outage", "seed"), [(60, 0), (0, 1), (5, 2), (300, 3), (MAX_OUTAGE, 4)])
def test_svg_is_well_formed_names_every_library_and_cuts_no_label(outage, seed):
    comparison = show_libraries(outage, seed)
    svg = comparison.to_svg()
    root = ET.fromstring(svg)
    text = " ".join("".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for p in (COURSE, *LIBRARIES):
        assert p.name in text and p.variant in text
    for t in root.iter("{http://www.w3.org/2000/svg}text"):
        x = float(t.get("x", "0"))
        size = float(t.get("font-size", "11"))
        width = len("".join(t.itertext())) * (_CW if size >= 11 else _SCW)
        if t.get("text-anchor") == "end":
            assert x - width >= 0, t.text
        elif t.get("text-anchor") != "middle":
            assert x + width <= _W, t.text


def test_notebook_output_is_an_img_with_a_table_and_stable_text():
    from wslearn.libraries import show_libraries as from_libraries

    assert from_libraries(60, 0) == show_libraries(60, 0)
    bundle = show_libraries()._repr_mimebundle_()
    html = bundle["text/html"]
    match = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert match and "<svg" in base64.b64decode(match.group(1)).decode()
    assert "<table" in html and "react-use-websocket" in html
    assert "0x" not in bundle["text/plain"]
    assert repr(show_libraries()) == bundle["text/plain"]
    assert "never retries" in bundle["text/plain"]


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("outage", [-1, -0.001, math.inf, math.nan, MAX_OUTAGE + 1])
def test_bad_outage_values(outage):
    with pytest.raises(ValueError, match="outage"):
        outage_schedule(COURSE, outage)
    with pytest.raises(ValueError, match="outage"):
        show_libraries(outage)


@pytest.mark.parametrize("outage", ["60", None, True])
def test_bad_outage_types(outage):
    with pytest.raises(TypeError, match="outage"):
        outage_schedule(COURSE, outage)


@pytest.mark.parametrize("seed", [1.5, "0", None, True])
def test_bad_seeds(seed):
    with pytest.raises(TypeError, match="seed must be an int"):
        outage_schedule(SIO, 60, seed)
    with pytest.raises(TypeError, match="seed"):
        show_libraries(60, seed)


def test_bad_profile_and_retry_numbers():
    with pytest.raises(TypeError, match="LibraryProfile"):
        outage_schedule("socket.io-client")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="start at 1"):
        SIO.delay(0, random.Random(0))
    with pytest.raises(TypeError, match="retry must be an int"):
        WS.delay(1.0, random.Random(0))  # type: ignore[arg-type]


def test_a_profile_that_never_waits_is_stopped():
    stuck = replace(RUW_ON, interval=0.0, attempts=10**9)
    assert isinstance(stuck, ReactUseWebSocketProfile)
    with pytest.raises(ValueError, match="retries in"):
        outage_schedule(stuck, 60)
