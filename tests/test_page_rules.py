"""The browser page's reconnect rules are the Python ones (one definition: wslearn.backoff,
wslearn.close_policy).

The page (``wslearn/page/client.js``) cannot import Python, so it mirrors the rules and
exports them as ``lab.rules``; these tests load the page in Debian's chromium and compare
them with ``BackoffPolicy`` and the close tables (``MODULE_07``, ``RECOMMENDED``:
``ClosePolicy.as_table()``) -- the same schedule, the same last attempt, the same action
for every close code, the same jitter bounds, the same minimum-uptime rule -- and check
the behaviour the table promises: after a 1008 close the page gives up instead of retrying.
(The page's behaviour against a real server: tests/test_page_resilience.py.)
"""

from __future__ import annotations

import pytest
from browser_support import WAIT_MS, Browser, lab_pages, require_chromium, timeline

from wslearn import page as lab
from wslearn.backoff import BackoffPolicy
from wslearn.close_policy import MODULE_07, RECOMMENDED, CloseAction, ClosePolicy
from wslearn.machine import REFRESH_PROOF

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    driver = Browser(require_chromium())
    yield driver
    driver.close()


@pytest.fixture
def server():
    from wslearn.server import serve

    with serve() as running:
        yield running


@pytest.fixture
def open_page(browser, server):
    with lab_pages(browser) as opener:
        yield lambda **params: opener(server, **params)


def _expect(locator, text):
    from playwright.sync_api import expect

    expect(locator).to_have_text(text, timeout=WAIT_MS)


@pytest.mark.parametrize(
    "settings",
    [
        {},  # the seed's 1, 2, 4, 8, 16 s
        {"base": 0.5, "factor": 3, "cap": 5, "max_attempts": 4},
        {"base": 2, "factor": 1, "cap": 2, "max_attempts": 1},
    ],
    ids=["seed", "capped", "one-attempt"],
)
def test_page_rules_are_the_python_rules(open_page, settings):
    policy = BackoffPolicy(**settings)  # lab_url takes the policy's own parameter names
    page = open_page(topics="analysis", ping=600, **settings)
    _expect(page.locator("#state"), "connected")
    rules = page.evaluate(
        "() => ({schedule: lab.rules.schedule, maxAttempts: lab.rules.maxAttempts,"
        " giveUpCodes: lab.rules.giveUpCodes, delays: lab.rules.delays()})")
    assert rules["schedule"] == policy.delays() == rules["delays"]
    assert rules["maxAttempts"] == policy.max_attempts
    assert sorted(rules["giveUpCodes"]) == sorted(MODULE_07.codes(CloseAction.GIVE_UP))
    limit = policy.max_attempts or 0
    for attempt in range(limit + 2):
        page_says = page.evaluate(f"() => lab.rules.givesUpAfter({attempt})")
        assert page_says == policy.gives_up_after(attempt), attempt


def test_page_gives_up_after_a_policy_violation_close(server, open_page):
    """1008 (here: a bad topic in the URL) ends retrying, exactly like the Python client."""
    page = open_page(topics="Not-A-Topic", ping=600, speed=20)
    _expect(page.locator("#state"), "disconnected")
    assert any("closed 1008" in line for line in timeline(page))
    assert timeline(page)[-1].startswith("t=0s disconnected: WebSocket unavailable: invalid topic")
    # Nothing is scheduled that could retry: no reconnect timer is armed, and the server
    # saw exactly one handshake.
    assert page.evaluate("() => lab.armed") == []
    assert page.evaluate("() => lab.attempt") == 0
    assert server.handshake_attempts == 1
    assert page.get_by_role("button", name="Reconnect").is_visible()


def test_page_handles_the_protocol_control_types(open_page):
    """The page's own handlers are the protocol's control types plus errors (its ``event``
    entry is the fallback for application events, which invalidate queries)."""
    from wslearn.protocol import CONTROL_TYPES, ERROR_TYPE

    page = open_page(topics="analysis", ping=600)
    _expect(page.locator("#state"), "connected")
    names = set(page.evaluate("() => Object.keys(lab.handlers)"))
    assert names - {"event"} == CONTROL_TYPES | {ERROR_TYPE}


# ---------------------------------------------------------------- chapter 11's rules


@pytest.mark.parametrize("policy", [MODULE_07, RECOMMENDED], ids=lambda p: p.name)
def test_page_close_tables_are_the_python_tables(open_page, policy: ClosePolicy):
    """Both tables, as data, and the page's decision for every code a server can send."""
    page = open_page(topics="analysis", ping=600, closes=policy.name)
    _expect(page.locator("#state"), "connected")
    tables = page.evaluate("() => lab.rules.closes")
    assert tables == {p.name: p.as_table() for p in (MODULE_07, RECOMMENDED)}
    assert page.evaluate("() => lab.rules.closePolicy") == policy.name
    codes = [1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
             1014, 1015, 2999, 3000, 3999, 4000, 4401, 4403, 4999]
    decided = page.evaluate("(codes) => codes.map((code) => lab.rules.decide(code))", codes)
    assert decided == [policy.decide(code).value for code in codes]
    assert sorted(page.evaluate("() => lab.rules.giveUpCodes")) == list(
        policy.codes(CloseAction.GIVE_UP))
    config = page.locator("#config").inner_text()
    assert ("closes: recommended" in config) == (policy is RECOMMENDED)  # only when not default


def test_page_default_config_line_is_module_07s(open_page):
    page = open_page(topics="analysis", ping=600)
    _expect(page.locator("#state"), "connected")
    assert page.locator("#config").inner_text() == (
        "backoff 1, 2, 4, 8, 16 s · ping 600 s · pong timeout 10 s · speed ×1")
    assert page.locator("#queue").is_hidden()
    assert page.evaluate("() => lab.rules.minUptime") == 0 == BackoffPolicy().min_uptime
    assert page.evaluate("() => lab.rules.refreshProof") == REFRESH_PROOF


@pytest.mark.parametrize("jitter", ["full", "equal"])
@pytest.mark.parametrize("seed", [7, None], ids=["seeded", "unseeded"])
def test_page_jitter_follows_the_python_formulas(open_page, jitter, seed):
    """Ceilings are BackoffPolicy.ceiling; every draw lies in the formula's range, in ms."""
    settings = {"base": 0.5, "factor": 3, "cap": 20, "max_attempts": 6, "jitter": jitter,
                "seed": seed}
    policy = BackoffPolicy(**settings)
    page = open_page(topics="analysis", ping=600, **settings)
    _expect(page.locator("#state"), "connected")
    attempts = range(1, policy.max_attempts + 1)
    ceilings = page.evaluate("(n) => Array.from({length: n}, (_, i) => lab.rules.ceiling(i + 1))",
                             policy.max_attempts)
    assert ceilings == [policy.ceiling(k) for k in attempts]
    assert page.evaluate("() => lab.rules.schedule") == ceilings
    runs = [page.evaluate("() => lab.rules.delays()") for _ in range(20)]
    for delays in runs:
        for k, delay in zip(attempts, delays, strict=True):
            top = policy.ceiling(k)
            low = 0 if jitter == "full" else top / 2
            assert low <= delay <= top, (k, delay)
            assert round(delay, 3) == delay  # milliseconds, like BackoffPolicy.delay
    # The same formulas, drawn in Python: the same ranges (different generators, same rule).
    for delays in (policy.delays(), BackoffPolicy(**{**settings, "seed": 1}).delays()):
        for k, delay in zip(attempts, delays, strict=True):
            assert (0 if jitter == "full" else policy.ceiling(k) / 2) <= delay <= policy.ceiling(k)
    distinct = {tuple(delays) for delays in runs}
    if seed is None:
        assert len(distinct) > 1  # Math.random: every schedule differs
    else:
        assert len(distinct) == 1  # seeded: the same schedule every time...
        reloaded = open_page(topics="analysis", ping=600, **settings)
        _expect(reloaded.locator("#state"), "connected")
        assert reloaded.evaluate("() => lab.rules.delays()") == runs[0]  # ...and on reload
        assert len({round(d / c, 6) for d, c in zip(runs[0], ceilings, strict=True)}) > 1
    config = page.locator("#config").inner_text()
    assert config.startswith("backoff up to 0.5, 1.5, 4.5, 13.5, 20, 20 s")
    assert f"{jitter} jitter" in config and (("seed 7" in config) == (seed == 7))


@pytest.mark.parametrize("min_uptime", [0, 2.5])
def test_page_min_uptime_rule_is_the_python_rule(open_page, min_uptime):
    policy = BackoffPolicy(min_uptime=min_uptime)
    page = open_page(topics="analysis", ping=600, min_uptime=min_uptime)
    _expect(page.locator("#state"), "connected")
    assert page.evaluate("() => lab.rules.minUptime") == policy.min_uptime
    stable_armed = "stable" in page.evaluate("() => lab.armed")
    assert stable_armed == (not policy.resets_at_open())  # reset at open, or once stable
    config = page.locator("#config").inner_text()
    assert ("reset after 2.5 s up" in config) == (min_uptime > 0)


def test_page_notes_settings_it_cannot_use(browser, server):
    """A bad value keeps the default and says so (lab_url refuses it before that)."""
    page = browser.new_page()
    try:
        page.goto(server.http_url("/lab") + f"?topics=analysis&ping=600&jitter=wobbly&queue=-1"
                  f"&closes=nope&auth=header&key={server.key}")
        _expect(page.locator("#state"), "connected")
        lines = "\n".join(timeline(page))
        assert "setting jitter=wobbly ignored: use none, full, equal" in lines
        assert "setting queue=-1 ignored: use a whole number >= 0" in lines
        assert "setting closes=nope ignored: use module-07, recommended" in lines
        assert "setting auth=header ignored: use 1, query, first-message, cookie" in lines
        assert page.evaluate("() => [lab.config.jitter, lab.config.queue, lab.config.closes, "
                             "lab.config.auth]") == ["none", 0, "module-07", None]
        assert page.errors == []
    finally:
        page.context.close()
    for bad in ({"jitter": "wobbly"}, {"closes": "nope"}, {"queue": -1}, {"overflow": "x"},
                {"resume": "yes"}, {"seed": 1.5}, {"min_uptime": -1}, {"auth": "header"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            lab.lab_url(server, proxy=False, **bad)
    for way, word in [(True, "1"), ("query", "query"), ("first-message", "first-message"),
                      ("cookie", "cookie")]:
        assert lab.lab_url(server, proxy=False, auth=way).endswith(f"/lab?auth={word}&key="
                                                                   f"{server.key}")
