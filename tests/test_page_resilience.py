"""The browser page's chapter-11 behaviour, in Debian's chromium against a real ``serve()``.

Each test opens ``/lab`` with one setting of chapter 11 and breaks the server the way
the chapter does: a flapping server with and without ``minUptime`` (counted in the
server's own ``handshakes``), the recommended close table (1000 ends the session, 1008
and 4403 give up, 1012 retries, 4401 refreshes the token), resume after a drop (events
replayed, no refetch) and resync when the gap is older than the buffer, the bounded send
queue flushed after a reconnect, the browser's ``offline``/``online`` and
``visibilitychange`` signals, and jitter. The rules as data are compared with the Python
ones in ``tests/test_page_rules.py``.

Every wait is on a condition (a badge text, a timeline line, a server counter); ``speed``
compresses the schedule. Pages are closed before their server stops.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from browser_support import (
    WAIT_MS,
    Browser,
    cache_row,
    lab_pages,
    log_types,
    require_chromium,
    screenshot,
)
from browser_support import timeline as lines

from wslearn.auth import TokenIssuer
from wslearn.backoff import BackoffPolicy

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    driver = Browser(require_chromium())
    yield driver
    driver.close()


@pytest.fixture
def servers() -> Iterator[Callable[..., Any]]:
    """``servers(**serve_kwargs)``: real servers, stopped after the test's pages close."""
    from wslearn.server import serve

    started: list[Any] = []

    def start(**kwargs: Any) -> Any:
        server = serve(**kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def open_page(browser, servers) -> Iterator[Callable[..., Any]]:
    with lab_pages(browser, topics="analysis", ping=600) as opener:
        yield opener


def expect_text(locator: Any, text: Any) -> None:
    from playwright.sync_api import expect

    expect(locator).to_have_text(text, timeout=WAIT_MS)


def wait_line(page: Any, text: str, count: int = 1) -> None:
    """Wait until ``count`` timeline lines contain ``text``."""
    page.wait_for_function(
        """([text, count]) => [...document.querySelectorAll('#timeline li')]
             .filter((li) => li.textContent.includes(text)).length >= count""",
        arg=[text, count], timeout=WAIT_MS)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll a condition of the server (the page side waits with wait_for_function)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def connected(page: Any) -> None:
    expect_text(page.locator("#state"), "connected")


def delays(page: Any) -> list[float]:
    """The planned waits of the ``attempt N/M in Xs`` lines, in order."""
    found = (re.search(r"attempt \d+/\d+ in (\d+(?:\.\d+)?)s$", line) for line in lines(page))
    return [float(m.group(1)) for m in found if m]


# ---------------------------------------------------------------- flapping and minUptime


def test_flapping_server_without_min_uptime_loops_at_the_first_attempt(servers, open_page):
    """Module 07 resets attempts at every open: a server that accepts and drops at once
    is retried after 1 s for ever (the loop chapter 11 measures)."""
    server = servers()
    server.flap()
    page = open_page(server, speed=20)
    wait_line(page, "attempt 1/5 in 1s", count=8)
    assert server.handshakes >= 8
    assert set(delays(page)) == {1}  # never grows, never gives up
    assert page.locator("#notice").is_hidden()
    server.steady()
    connected(page)


def test_flapping_server_with_min_uptime_backs_off_and_gives_up(servers, open_page):
    server = servers()
    server.flap()
    page = open_page(server, speed=20, min_uptime=5)
    expect_text(page.locator("#state"), "disconnected")
    assert delays(page) == BackoffPolicy(min_uptime=5).delays() == [1, 2, 4, 8, 16]
    assert server.handshakes == 6  # the connect + 5 attempts, each accepted then dropped
    assert sum("connection lost before 5s up: attempts not reset" in x for x in lines(page)) == 6
    assert lines(page)[-1].endswith("disconnected: WebSocket unavailable")
    assert page.evaluate("() => lab.armed") == []


def test_min_uptime_resets_attempts_only_once_stable(servers, open_page):
    """A loss before minUptime continues the count; the stable timer resets it."""
    server = servers()
    page = open_page(server, speed=20, min_uptime=600)  # 30 s real: never stable here
    connected(page)
    assert "open; attempts reset after 600s up" in lines(page)[-1]
    for k in (1, 2, 3):
        server.drop_all(1012)
        wait_line(page, f"attempt {k}/5 in {2 ** (k - 1)}s")
        connected(page)
    assert page.evaluate("() => [lab.attempt, lab.armed]") == [3, ["ping", "stable"]]

    quick = open_page(server, speed=20, min_uptime=2)  # stable after 0.1 s
    wait_line(quick, "up for 2s: connection stable")
    server.drop_all(1012)  # both pages lose their connection
    wait_line(quick, "attempt 1/5 in 1s")
    wait_line(quick, "up for 2s: connection stable; attempts reset (connected on attempt 1/5)")
    wait_line(page, "attempt 4/5 in 8s")  # the unstable page goes on counting


# ---------------------------------------------------------------- close codes


@pytest.mark.parametrize(
    ("code", "reason", "says"),
    [
        (1000, "bye",
         "closed by the server (1000 normal closure: bye): session ended, not retried"),
        (1008, "no", "WebSocket unavailable: no"),
        (4403, "forbidden here", "WebSocket unavailable: forbidden here"),
    ],
)
def test_recommended_table_stops_on_refusals_and_on_a_finished_session(
        servers, open_page, code, reason, says):
    server = servers()
    page = open_page(server, speed=20, closes="recommended")
    connected(page)
    server.drop_all(code, reason)
    expect_text(page.locator("#state"), "disconnected")
    assert lines(page)[-1].endswith(f"disconnected: {says}")
    assert page.evaluate("() => [lab.armed, lab.attempt]") == [[], 0]
    expect_text(page.locator("#notice-text"), f"{says}.")
    assert page.get_by_role("button", name="Reconnect").is_visible()
    assert server.handshakes == 1


def test_module_07_table_retries_what_the_recommended_one_stops(servers, open_page):
    """The default table (chapters 01-10) retries 1000 and 4403; only 1008 stops it."""
    server = servers()
    page = open_page(server, speed=20)
    connected(page)
    server.drop_all(1000, "bye")
    wait_line(page, "attempt 1/5 in 1s")
    connected(page)
    server.drop_all(4403)
    wait_line(page, "attempt 1/5 in 1s", count=2)
    connected(page)
    assert server.handshakes == 3


def test_recommended_table_retries_a_restart(servers, open_page):
    server = servers()
    page = open_page(server, speed=20, closes="recommended")
    connected(page)
    server.drop_all(1012)
    wait_line(page, "closed 1012 (server restarting)")
    wait_line(page, "attempt 1/5 in 1s")
    connected(page)
    assert server.handshakes == 2


def test_local_timeouts_are_outages_under_the_recommended_table(servers, open_page):
    """A pong timeout closes with 4000 on the wire (pages cannot abort) but counts as a
    local 1006: retried, not taken for the application's refusal."""
    server = servers()
    page = open_page(server, speed=4, ping=2, pong_timeout=4, open_timeout=4,
                     closes="recommended")
    connected(page)
    server.freeze()
    wait_line(page, "closed 1006 (pong timeout)")
    wait_line(page, "attempt 1/5 in 1s")
    server.thaw()
    connected(page)


def test_4401_refreshes_the_token_then_a_second_one_gives_up(servers, open_page):
    server = servers(auth=TokenIssuer(lifetime=600))
    page = open_page(server, speed=20, closes="recommended", auth=True, min_uptime=600)
    connected(page)
    assert page.evaluate("() => lab.tokens") == 1
    assert any(re.search(r"open /ws\?topics=analysis&token=\*\*\*$", x) for x in lines(page))
    server.drop_all(4401, "token expired")
    wait_line(page, "connection lost (4401 unauthorized: token missing or expired: "
                    "token expired); refreshing the token")
    wait_line(page, "token refreshed: connecting now (no backoff)")
    connected(page)
    assert page.evaluate("() => lab.tokens") == 2  # a fresh one, fetched before the connect
    assert not any("attempt 1/5" in x for x in lines(page))  # no backoff wait
    server.drop_all(4401, "token expired")  # again, before the connection proved stable
    expect_text(page.locator("#state"), "disconnected")
    assert lines(page)[-1].endswith("WebSocket unavailable: log in again (4401 unauthorized: "
                                    "token missing or expired: token expired)")
    tokens = [x for x in server.access_log if x.startswith("GET /api/token")]
    assert len(tokens) == 2 and all(x.endswith(" 200") for x in tokens)
    assert server.handshakes == 2
    # The token is never shown: not in the timeline, not in the frame log.
    shown = page.locator("body").inner_text()
    assert "token=***" in shown and not re.search(r"token=(?!\*\*\*)", shown)


def test_an_expiring_token_is_refreshed_by_the_server_s_4401(servers, open_page):
    """The server closes 4401 when the token expires; the page fetches a new one and
    connects at once -- every time, since each connection proved stable first."""
    server = servers(auth=TokenIssuer(lifetime=2))
    page = open_page(server, closes="recommended", auth=True, min_uptime=0.5)
    wait_line(page, "up for 0.5s: connection stable")
    wait_line(page, "token refreshed: connecting now (no backoff)", count=2)
    connected(page)
    assert page.evaluate("() => lab.tokens") >= 3
    assert page.locator("#notice").is_hidden()



def test_a_refused_fresh_token_gives_up_also_without_min_uptime(servers, open_page):
    """Tokens that expire before they are used: each open is closed 4401 at once. With
    minUptime 0 an open alone would clear the refresh guard and loop in zero time; the
    refreshed connection must stay up ``refreshProof`` s first (machine.REFRESH_PROOF)."""
    server = servers(auth=TokenIssuer(lifetime=0.001))
    page = open_page(server, closes="recommended", auth=True)
    expect_text(page.locator("#state"), "disconnected")
    assert lines(page)[-1].endswith("log in again (4401 unauthorized: token missing or "
                                    "expired: token expired)")
    assert server.handshakes == 2 and page.evaluate("() => lab.tokens") == 2


def _handshakes(server: Any) -> list[str]:
    return [x for x in server.access_log if x.startswith("GET /ws")]


def test_cookie_auth_keeps_the_token_out_of_every_url_and_out_of_the_script(servers,
                                                                           open_page):
    """auth=cookie: api/token sets an HttpOnly cookie for the page's folder; the browser
    sends it with the handshake by itself. No token in the socket URL, the access log or
    ``document.cookie``; a 4401 sets a fresh cookie, then connects at once."""
    server = servers(auth=TokenIssuer(lifetime=600))
    page = open_page(server, speed=20, closes="recommended", auth="cookie", min_uptime=600)
    connected(page)
    wait_line(page, "token cookie set (api/token; HttpOnly: this page cannot read it)")
    assert any(re.search(r"open /ws\?topics=analysis$", x) for x in lines(page))
    assert "wslearn_token" not in page.evaluate("() => document.cookie")  # HttpOnly
    [handshake] = _handshakes(server)
    assert "token" not in handshake and handshake.endswith(" 101"), handshake
    [fetched] = [x for x in server.access_log if x.startswith("GET /api/token")]
    assert "cookie=1&path=%2F" in fetched and fetched.endswith(" 200"), fetched
    server.drop_all(4401, "token expired")
    wait_line(page, "token refreshed: connecting now (no backoff)")
    connected(page)
    assert page.evaluate("() => lab.tokens") == 2 and len(_handshakes(server)) == 2
    assert page.locator("#config").inner_text().endswith("auth: cookie")


def test_first_message_auth_sends_the_token_first_and_never_shows_it(servers, open_page):
    """auth=first-message: the socket URL is clean, the first frame is ``auth`` (shown as
    ``***`` in the frame log), the server welcomes after it; expiry 4401s are refreshed."""
    server = servers(auth=TokenIssuer(lifetime=2))
    page = open_page(server, closes="recommended", auth="first-message", min_uptime=0.5)
    connected(page)
    assert log_types(page, "out")[0] == "auth"
    first = page.locator('#log tbody tr[data-direction="out"]').first.inner_text()
    assert '"token":"***"' in first, first
    assert all("token" not in x for x in _handshakes(server))
    wait_line(page, "token refreshed: connecting now (no backoff)")
    connected(page)
    assert page.evaluate("() => lab.tokens") >= 2
    shown = page.locator("body").inner_text()
    assert '"token":"***"' in shown and not re.search(r'"token":"(?!\*\*\*")', shown)


# ---------------------------------------------------------------- resume


def test_resume_recovers_missed_events_without_refetching(servers, open_page):
    server = servers()
    page = open_page(server, speed=20, resume=True, max_attempts=8)
    cells = cache_row(page, "topics/analysis").locator("td")
    expect_text(cells, ["topics/analysis", "0", "", "1", "fresh"])
    server.publish("analysis", "analysis.started", id=1)  # live, numbered: applied in place
    expect_text(cells, ["topics/analysis", "1", "analysis.started", "1", "fresh"])
    server.refuse()
    server.drop_all(1012)
    expect_text(page.locator("#state"), "reconnecting")
    for n in (2, 3):
        assert server.publish("analysis", "analysis.done", id=n) == 0  # nobody hears it
    server.accept_again()
    wait_line(page, "open /ws?topics=analysis&resume=analysis:1")
    expect_text(cells, ["topics/analysis", "3", "analysis.done", "1", "fresh"])
    assert log_types(page, "in") == ["welcome", "analysis.started", "welcome", "analysis.done",
                                     "analysis.done"]  # the two replayed from the buffer
    stats = page.evaluate("() => lab.resumeStats")
    assert stats == {"replayed": 2, "resynced": 0, "gaps": 0, "duplicates": 0}
    assert page.evaluate("() => lab.cursor") == {"analysis": 3}
    last = page.evaluate("() => lab.queries.get('topics/analysis').data.last")
    assert last == {"type": "analysis.done", "topic": "analysis", "id": 3}  # as api/topics has it


def test_resume_resyncs_when_the_gap_is_older_than_the_buffer(servers, open_page):
    server = servers(replay=1)
    page = open_page(server, speed=20, resume=True, topics="analysis,proposals", max_attempts=8)
    analysis = cache_row(page, "topics/analysis").locator("td")
    proposals = cache_row(page, "topics/proposals").locator("td")
    expect_text(analysis.nth(4), "fresh")
    expect_text(proposals.nth(4), "fresh")
    server.refuse()
    server.drop_all(1012)
    expect_text(page.locator("#state"), "reconnecting")
    for n in (1, 2, 3):
        server.publish("analysis", "analysis.done", id=n)  # 3 missed, 1 kept: too old
    server.publish("proposals", "proposal.created", id=9)  # 1 missed, 1 kept: replayed
    server.accept_again()
    wait_line(page, "resync analysis: 3 missed events are no longer kept; refetching it")
    expect_text(analysis, ["topics/analysis", "3", "analysis.done", "2", "fresh"])  # refetched
    expect_text(proposals, ["topics/proposals", "1", "proposal.created", "1", "fresh"])
    stats = page.evaluate("() => lab.resumeStats")
    assert stats == {"replayed": 1, "resynced": 1, "gaps": 0, "duplicates": 0}
    assert page.evaluate("() => lab.cursor") == {"analysis": 3, "proposals": 1}


def test_without_resume_a_reconnect_refetches_everything(servers, open_page):
    """Chapter 08's way, for contrast: no numbers on the wire, one refetch per topic."""
    server = servers()
    page = open_page(server, speed=20, max_attempts=8)
    cells = cache_row(page, "topics/analysis").locator("td")
    expect_text(cells.nth(3), "1")
    server.refuse()
    server.drop_all(1012)
    expect_text(page.locator("#state"), "reconnecting")
    server.publish("analysis", "analysis.done", id=1)
    server.accept_again()
    expect_text(cells, ["topics/analysis", "1", "analysis.done", "2", "fresh"])
    assert "resume=" not in "\n".join(lines(page))
    assert '"seq"' not in page.locator("#log").inner_text()


# ---------------------------------------------------------------- the send queue


def test_bounded_queue_holds_sends_and_flushes_them_after_the_reconnect(servers, open_page):
    server = servers()
    page = open_page(server, base=600, cap=600, queue=2, overflow="drop-oldest")
    connected(page)
    expect_text(page.locator("#queue"), "queued 0/2")
    server.drop_all(1012)
    wait_line(page, "attempt 1/5 in 600s")
    results = page.evaluate("""() => [lab.subscribe('knowledge'), lab.subscribe('proposals'),
                                      lab.subscribe('reports')]""")
    assert results == ["queued", "queued", "queued, oldest dropped"]
    expect_text(page.locator("#queue"), "queued 2/2 · 1 dropped")
    assert log_types(page, "out") == []
    page.evaluate("() => lab.reconnect()")
    wait_line(page, "sending 2 queued messages")
    expect_text(page.locator("#topics"), "analysis, proposals, reports")
    expect_text(page.locator("#queue"), "queued 0/2 · 1 dropped")
    assert log_types(page, "out") == ["subscribe", "subscribe"]


@pytest.mark.parametrize(("overflow", "third"), [("drop-newest", "dropped"),
                                                 ("reject", "rejected")])
def test_full_queue_drops_the_newest_or_rejects(servers, open_page, overflow, third):
    server = servers()
    page = open_page(server, base=600, cap=600, queue=2, overflow=overflow)
    connected(page)
    server.drop_all(1012)
    wait_line(page, "attempt 1/5 in 600s")
    results = page.evaluate("""() => [lab.subscribe('knowledge'), lab.subscribe('proposals'),
                                      lab.subscribe('reports')]""")
    assert results == ["queued", "queued", third]
    page.evaluate("() => lab.reconnect()")
    expect_text(page.locator("#topics"), "analysis, knowledge, proposals")


def test_default_drops_sends_while_disconnected_with_a_note(servers, open_page):
    """Module 07's page (queue=0): today's behaviour, and no queue on the page."""
    server = servers()
    page = open_page(server, base=600, cap=600)
    connected(page)
    server.drop_all(1012)
    wait_line(page, "attempt 1/5 in 600s")
    assert page.evaluate("() => lab.subscribe('knowledge')") == "dropped"
    wait_line(page, "not sent while reconnecting: subscribe")
    assert page.locator("#queue").is_hidden()


# ---------------------------------------------------------------- the browser's signals


def test_offline_pauses_the_wait_and_online_connects_at_once(servers, open_page):
    server = servers()
    page = open_page(server, base=600, cap=600)
    connected(page)
    server.drop_all(1012)
    wait_line(page, "attempt 1/5 in 600s")
    page.context.set_offline(True)
    wait_line(page, "offline: attempt 1/5 paused until the network is back")
    assert page.evaluate("() => [lab.offline, lab.armed]") == [True, []]
    page.context.set_offline(False)
    wait_line(page, "online: the network is back; connecting now (attempts reset)")
    connected(page)
    assert page.evaluate("() => [lab.offline, lab.attempt]") == [False, 0]
    assert server.handshakes == 2


def test_a_failure_while_offline_spends_no_attempts(servers, open_page):
    server = servers()
    page = open_page(server, speed=20)
    connected(page)
    page.context.set_offline(True)
    wait_line(page, "offline event (the heartbeat will tell if the socket died)")
    page.evaluate("() => lab.reconnect()")  # a connect while offline fails at once
    wait_line(page, "offline: waiting for the network")
    expect_text(page.locator("#attempt"), "offline: waiting for the network")
    assert page.evaluate("() => [lab.attempt, lab.armed]") == [0, []]
    page.context.set_offline(False)
    wait_line(page, "online: the network is back; connecting now (attempts reset)")
    connected(page)


_SHOW = """(visibility) => {
  Object.defineProperty(document, 'visibilityState', { value: visibility, configurable: true })
  document.dispatchEvent(new Event('visibilitychange'))
}"""


def test_visible_again_retries_now_instead_of_waiting_out_the_backoff(servers, open_page):
    server = servers()
    page = open_page(server, base=600, cap=600)
    connected(page)
    server.drop_all(1012)
    wait_line(page, "attempt 1/5 in 600s")
    page.evaluate(_SHOW, "hidden")
    assert page.evaluate("() => lab.armed") == ["reconnect"]  # hidden: nothing changes
    page.evaluate(_SHOW, "visible")
    wait_line(page, "page visible again: attempt 1/5 now instead of waiting out the backoff")
    connected(page)
    assert server.handshakes == 2


# ---------------------------------------------------------------- jitter


@pytest.mark.parametrize("jitter", ["full", "equal"])
def test_jittered_schedule_of_a_real_outage(servers, open_page, jitter):
    """The first outage follows lab.rules.delays() (the same seed), each within its range."""
    server = servers()
    page = open_page(server, speed=20, jitter=jitter, seed=11)
    connected(page)
    planned = page.evaluate("() => lab.rules.delays()")
    server.stop()
    expect_text(page.locator("#state"), "disconnected")
    policy = BackoffPolicy(jitter=jitter, seed=11)
    assert delays(page) == planned
    for k, delay in enumerate(planned, start=1):
        low = 0 if jitter == "full" else policy.ceiling(k) / 2
        assert low <= delay <= policy.ceiling(k)
    assert len(set(planned)) == 5
    server.start()


def test_screenshot_of_the_page_with_chapter_11_settings(servers, open_page):
    server = servers()
    page = open_page(server, speed=20, closes="recommended", min_uptime=600, jitter="equal",
                     seed=3, resume=True, queue=5, topics="analysis,proposals")
    connected(page)
    server.publish("analysis", "analysis.done", id=1)
    server.refuse()
    server.drop_all(1012)
    expect_text(page.locator("#state"), "reconnecting")
    page.evaluate("() => lab.subscribe('knowledge')")
    expect_text(page.locator("#queue"), "queued 1/5")
    config = page.locator("#config").inner_text()
    assert config == ("backoff up to 1, 2, 4, 8, 16 s · ping 600 s · pong timeout 10 s · "
                      "speed ×20 · equal jitter (seed 3) · reset after 600 s up · "
                      "closes: recommended · resume · queue 5, drop-oldest")
    path = screenshot(page, "browser-lab-chapter-11.png")
    assert path.stat().st_size > 10_000
    server.accept_again()
    connected(page)
