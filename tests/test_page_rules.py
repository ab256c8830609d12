"""The browser page's reconnect rules are the Python ones (one definition: wslearn.backoff).

The page (``wslearn/page/client.js``) cannot import Python, so it mirrors the rule and
exports it as ``lab.rules``; these tests load the page in Debian's chromium and compare
that table with ``BackoffPolicy`` / ``close_policy.MODULE_07`` -- the same schedule, the same last
attempt, the same close codes that end retrying -- and check the behaviour the table
promises: after a 1008 close the page gives up instead of retrying.
"""

from __future__ import annotations

import pytest
from browser_support import WAIT_MS, Browser, require_chromium, timeline

from wslearn import page as lab
from wslearn.backoff import BackoffPolicy
from wslearn.close_policy import MODULE_07, CloseAction

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
    pages = []

    def opener(**params):
        page = browser.new_page()
        pages.append(page)
        page.goto(lab.lab_url(server, proxy=False, **params))
        return page

    yield opener
    for page in pages:
        errors = page.errors
        page.context.close()
        assert errors == [], f"uncaught JavaScript errors: {errors}"


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
    rules = page.evaluate("() => ({...lab.rules, givesUpAfter: undefined})")
    assert rules["schedule"] == policy.delays()
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
