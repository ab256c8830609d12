"""Chapter 03: backoff_delay + keep_connected, wrong in the ways learners (and the seed) are."""

from __future__ import annotations

import asyncio
import json

from wslearn import BackoffPolicy

from . import Case


def good_delay(attempt):
    return min(30.0, 2.0 ** (attempt - 1))


async def good_keep(url, connect, on_message):
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        attempt += 1
        await asyncio.sleep(good_delay(attempt))


# -- backoff_delay mistakes ---------------------------------------------------------------


def delay_from_zero(attempt):
    return min(30, 2**attempt)  # the seed's 2 ** attempt, but attempts start at 1 here


def delay_in_ms(attempt):
    return min(30000, 1000 * 2 ** (attempt - 1))  # setTimeout wants ms; asyncio.sleep does not


def delay_no_cap(attempt):
    return 2 ** (attempt - 1)


def delay_constant(attempt):
    return 1


# -- keep_connected mistakes ----------------------------------------------------------------


async def connect_once(url, connect, on_message):
    """The seed's mistake 2: one connection attempt, and when it ends -- that's it."""
    try:
        async with connect(url) as ws:
            async for text in ws:
                on_message(text)
    except ConnectionError:
        print_nothing = None  # "console.log('Connection failed')" and give up
        del print_nothing


async def fixed_delay(url, connect, on_message):
    """The seed's mistake 4: `setTimeout(connect, 1000)` -- always 1 s, forever."""
    while True:
        try:
            async with connect(url) as ws:
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        await asyncio.sleep(1)


async def never_reset(url, connect, on_message):
    """The counter grows over the page's lifetime: the 2nd outage starts at a long wait."""
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        attempt += 1
        await asyncio.sleep(good_delay(attempt))


async def bare_except(url, connect, on_message):
    """The seed's reconnect example: close() on unmount fires onclose -> reconnect.

    In Python: a bare `except:` also catches the cancellation (the unmount), and the loop
    goes on to wait and connect again.
    """
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for text in ws:
                    on_message(text)
        except:  # noqa: E722 - the bare except is the mistake under test
            pass
        attempt += 1
        try:  # noqa: SIM105
            await asyncio.sleep(good_delay(attempt))
        except:  # noqa: E722
            pass


async def never_closes(url, connect, on_message):
    """Cancelled while connected, the socket stays open (no async with / finally)."""
    attempt = 0
    while True:
        try:
            ws = await connect(url)
            attempt = 0
            while True:
                on_message(await ws.recv())
        except ConnectionError:
            pass
        attempt += 1
        await asyncio.sleep(good_delay(attempt))


async def gives_up_on_clean_close(url, connect, on_message):
    """Treats only errors as drops: when the server closes cleanly, `async for` ends and
    the function returns."""
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for text in ws:
                    on_message(text)
            return
        except ConnectionError:
            attempt += 1
            await asyncio.sleep(good_delay(attempt))


async def forgot_await(url, connect, on_message):
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        attempt += 1
        asyncio.sleep(good_delay(attempt))


async def crashes_on_message(url, connect, on_message):
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for text in ws:
                    on_message(json.loads(text)["data"])  # KeyError: no "data" field
        except ConnectionError:
            pass
        attempt += 1
        await asyncio.sleep(good_delay(attempt))


async def busy(url, connect, on_message):
    n = 0
    while True:
        n += 1


def not_async(url, connect, on_message):
    return None


# -- right, written differently ----------------------------------------------------------------


def policy_delay(attempt):
    return BackoffPolicy(max_attempts=None).delay(attempt)


async def explicit_recv(url, connect, on_message):
    """No `async with`, no `async for`: recv() until it raises, close in finally."""
    failures = 0
    while True:
        ws = None
        try:
            ws = await connect(url)
            failures = 0
            while True:
                on_message(await ws.recv())
        except ConnectionError:
            failures += 1
        finally:
            if ws is not None:
                await ws.close()
        await asyncio.sleep(policy_delay(failures))


CASES = [
    Case("delay-from-zero", "off-by-one", (delay_from_zero, good_keep)),
    Case("delay-in-ms", "milliseconds", (delay_in_ms, good_keep)),
    Case("delay-no-cap", "no-cap", (delay_no_cap, good_keep)),
    Case("delay-constant", "no-backoff", (delay_constant, good_keep)),
    Case("seed-no-reconnect", "no-reconnect", (good_delay, connect_once)),
    Case("seed-fixed-1s", "no-backoff", (good_delay, fixed_delay)),
    Case("counter-never-reset", "no-reset", (good_delay, never_reset)),
    Case("seed-reconnect-after-unmount", "reconnect-after-close", (good_delay, bare_except)),
    Case("socket-left-open", "left-open", (good_delay, never_closes)),
    Case("gives-up-on-clean-close", "no-reconnect", (good_delay, gives_up_on_clean_close)),
    Case("forgot-await", "missing-await", (good_delay, forgot_await)),
    Case("crashes-on-message", "raises", (good_delay, crashes_on_message)),
    Case("busy-loop", "busy-loop", (good_delay, busy)),
    Case("not-async", "not-async", (good_delay, not_async)),
    Case("right-explicit-recv", None, (policy_delay, explicit_recv)),
]


# -- found by mutation testing and the blind-class review (issue 11) -----------------------


async def swallows_cancel_in_sleep(url, connect, on_message):
    """Catches CancelledError around its backoff wait and keeps retrying: passed while the
    "cancel during the wait" scenario really cancelled inside connect()."""
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        attempt += 1
        try:  # noqa: SIM105 - written the way learners write it
            await asyncio.sleep(good_delay(attempt))
        except asyncio.CancelledError:
            pass  # "an interrupted wait: just try again"


async def counter_starts_at_one(url, connect, on_message):
    """The first failure counts as attempt 2: the first retry waits 2 s (passed while every
    scenario began with a successful connect)."""
    attempt = 1
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        attempt += 1
        await asyncio.sleep(good_delay(attempt))


async def blocking_sleep(url, connect, on_message):
    """time.sleep in async code: blocks the loop (and here a short one, so nothing hangs)."""
    import time

    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        attempt += 1
        time.sleep(good_delay(attempt) / 1000)


CASES += [
    Case("swallows-cancel-in-the-wait", "reconnect-after-close",
         (good_delay, swallows_cancel_in_sleep)),
    Case("counter-starts-at-one", "off-by-one", (good_delay, counter_starts_at_one)),
    Case("blocking-time-sleep", "busy-loop", (good_delay, blocking_sleep)),
]
