"""Polling vs long polling vs SSE vs push, on one workload, with real traffic on a logical
schedule.

Chapters 00 and 10 compare the ways a client can learn about changes on the server:

* **polling** -- ``GET /api/topics/<topic>`` every ``poll_every`` seconds (what a
  ``refetchInterval`` does);
* **long polling** -- ``GET /api/topics/<topic>?after=N&wait=S``: the server holds the
  request until something newer than version ``N`` exists, then the client asks again;
* **sse** -- one ``GET /api/stream/<topic>`` (``server.sse_url``) that stays open: a
  server-sent event stream (``text/event-stream``), one ``data:`` event per change;
* **push** -- one WebSocket subscribed to the topic; the server sends each event.

Everything is real -- the in-kernel server, real HTTP requests, a real WebSocket --
but the *schedule* is logical: events are published at planned times and polls happen
at planned times, in logical-time order, each step awaited before the next. So what
each client sees, how many requests it made and how many bytes the server sent are the
same run after run, on a busy machine too; staleness is measured in logical seconds.
(Byte counts include the topic's version number: start from a topic nobody has
published to -- a fresh server -- to get the same bytes every run.)

    from wslearn.lessons.polling import Schedule, run_workload
    result = await run_workload(server, Schedule.demo())
    result.table()          # requests, bytes, changes seen, staleness per way
    result.picture()        # an SVG: events, polls and what each poll saw
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from html import escape
from typing import Any, Final, Literal

from websockets.asyncio.client import connect

__all__ = [
    "HttpReply",
    "Observation",
    "Schedule",
    "WayResult",
    "WorkloadResult",
    "http_get",
    "run_workload",
]

#: How long one step of the schedule may take in real time before we give up (seconds).
STEP_TIMEOUT: Final = 10.0
#: The ``wait`` of a long poll (seconds; the server allows up to 30).
LONG_POLL_WAIT: Final = 30.0

Way = Literal["polling", "long-poll", "sse", "push"]
WAYS: Final[tuple[Way, ...]] = ("polling", "long-poll", "sse", "push")


@dataclass(frozen=True)
class Schedule:
    """When the server publishes (``events``) and how often the poller asks.

    Times are logical seconds. Polls happen at ``poll_every``, ``2 * poll_every`` ...
    up to ``until``. An event and a poll at the same instant: the event comes first.
    """

    events: tuple[float, ...]
    poll_every: float
    until: float
    topic: str = "prices"
    type: str = "price.changed"

    def __post_init__(self) -> None:
        if not self.events or list(self.events) != sorted(self.events):
            raise ValueError("events must be a non-empty list of times in increasing order")
        if self.poll_every <= 0:
            raise ValueError(f"poll_every must be > 0, got {self.poll_every!r}")
        if self.until < self.events[-1]:
            raise ValueError("until must not be before the last event")

    @classmethod
    def demo(cls) -> Schedule:
        """Chapter 00: 10 changes in 12 s, a poll every 3 s."""
        return cls((0.5, 1.2, 1.4, 3.5, 5.1, 5.3, 5.9, 8.2, 9.5, 10.9), 3.0, 12.0)

    @classmethod
    def busy(cls) -> Schedule:
        """Chapter 10: 20 changes in 30 s (bursts and quiet spells), a poll every 2 s."""
        events = (0.4, 0.9, 1.1, 3.2, 5.5, 5.6, 5.7, 5.8, 9.1, 12.4,
                  12.5, 15.8, 18.3, 20.2, 20.4, 22.7, 25.1, 25.3, 27.9, 29.2)
        return cls(events, 2.0, 30.0)

    def polls(self) -> tuple[float, ...]:
        n = int(self.until / self.poll_every + 1e-9)
        return tuple(round(k * self.poll_every, 6) for k in range(1, n + 1))

    def steps(self) -> list[tuple[float, str, int]]:
        """The merged schedule: ``(t, "publish" | "poll", index)`` in logical order."""
        steps = [(t, "publish", i) for i, t in enumerate(self.events)]
        steps += [(t, "poll", i) for i, t in enumerate(self.polls())]
        return sorted(steps, key=lambda s: (s[0], s[1] != "publish", s[2]))


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes
    size: int  #: bytes of the whole response (status line, headers, body)

    def json(self) -> Any:
        return json.loads(self.body)


async def http_get(host: str, port: int, path: str, timeout: float = STEP_TIMEOUT) -> HttpReply:
    """One plain HTTP/1.1 GET on the event loop (no thread, no proxy): status, body, size.

    Like ``server.url()``, it carries the key of the in-kernel server listening on
    ``port`` (servers are keyed by default), so a lesson never spells the secret.
    """
    path = _with_server_key(port, path)
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                         .encode())
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):  # the server closed first: nothing to do
                await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return HttpReply(status, body, len(raw))


@dataclass(frozen=True)
class Observation:
    """One way's view of one change: when it learned of it, and whether it saw its data."""

    index: int  #: 0-based event number
    published: float
    learned: float | None  #: logical time this way knew the change existed (None: never)
    saw_payload: bool  #: it received this very event (not just a later one)

    @property
    def staleness(self) -> float | None:
        return None if self.learned is None else round(self.learned - self.published, 6)


@dataclass
class WayResult:
    """What one way did over the whole schedule."""

    way: Way
    observations: list[Observation] = field(default_factory=list)
    requests: int = 0  #: HTTP requests (polling, long-poll, sse) or WebSocket handshakes (push)
    bytes_down: int = 0  #: bytes the server sent to this client
    frames: int = 0  #: WebSocket event frames (push) or server-sent events (sse)

    @property
    def seen(self) -> int:
        """Changes whose own data this client received."""
        return sum(o.saw_payload for o in self.observations)

    @property
    def missed(self) -> int:
        return len(self.observations) - self.seen

    def staleness(self) -> list[float]:
        return [s for o in self.observations if (s := o.staleness) is not None]

    @property
    def mean_staleness(self) -> float:
        values = self.staleness()
        return round(sum(values) / len(values), 3) if values else 0.0

    @property
    def max_staleness(self) -> float:
        return max(self.staleness(), default=0.0)


@dataclass
class WorkloadResult:
    schedule: Schedule
    ways: dict[str, WayResult]
    polls_seen: list[tuple[float, int, int | None]]  #: (t, version, id of "last") per poll

    def __getitem__(self, way: str) -> WayResult:
        return self.ways[way]

    def table(self) -> str:
        """One row per way: requests, bytes down, changes seen, staleness (logical s)."""
        n = len(self.schedule.events)
        head = (f"{'way':<10} {'requests':>8} {'bytes down':>10} {'changes seen':>13} "
                f"{'missed':>6} {'mean stale':>10} {'max stale':>9}")
        lines = [head, "-" * len(head)]
        for r in self.ways.values():
            lines.append(
                f"{r.way:<10} {r.requests:>8} {r.bytes_down:>10} {f'{r.seen}/{n}':>13} "
                f"{r.missed:>6} {r.mean_staleness:>9.2f}s {r.max_staleness:>8.2f}s"
            )
        return "\n".join(lines)

    def poll_log(self) -> str:
        """What each poll saw: the version (how many changes so far) and the last change."""
        lines, before = [], 0
        for t, version, last in self.polls_seen:
            new = version - before
            what = "nothing new" if new == 0 else (
                f"{new} new change{'s' if new != 1 else ''}, data of #{last} only"
                if new > 1 else f"1 new change: #{last}")
            lines.append(f"t={t:5.1f}s  poll  version={version:<3} {what}")
            before = version
        return "\n".join(lines)

    def picture(self, way: str = "polling", width: int = 640) -> Picture:
        """Events on a time axis, the polls, and which poll first learned of each event."""
        return Picture(self, way, width)


@dataclass(frozen=True)
class Picture:
    """An SVG of the schedule (deterministic: same result, same bytes); text as repr."""

    result: WorkloadResult
    way: str
    width: int = 640

    def __repr__(self) -> str:
        r = self.result[self.way]
        lines = [f"{self.way}: {r.seen}/{len(r.observations)} changes seen, "
                 f"mean staleness {r.mean_staleness:.2f}s"]
        for o in r.observations:
            if o.learned is None:
                lines.append(f"  #{o.index} at {o.published:4.1f}s: never learned of it")
            else:
                lines.append(f"  #{o.index} at {o.published:4.1f}s: learned at {o.learned:4.1f}s "
                             f"(stale {o.staleness:.1f}s){'' if o.saw_payload else ', data lost'}")
        return "\n".join(lines)

    def to_text(self) -> str:
        return repr(self)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        # text/html with the SVG as an <img>: drawn even in an untrusted notebook
        from ..svg import img_html

        alt = repr(self).split("\n", 1)[0]
        return {"text/html": img_html(self.to_svg(), alt), "text/plain": repr(self)}

    def to_svg(self) -> str:
        s = self.result.schedule
        r = self.result[self.way]
        left, right, w = 110, 16, self.width
        span = s.until or 1.0

        def x(t: float) -> float:
            return left + (w - left - right) * t / span

        y_ev, y_way, h = 40, 100, 150
        font = "font-family='system-ui, sans-serif' font-size='12'"
        out = [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' "
            f"viewBox='0 0 {w} {h}' role='img' aria-label='events and {escape(self.way)}'>",
            f"<rect width='{w}' height='{h}' fill='white'/>",
            f"<text x='8' y='{y_ev + 4}' {font}>server publishes</text>",
            f"<text x='8' y='{y_way + 4}' {font}>{escape(self.way)} client</text>",
            f"<line x1='{left}' y1='{y_ev}' x2='{w - right}' y2='{y_ev}' stroke='#999'/>",
            f"<line x1='{left}' y1='{y_way}' x2='{w - right}' y2='{y_way}' stroke='#999'/>",
        ]
        if self.way == "polling":
            for t in s.polls():
                out.append(f"<line x1='{x(t):.1f}' y1='{y_way - 10}' x2='{x(t):.1f}' "
                           f"y2='{y_way + 10}' stroke='#0072B2' stroke-width='2'/>")
        for o in r.observations:
            colour = "#009E73" if o.saw_payload else "#D55E00"
            out.append(f"<circle cx='{x(o.published):.1f}' cy='{y_ev}' r='5' fill='{colour}'/>")
            if o.learned is not None:
                out.append(f"<line x1='{x(o.published):.1f}' y1='{y_ev + 5}' "
                           f"x2='{x(o.learned):.1f}' y2='{y_way - 10}' stroke='{colour}' "
                           "stroke-opacity='0.7'/>")
                if self.way != "polling":
                    out.append(f"<circle cx='{x(o.learned):.1f}' cy='{y_way}' r='4' "
                               f"fill='{colour}'/>")
        for k in range(int(span) + 1):
            if k % 2 == 0 or span <= 12:
                out.append(f"<text x='{x(k):.1f}' y='{y_way + 28}' text-anchor='middle' "
                           f"{font}>{k}</text>")
        out.append(f"<text x='{left}' y='{h - 8}' {font}>logical s -- green: data arrived; "
                   "red: overwritten before anyone asked</text>")
        out.append("</svg>")
        return "".join(out)


async def _wait(predicate: Any, timeout: float = STEP_TIMEOUT) -> None:
    """Poll a condition on the loop (bounded): the server counts on its own thread."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.002)


async def run_workload(server: Any, schedule: Schedule,
                       ways: tuple[str, ...] = WAYS) -> WorkloadResult:
    """Play ``schedule`` against ``server`` with the chosen ways, step by step.

    * publish step: ``server.publish(...)``; the push client receives the frame, the SSE
      client the event; the pending long poll returns and is re-issued (and we wait
      until the server holds it).
    * poll step: one ``GET /api/topics/<topic>``.

    The server must serve ``topic_app()`` and nobody else may publish to the topic or
    send HTTP requests meanwhile (the long poll waits on ``server.http_requests``).
    """
    unknown = set(ways) - set(WAYS)
    if unknown:
        raise ValueError(f"unknown way(s) {sorted(unknown)}; choose from {list(WAYS)}")
    host, port, topic = server.host, server.port, schedule.topic
    base = f"/api/topics/{topic}"
    key = getattr(server, "key", None)  # servers are keyed: every request carries it
    auth = f"&key={key}" if key else ""
    poll = f"{base}?{auth[1:]}" if key else base
    results: dict[str, WayResult] = {w: WayResult(w) for w in WAYS if w in ways}
    learned: dict[str, dict[int, tuple[float, bool]]] = {w: {} for w in results}
    polls_seen: list[tuple[float, int, int | None]] = []
    first = (await http_get(host, port, poll)).json()["version"]  # not counted: a baseline
    requests_issued = server.http_requests

    ws = None
    sse: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    long_poll: asyncio.Task[HttpReply] | None = None

    async def start_long_poll(after: int) -> asyncio.Task[HttpReply]:
        nonlocal requests_issued
        results["long-poll"].requests += 1
        requests_issued += 1
        task = asyncio.ensure_future(
            http_get(host, port, f"{base}?after={after}&wait={LONG_POLL_WAIT:g}{auth}",
                     timeout=LONG_POLL_WAIT + STEP_TIMEOUT))
        target = requests_issued
        await _wait(lambda: server.http_requests >= target)  # the server holds it now
        return task

    try:
        if "push" in results:
            ws = await connect(server.url(topics=[topic]), proxy=None, ping_interval=None,
                               open_timeout=STEP_TIMEOUT)
            results["push"].requests = 1
            assert ws.response is not None  # set by a successful connect()
            results["push"].bytes_down = len(ws.response.serialize())
            welcome = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
            results["push"].bytes_down += _frame_size(welcome)
        if "sse" in results:
            sse = await asyncio.wait_for(asyncio.open_connection(host, server.sse_port),
                                         STEP_TIMEOUT)
            sse[1].write(f"GET /api/stream/{topic}?{auth[1:]} HTTP/1.1\r\nHost: {host}\r\n"
                         "Accept: text/event-stream\r\n\r\n".encode())
            # the server subscribes the stream before it writes this head
            head = await asyncio.wait_for(sse[0].readuntil(b"\r\n\r\n"), STEP_TIMEOUT)
            if int(head.split(b" ", 2)[1]) != 200:
                raise RuntimeError(f"the SSE stream was refused: {head.splitlines()[0]!r}")
            requests_issued += 1
            results["sse"].requests = 1
            results["sse"].bytes_down = len(head)
        if "long-poll" in results:
            long_poll = await start_long_poll(first)
        for t, kind, i in schedule.steps():
            if kind == "publish":
                server.publish(topic, schedule.type, id=i)
                if ws is not None:
                    text = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
                    got = json.loads(text)["id"]
                    results["push"].frames += 1
                    results["push"].bytes_down += _frame_size(text)
                    learned["push"].setdefault(got, (t, True))
                if sse is not None:
                    raw = await asyncio.wait_for(sse[0].readuntil(b"\n\n"), STEP_TIMEOUT)
                    data = _sse_data(raw)
                    results["sse"].frames += 1
                    results["sse"].bytes_down += len(raw)
                    learned["sse"].setdefault(data["id"], (t, True))
                if long_poll is not None:
                    reply = await asyncio.wait_for(long_poll, LONG_POLL_WAIT + STEP_TIMEOUT)
                    long_poll = None
                    data = reply.json()
                    results["long-poll"].bytes_down += reply.size
                    _learn(learned["long-poll"], data, first, t)
                    if i + 1 < len(schedule.events):
                        long_poll = await start_long_poll(data["version"])
            elif "polling" in results:
                reply = await http_get(host, port, poll)
                requests_issued += 1
                data = reply.json()
                results["polling"].requests += 1
                results["polling"].bytes_down += reply.size
                _learn(learned["polling"], data, first, t)
                last = data["last"]["id"] if data["last"] else None
                polls_seen.append((t, data["version"] - first, last))
    finally:
        if long_poll is not None:
            long_poll.cancel()
            await asyncio.gather(long_poll, return_exceptions=True)
        if ws is not None:
            await ws.close()
        if sse is not None:
            sse[1].close()
            with contextlib.suppress(OSError):
                await sse[1].wait_closed()
    for way, result in results.items():
        for i, published in enumerate(schedule.events):
            when, saw = learned[way].get(i, (None, False))
            result.observations.append(Observation(i, published, when, saw))
    return WorkloadResult(schedule, dict(results), polls_seen)


def _with_server_key(port: int, path: str) -> str:
    """``path`` plus ``key=`` of the running in-kernel server on ``port``, if it has one."""
    if "key=" in path:
        return path
    from .. import server as server_module

    for server in list(server_module._live_servers):
        if server.running and server.key and server._port == port:
            return path + ("&" if "?" in path else "?") + "key=" + server.key
    return path


def _learn(seen: dict[int, tuple[float, bool]], data: dict[str, Any], first: int,
           t: float) -> None:
    """An HTTP answer says "version n, last = event k": every event up to n is now known,
    but only event k's own data arrived (the ones in between were overwritten)."""
    version = data["version"] - first
    last = data["last"]["id"] if data["last"] else None
    for i in range(version):
        if i not in seen:
            seen[i] = (t, i == last)


def _sse_data(raw: bytes) -> Any:
    """The JSON of one server-sent event (its ``data:`` lines, joined)."""
    lines = raw.decode().split("\n")
    return json.loads("\n".join(line[len("data: "):] for line in lines
                                if line.startswith("data: ")))


def _frame_size(text: str | bytes) -> int:
    """Bytes of one unmasked server-to-client frame: header + payload."""
    n = len(text.encode() if isinstance(text, str) else text)
    return n + (2 if n < 126 else 4 if n < 65536 else 10)
