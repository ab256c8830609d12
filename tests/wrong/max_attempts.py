"""Chapter 04: keep_connected with MAX_ATTEMPTS -- endless retries, no reset, no restart."""

from __future__ import annotations

import asyncio

from . import Case

MAX_ATTEMPTS = 5


def backoff_delay(attempt):
    return min(30.0, 2.0 ** (attempt - 1))


async def good(url, connect, on_message, notify):
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
        if attempt > MAX_ATTEMPTS:
            notify("WebSocket unavailable")
            return
        await asyncio.sleep(backoff_delay(attempt))


async def endless(url, connect, on_message, notify):
    """The seed's mistake 4: `ws.onclose = () => setTimeout(connect, 1000)`."""
    while True:
        try:
            async with connect(url) as ws:
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        await asyncio.sleep(1)


async def seed_never_resets(url, connect, on_message, notify):
    """The seed's "✅ max attempts": `if (attempt < MAX_ATTEMPTS)` -- but attempt never goes
    back to 0 after a success, so failures add up over the page's lifetime."""
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        attempt += 1
        if attempt > MAX_ATTEMPTS:
            notify("WebSocket unavailable")
            return
        await asyncio.sleep(backoff_delay(attempt))


_attempts = 0  # React state translated to a module global: survives the Reconnect button


async def global_counter(url, connect, on_message, notify):
    global _attempts
    while True:
        try:
            async with connect(url) as ws:
                async for text in ws:
                    on_message(text)
        except ConnectionError:
            pass
        _attempts += 1
        if _attempts > MAX_ATTEMPTS:
            notify("WebSocket unavailable")
            return
        await asyncio.sleep(backoff_delay(_attempts))


async def one_too_few(url, connect, on_message, notify):
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
        if attempt >= MAX_ATTEMPTS:  # counts the first connect as a retry
            notify("WebSocket unavailable")
            return
        await asyncio.sleep(backoff_delay(attempt))


async def silent(url, connect, on_message, notify):
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
        if attempt > MAX_ATTEMPTS:
            return  # no feedback: the user never learns real-time is gone
        await asyncio.sleep(backoff_delay(attempt))


async def notifies_and_goes_on(url, connect, on_message, notify):
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
        if attempt == MAX_ATTEMPTS + 1:
            notify("WebSocket unavailable")
        await asyncio.sleep(backoff_delay(min(attempt, 5)))


async def notifies_on_cancel(url, connect, on_message, notify):
    try:
        await good(url, connect, on_message, notify)
    except asyncio.CancelledError:
        notify("WebSocket unavailable")  # the user just left the page: not "unavailable"
        raise


class RetryBudget:
    """How many retries are left in this outage, and how long to wait before the next."""

    def __init__(self, limit):
        self.limit = limit
        self.failures = 0

    def failed(self):
        self.failures += 1
        return None if self.failures > self.limit else backoff_delay(self.failures)

    def succeeded(self):
        self.failures = 0


async def with_budget(url, connect, on_message, notify):
    """Right, written differently: a budget object, recv() without async for/with."""
    budget = RetryBudget(MAX_ATTEMPTS)
    while True:
        try:
            ws = await connect(url)
        except ConnectionError:
            pass
        else:
            budget.succeeded()
            try:
                while True:
                    on_message(await ws.recv())
            except ConnectionError:
                pass
            finally:
                await ws.close()
        wait = budget.failed()
        if wait is None:
            notify("WebSocket unavailable")
            return
        await asyncio.sleep(wait)


CASES = [
    Case("seed-endless-reconnect", "infinite-retries", (endless,)),
    Case("seed-counter-never-reset", "no-reset", (seed_never_resets,)),
    Case("global-counter", "no-restart", (global_counter,)),
    Case("one-attempt-too-few", "off-by-one-max", (one_too_few,)),
    Case("gives-up-silently", "no-notify", (silent,)),
    Case("notifies-and-goes-on", "keeps-running", (notifies_and_goes_on,)),
    Case("notifies-on-cancel", "notify-on-close", (notifies_on_cancel,)),
    Case("right-solution-shape", None, (good,)),
    Case("right-retry-budget", None, (with_budget,)),
]


# -- found by mutation testing and the blind-class review (issue 11) -----------------------


async def never_passes_frames(url, connect, on_message, notify):
    """Reconnects and gives up correctly, but never calls on_message."""
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for _text in ws:
                    pass
        except ConnectionError:
            pass
        attempt += 1
        if attempt > MAX_ATTEMPTS:
            notify("WebSocket unavailable")
            return
        await asyncio.sleep(backoff_delay(attempt))


async def swallows_cancel_while_connected(url, connect, on_message, notify):
    """Catches every exception around the session: a cancel while connected is retried."""
    attempt = 0
    while True:
        try:
            async with connect(url) as ws:
                attempt = 0
                async for text in ws:
                    on_message(text)
        except BaseException:
            pass
        attempt += 1
        if attempt > MAX_ATTEMPTS:
            notify("WebSocket unavailable")
            return
        await asyncio.sleep(backoff_delay(attempt))


CASES += [
    Case("frames-never-reach-on-message", "no-on-message", (never_passes_frames,)),
    Case("swallows-cancel-while-connected", "reconnect-after-close",
         (swallows_cancel_while_connected,)),
]
