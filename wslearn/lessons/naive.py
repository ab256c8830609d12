"""The seed's wrong clients, written faithfully in Python, for the "❌ mistake, live" cells.

* ``OneShotSocket`` -- mistake 2: one ``new WebSocket(url)`` and an ``onerror`` that only
  logs. When the connection dies it stays dead: nothing ever tries again.
* ``seed_keep_connected`` -- the seed's "✅ max attempts" snippet (chapter 04): retries
  with backoff and gives up after ``MAX_ATTEMPTS`` -- but its counter is never reset after
  a successful connection, so a long session with a few short blips gives up although
  every reconnect worked. ``reset_on_success=True`` is the one-line fix.
* ``until(predicate)`` -- wait for a condition on the real loop, bounded (notebooks wait
  for conditions, never for durations).

These exist to be *wrong* on purpose; the right client is ``wslearn.Client``.
"""

from __future__ import annotations

import asyncio
import json

from ..clock import Clock, default_clock
from ..protocol import ABNORMAL_CLOSURE, NORMAL_CLOSURE
from ..timeline import Entry, Timeline
from ..transport import ConnectFailed, ConnectionLost, Dialer, Transport, websocket_dialer
from ..waiting import until  # re-exported: chapters 03-05 import it from here

__all__ = ["OneShotSocket", "seed_keep_connected", "until"]


class OneShotSocket:
    """The seed's ❌ for mistake 2, in Python::

        const ws = new WebSocket(url)
        ws.onerror = () => console.log('Connection failed')   // ...and that is all

    ``ready_state`` mirrors the browser's ``WebSocket.readyState`` names:
    ``CONNECTING`` -> ``OPEN`` -> ``CLOSED``. ``log`` holds what the handlers printed.
    Once ``CLOSED`` it never changes again: nothing reconnects.
    """

    def __init__(self, url: str, *, dialer: Dialer | None = None) -> None:
        self.url = url
        self.ready_state = "CONNECTING"
        self.log: list[str] = []
        #: Events (messages with a ``topic``) received so far.
        self.received = 0
        self._dialer = dialer if dialer is not None else websocket_dialer()
        self._transport: Transport | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> OneShotSocket:
        """``new WebSocket(url)``: one attempt; a failure is logged and that is the end."""
        try:
            self._transport = await self._dialer(self.url)
        except ConnectFailed as exc:
            self._fail(f"onerror: Connection failed ({exc.reason})")
            return self
        self.ready_state = "OPEN"
        self.log.append("onopen")
        self._reader = asyncio.get_running_loop().create_task(
            self._read(self._transport), name="wslearn-naive-socket-reader"
        )
        return self

    async def _read(self, transport: Transport) -> None:
        try:
            while True:
                data = await transport.recv()
                try:
                    message = json.loads(data)
                except ValueError:
                    continue
                if isinstance(message, dict) and "topic" in message:
                    self.received += 1  # an event (not the welcome)
        except ConnectionLost as exc:
            self._fail(f"onclose: code {exc.code}")

    def _fail(self, text: str) -> None:
        self.ready_state = "CLOSED"
        self.log.append(text)
        self.log.append("onerror: console.log('Connection failed')  -- and nothing else")

    async def close(self) -> None:
        """Cleanup (chapter 02): close the socket and end the reader."""
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._transport is not None:
            await self._transport.close(NORMAL_CLOSURE, "")
            self._transport = None
        self.ready_state = "CLOSED"

    def __repr__(self) -> str:
        return f"<OneShotSocket {self.ready_state}, {len(self.log)} log lines>"


async def seed_keep_connected(
    url: str,
    *,
    dialer: Dialer | None = None,
    clock: Clock | None = None,
    max_attempts: int = 5,
    reset_on_success: bool = False,
    timeline: Timeline | None = None,
) -> Timeline:
    """The seed's "✅ max attempts with fallback" snippet, run until it gives up (or is cancelled)::

        ws.onclose = () => {
          if (attempt < MAX_ATTEMPTS) setTimeout(connect, delay)   // and attempt + 1
          else showNotification('WebSocket unavailable')
        }

    ``attempt`` counts every reconnect of the page's lifetime: nothing sets it back to 0
    when a connection succeeds. ``reset_on_success=True`` adds the missing
    ``attempt = 0`` in ``onopen``. Returns the timeline (logical time = clock time since
    the start, rounded to ms; use a virtual clock for stable output).
    """
    dial = dialer if dialer is not None else websocket_dialer()
    clk = clock if clock is not None else default_clock()
    tl = timeline if timeline is not None else Timeline()
    start = clk.now()
    attempt = 0

    def now() -> float:
        return round(clk.now() - start, 3)

    def of() -> str:
        return f"{attempt}/{max_attempts}"

    tl.append(Entry(now(), "connect", "connect: opening the socket", state="connecting"))
    while True:
        try:
            transport = await dial(url)
        except ConnectFailed as exc:
            lost = f"attempt {of()} failed ({exc.reason})"
            kind = "failed"
        else:
            if reset_on_success:
                attempt = 0
            note = "; attempt = 0" if reset_on_success else f" (attempt is still {attempt})"
            text = "connected" + note
            tl.append(Entry(now(), "connected", text, state="connected", attempt=attempt))
            try:
                while True:
                    await transport.recv()
            except ConnectionLost as exc:
                lost = f"connection lost ({exc.code})"
                kind = "lost"
            finally:
                await transport.close(ABNORMAL_CLOSURE, "")
        if attempt < max_attempts:
            attempt += 1
            delay = float(min(2 ** (attempt - 1), 30))
            tl.append(
                Entry(
                    now(),
                    kind,
                    f"{lost}; attempt {of()} in {delay:g}s",
                    state="reconnecting",
                    attempt=attempt,
                    delay=delay,
                )
            )
            await clk.sleep(delay)
            tl.append(
                Entry(
                    now(),
                    "attempt",
                    f"attempt {of()}: opening the socket",
                    state="reconnecting",
                    attempt=attempt,
                )
            )
        else:
            tl.append(
                Entry(
                    now(),
                    "gave-up",
                    f"{lost}; attempt == MAX_ATTEMPTS: showNotification('WebSocket unavailable')",
                    state="disconnected",
                )
            )
            return tl
