"""Chapter 09: LiveClient -- the whole client, and the seed's bugs put back one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import json

from wslearn import BackoffPolicy, Client, Dispatcher, HeartbeatPolicy, QueryCache

from . import Case


async def heartbeat(ws, pong, *, interval=30.0, timeout=10.0):
    while True:
        await asyncio.sleep(interval)
        pong.clear()
        await ws.send({"type": "ping"})
        try:
            async with asyncio.timeout(timeout):
                await pong.wait()
        except TimeoutError:
            return


class Live:
    """The solution's shape."""

    def __init__(self, url, connect, *, topics=(), cache=None, policy=None,
                 interval=30.0, timeout=10.0):
        self.url = url
        self.connect = connect
        self.topics = list(topics)
        self.cache = cache if cache is not None else QueryCache()
        self.policy = policy if policy is not None else BackoffPolicy()
        self.interval = interval
        self.timeout = timeout
        self.handlers = Dispatcher()
        self.state = "disconnected"
        self.notifications = []
        self._task = None

    def on(self, type):
        return self.handlers.on(type)

    def _url(self):
        return f"{self.url}?topics={','.join(self.topics)}" if self.topics else self.url

    def start(self):
        if self._task is None or self._task.done():
            self.state = "connecting"
            self._task = asyncio.create_task(self._run())

    async def _stop(self):
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def close(self):
        await self._stop()
        self.state = "closed"

    async def reconnect(self):
        await self._stop()
        self.start()

    async def _run(self):
        attempt = 0
        lost_before = False
        while True:
            try:
                async with self.connect(self._url()) as ws:
                    self.state = "connected"
                    attempt = 0
                    if lost_before:
                        for topic in self.topics:
                            self.cache.invalidate((topic,))
                    await self._session(ws)
            except ConnectionError:
                pass
            lost_before = True
            self.state = "reconnecting"
            attempt += 1
            if attempt > self.policy.max_attempts:
                self.state = "disconnected"
                self.notifications.append("WebSocket unavailable")
                return
            await asyncio.sleep(self.policy.delay(attempt))

    async def _session(self, ws):
        pong = asyncio.Event()

        async def read():
            async for text in ws:
                try:
                    message = json.loads(text)
                except ValueError:
                    continue
                if not isinstance(message, dict):
                    continue
                if message.get("type") == "pong":
                    pong.set()
                    continue
                self.handlers.dispatch(message)
                if message.get("topic"):
                    self.cache.invalidate((message["topic"],))

        reader = asyncio.create_task(read())
        beat = asyncio.create_task(heartbeat(ws, pong, interval=self.interval,
                                             timeout=self.timeout))
        try:
            done, _ = await asyncio.wait({reader, beat}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, beat):
                task.cancel()
            await asyncio.gather(reader, beat, return_exceptions=True)
        if beat in done:
            await ws.close(1006)  # dead: nobody will answer a polite close
        for task in done:
            if not task.cancelled() and isinstance(task.exception(), ConnectionError):
                raise task.exception()


class SeedStates(Live):
    """Every attempt says "connecting" -- the flicker the seed's four states avoid."""

    async def _run(self):
        attempt = 0
        lost = False
        while True:
            self.state = "connecting"
            try:
                async with self.connect(self._url()) as ws:
                    self.state = "connected"
                    attempt = 0
                    if lost:
                        for topic in self.topics:
                            self.cache.invalidate((topic,))
                    await self._session(ws)
            except ConnectionError:
                pass
            lost = True
            attempt += 1
            if attempt > self.policy.max_attempts:
                self.state = "disconnected"
                self.notifications.append("WebSocket unavailable")
                return
            self.state = "reconnecting"
            await asyncio.sleep(self.policy.delay(attempt))


class Endless(Live):
    """The seed's mistake 4: no maximum."""

    async def _run(self):
        attempt = 0
        lost = False
        while True:
            try:
                async with self.connect(self._url()) as ws:
                    self.state = "connected"
                    attempt = 0
                    if lost:
                        for topic in self.topics:
                            self.cache.invalidate((topic,))
                    await self._session(ws)
            except ConnectionError:
                pass
            lost = True
            self.state = "reconnecting"
            attempt += 1
            await asyncio.sleep(self.policy.delay(min(attempt, 5)))


class NoHeartbeat(Live):
    """The seed's mistake 3: a frozen server looks connected forever."""

    async def _session(self, ws):
        async for text in ws:
            message = json.loads(text)
            self.handlers.dispatch(message)
            if message.get("topic"):
                self.cache.invalidate((message["topic"],))


class SeedHeartbeat(Live):
    """The seed's ✅ heartbeat: pings, never a pong timeout."""

    async def _session(self, ws):
        async def ping():
            while True:
                await asyncio.sleep(self.interval)
                await ws.send({"type": "ping"})

        pinger = asyncio.create_task(ping())
        try:
            await NoHeartbeat._session(self, ws)
        finally:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)


class ReconnectsAfterClose(Live):
    """The seed's reconnect example: the unmount's close() leads to a new connection."""

    async def close(self):
        task = self._task
        if task is not None:
            task.cancel()  # not awaited; and the loop below swallows it
        self.state = "closed"

    async def _run(self):
        attempt = 0
        while True:
            try:
                async with self.connect(self._url()) as ws:
                    self.state = "connected"
                    attempt = 0
                    await self._session(ws)
            except BaseException:
                pass
            attempt += 1
            if attempt > self.policy.max_attempts:
                self.state = "disconnected"
                self.notifications.append("WebSocket unavailable")
                return
            with contextlib.suppress(BaseException):
                await asyncio.sleep(self.policy.delay(attempt))


class NoResync(Live):
    """Forgets that events were missed while the socket was down."""

    async def _run(self):
        attempt = 0
        while True:
            try:
                async with self.connect(self._url()) as ws:
                    self.state = "connected"
                    attempt = 0
                    await self._session(ws)
            except ConnectionError:
                pass
            self.state = "reconnecting"
            attempt += 1
            if attempt > self.policy.max_attempts:
                self.state = "disconnected"
                self.notifications.append("WebSocket unavailable")
                return
            await asyncio.sleep(self.policy.delay(attempt))


class OnClient:
    """Right, written differently: wslearn's own Client does the work; `state` mirrors it."""

    def __init__(self, url, connect, *, topics=(), cache=None, policy=None,
                 interval=30.0, timeout=10.0):
        self.cache = cache if cache is not None else QueryCache()
        for topic in topics:
            self.cache.bind(topic, (topic,))
        self.state = "disconnected"
        self.client = Client(url, topics=topics, cache=self.cache, policy=policy,
                             heartbeat=HeartbeatPolicy(interval, timeout),
                             dialer=lambda u: connect(u))
        self.client.add_listener(self._changed)
        self._starting = None

    @property
    def notifications(self):
        return self.client.notifications

    def _changed(self, kind, payload):
        if kind == "state":
            self.state = str(payload)

    def on(self, type):
        return self.client.on(type)

    def start(self):
        self._starting = asyncio.ensure_future(self.client.connect())

    async def reconnect(self):
        await self.client.reconnect()

    async def close(self):
        if self._starting is not None:
            await asyncio.gather(self._starting, return_exceptions=True)
        await self.client.close()


CASES = [
    Case("connecting-on-every-retry", "wrong-states", (SeedStates,)),
    Case("seed-endless-reconnect", "infinite-retries", (Endless,)),
    Case("seed-no-heartbeat", "no-heartbeat", (NoHeartbeat,)),
    Case("seed-ping-without-pong", "no-pong-timeout", (SeedHeartbeat,)),
    Case("seed-reconnect-after-unmount", "reconnect-after-close", (ReconnectsAfterClose,)),
    Case("no-resync-after-reconnect", "no-reconnect-invalidation", (NoResync,)),
    Case("right-solution-shape", None, (Live,)),
    Case("right-on-wslearn-client", None, (OnClient,)),
]


# -- found by mutation testing and the blind-class review (issue 11) -----------------------


class NeverResets(Live):
    """The counter is never reset after a reconnect: the second outage gets fewer retries
    (passed while every scenario had a single outage)."""

    async def _run(self):
        attempt = 0
        lost_before = False
        while True:
            try:
                async with self.connect(self._url()) as ws:
                    self.state = "connected"
                    if lost_before:
                        for topic in self.topics:
                            self.cache.invalidate((topic,))
                    await self._session(ws)
            except ConnectionError:
                pass
            lost_before = True
            self.state = "reconnecting"
            attempt += 1
            if attempt > self.policy.max_attempts:
                self.state = "disconnected"
                self.notifications.append("WebSocket unavailable")
                return
            await asyncio.sleep(self.policy.delay(attempt))


class DefaultHeartbeat(Live):
    """Takes interval/timeout but never passes them on: the heartbeat runs with 30/10 s
    (passed while every scenario used the defaults)."""

    async def _session(self, ws):
        interval, timeout = self.interval, self.timeout
        self.interval, self.timeout = 30.0, 10.0
        try:
            await super()._session(ws)
        finally:
            self.interval, self.timeout = interval, timeout


class InvalidatesEverything(Live):
    """After a reconnect it invalidates every query, subscribed or not, and on the first
    connect too (passed while the checker only counted refetches of one topic)."""

    async def _run(self):
        attempt = 0
        while True:
            try:
                async with self.connect(self._url()) as ws:
                    self.state = "connected"
                    attempt = 0
                    self.cache.invalidate(())
                    await self._session(ws)
            except ConnectionError:
                pass
            self.state = "reconnecting"
            attempt += 1
            if attempt > self.policy.max_attempts:
                self.state = "disconnected"
                self.notifications.append("WebSocket unavailable")
                return
            await asyncio.sleep(self.policy.delay(attempt))


class KeepsTryingAfterGivingUp(Live):
    """Notifies and shows "disconnected", then quietly goes on retrying every 30 s."""

    async def _run(self):
        attempt = 0
        lost_before = False
        while True:
            try:
                async with self.connect(self._url()) as ws:
                    self.state = "connected"
                    attempt = 0
                    if lost_before:
                        for topic in self.topics:
                            self.cache.invalidate((topic,))
                    await self._session(ws)
            except ConnectionError:
                pass
            lost_before = True
            self.state = "reconnecting"
            attempt += 1
            if attempt > self.policy.max_attempts:
                self.state = "disconnected"
                if "WebSocket unavailable" not in self.notifications:
                    self.notifications.append("WebSocket unavailable")
                await asyncio.sleep(30)
                continue
            await asyncio.sleep(self.policy.delay(attempt))


class CloseDoesNotWait(Live):
    """close() cancels the task and returns at once: the task still runs when it returns."""

    async def close(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.state = "closed"


CASES += [
    Case("counter-never-reset", "no-reset", (NeverResets,)),
    Case("ignores-interval-and-timeout", "heartbeat-args", (DefaultHeartbeat,)),
    Case("invalidates-everything", "invalidation-too-broad", (InvalidatesEverything,)),
    Case("keeps-trying-after-giving-up", "keeps-running", (KeepsTryingAfterGivingUp,)),
    Case("close-does-not-wait", "close-not-awaited", (CloseDoesNotWait,)),
]


class HardCodedSchedule(Live):
    """Ignores self.policy: 1, 2, 4, 8, 16 s and 5 attempts written into the loop."""

    async def _run(self):
        attempt = 0
        lost_before = False
        while True:
            try:
                async with self.connect(self._url()) as ws:
                    self.state = "connected"
                    attempt = 0
                    if lost_before:
                        for topic in self.topics:
                            self.cache.invalidate((topic,))
                    await self._session(ws)
            except ConnectionError:
                pass
            lost_before = True
            self.state = "reconnecting"
            attempt += 1
            if attempt > 5:
                self.state = "disconnected"
                self.notifications.append("WebSocket unavailable")
                return
            await asyncio.sleep(min(30, 2 ** (attempt - 1)))


CASES += [
    Case("ignores-the-policy", "ignores-policy", (HardCodedSchedule,)),
]
