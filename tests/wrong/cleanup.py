"""Chapter 02: LiveFeed.mount / unmount -- the seed's forgotten cleanup and its cousins."""

from __future__ import annotations

import asyncio
import contextlib
import json

from . import Case


class Feed:
    """The solution's shape (mount starts a task; unmount closes the socket with 1000, then
    cancels and awaits the task)."""

    def __init__(self, connect):
        self.connect = connect
        self.messages = []
        self._task = None
        self._ws = None

    def mount(self, url):
        self._task = asyncio.create_task(self._listen(url))

    async def _listen(self, url):
        async with self.connect(url) as ws:
            self._ws = ws
            async for text in ws:
                self.messages.append(json.loads(text))

    async def unmount(self):
        if self._task is None:
            return
        if self._ws is not None:
            await self._ws.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = self._ws = None


class CancelOnly(Feed):
    """The old solution: cancel and await -- clean on the server's count, but websockets 17
    closes with 1011 when `async with connect()` is left by CancelledError."""

    async def unmount(self):
        if self._task is None:
            return
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None


class ClosesWithOtherCode(Feed):
    """Closes the socket, but with 1001 ("going away") as if the whole page were leaving."""

    async def unmount(self):
        if self._task is None:
            return
        if self._ws is not None:
            await self._ws.close(1001)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = self._ws = None


class NoCleanup(Feed):
    """The seed's mistake 1: `useEffect` without a returned cleanup."""

    async def unmount(self):
        pass


class CancelNoWait(Feed):
    """Cancels, but returns before the task (and its socket) is gone."""

    async def unmount(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None


class ClosesSavedSocket(Feed):
    """Closes the socket saved after connect() returned: nothing to close while connecting."""

    def __init__(self, connect):
        super().__init__(connect)
        self.ws = None

    def mount(self, url):
        asyncio.create_task(self._listen(url))  # noqa: RUF006 - the mistake under test

    async def _listen(self, url):
        self.ws = await self.connect(url)
        async for text in self.ws:
            self.messages.append(json.loads(text))

    async def unmount(self):
        if self.ws is not None:
            await self.ws.close()
            self.ws = None


class NotTwice(Feed):
    """unmount() assumes a task: fails before mount and the second time."""

    async def unmount(self):
        if self._ws is not None:
            await self._ws.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None


class ReRaises(Feed):
    """Awaits the task expecting only CancelledError: a dropped connection's error escapes."""

    async def unmount(self):
        if self._task is None:
            return
        task, self._task = self._task, None
        if self._ws is not None:
            await self._ws.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class AwaitsConnection(Feed):
    """mount() waits for the connection (an async mount that connects inline)."""

    async def mount(self, url):
        self.ws = await self.connect(url)
        self._task = asyncio.create_task(self._read())

    async def _read(self):
        async for text in self.ws:
            self.messages.append(json.loads(text))

    async def unmount(self):
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.ws.close()


class StopEvent:
    """Right, written differently: a stop Event raced against the socket, explicit close."""

    def __init__(self, connect):
        self.connect = connect
        self.messages = []
        self._runner = None
        self._stop = asyncio.Event()

    def mount(self, url):
        self._stop = asyncio.Event()
        self._runner = asyncio.ensure_future(self._run(url, self._stop))

    async def _run(self, url, stop):
        opening = asyncio.ensure_future(self.connect(url))
        halted = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({opening, halted}, return_when=asyncio.FIRST_COMPLETED)
        if halted in done:
            opening.cancel()
            await asyncio.wait({opening})
            if not opening.cancelled() and opening.exception() is None:
                await opening.result().close()
            return
        halted.cancel()
        await asyncio.wait({halted})
        ws = opening.result()
        try:
            while not stop.is_set():
                reading = asyncio.ensure_future(ws.recv())
                halted = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({reading, halted},
                                             return_when=asyncio.FIRST_COMPLETED)
                for pending in {reading, halted} - done:
                    pending.cancel()
                    await asyncio.wait({pending})
                if reading in done:
                    self.messages.append(json.loads(reading.result()))
        finally:
            await ws.close()

    async def unmount(self):
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stop.set()
        await asyncio.wait({runner})
        if not runner.cancelled():
            runner.exception()  # retrieved: a dropped connection is not the caller's problem


CASES = [
    Case("seed-no-cleanup", "no-cleanup", (NoCleanup,)),
    Case("cancel-without-await", "cleanup-not-awaited", (CancelNoWait,)),
    Case("closes-saved-socket", "unmount-while-connecting", (ClosesSavedSocket,)),
    Case("unmount-not-idempotent", "double-unmount", (NotTwice,)),
    Case("unmount-reraises", "unmount-raises", (ReRaises,)),
    Case("mount-awaits-connection", "mount-blocks", (AwaitsConnection,)),
    Case("cancel-only-closes-1011", "closed-1011", (CancelOnly,)),
    Case("closes-with-1001", "not-closed-cleanly", (ClosesWithOtherCode,)),
    Case("right-solution-shape", None, (Feed,)),
    Case("right-stop-event", None, (StopEvent,)),
]
