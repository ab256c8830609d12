"""The asyncio driver: the Python twin of the seed's ``useWebSocket`` hook.

``Client`` performs what ``ConnectionMachine`` decides -- open a socket, arm a timer,
send a ping, close -- on a real ``websockets`` connection or on the in-memory network
of ``wslearn.simnet`` (pass ``dialer=net.dialer``). It adds what a hook adds around
its state machine: topic subscriptions (``Subscriptions``), message handlers
(``Dispatcher``) and a query cache (``QueryCache``)::

    async with Client(server.url(), topics=["proposals"]) as client:
        @client.on("proposal.created")
        def show(data): ...
        await client.wait_for("connected")

How it runs, and why:

* **One supervisor task per client**, on the caller's loop (a notebook's top-level
  ``await`` uses the kernel loop). It is the only code that feeds the machine and
  performs commands, so there are no races between "the user closed" and "a timer
  fired": every event -- a user request, a timer, a frame, a closed socket -- goes
  through one queue, in order. Helper tasks (the dial in flight, the reader of the
  open socket, async handlers) belong to it and are awaited when it ends.
* **``close()`` leaves nothing behind**: it cancels every timer (including a pending
  reconnect -- the seed's example leaks one), closes or aborts the socket or cancels
  the dial in flight, and awaits the supervisor: zero tasks, zero connections.
* **Timers run on a ``Clock``** (real, sped-up or virtual); the timeline uses the
  machine's *logical* time, so it is the same under every clock.
* **Nothing the server sends can crash the loop**: a malformed frame becomes an
  ``error`` entry, a handler that raises becomes an ``error`` entry, a listener that
  raises becomes an ``error`` entry, and the next frame is processed as usual.
* **Step by step**: ``await client.step()`` pauses the client and lets exactly one
  transition happen (the next timer, open, failure, close, ping or pong), returning
  its timeline lines; ``resume()`` lets it run freely again. A notebook can walk
  through "server stopped" ... "reconnected" line by line. While paused, frames
  still flow and user requests (``close()``, ``reconnect()``) still act at once.
* **Reconnects resync**: on every open the URL carries the *current* topics (not the
  ones of the first connect), and after a loss the client invalidates every query
  bound to its topics (``QueryCache.invalidate_subscribed``): events published while
  it was away are gone, so what it shows may be stale.

Chapter 11's production options (all off by default: chapters 01-10 see Module 07's
client) are performed here and decided elsewhere:

* ``close_policy=`` (``wslearn.close_policy``) and ``open_timeout=None`` go to the
  machine; ``RefreshCredentials`` forgets the cached token.
* ``token=`` (a str, or a sync or async callable returning one) is asked for before an
  open when none is cached; ``auth="query"`` adds ``?token=`` to the URL *that is
  dialled* (never to ``client.url``, reprs, frames or timelines), ``"first-message"``
  sends ``{"type": "auth", ...}`` as the first frame (shown redacted).
* ``resume=True`` keeps a ``ResumeCursor`` (``wslearn.resume``): every open carries
  ``?resume=``; the cursor decides what a numbered event is (new, duplicate, gap), the
  machine's reconnect ``Resync`` no longer invalidates everything, a ``resync`` message
  invalidates its one topic (``client.resume_stats`` counts).
* ``send_queue=SendQueue(...)`` (``wslearn.send_queue``) holds ``send()`` while not
  connected and is flushed, in order, after each open.
* ``offline()``, ``online()``, ``visible()`` feed the browser's signals to the machine.

Why one module of ~850 lines: ``Client`` is one class whose methods share the
supervisor's state (the queues, the timers, the socket generation). Every decision is
already elsewhere -- the machine, ``Subscriptions``, ``Dispatcher``, ``QueryCache``,
``protocol.message_kind`` -- so what is left here is the IO that performs them;
splitting it would spread the one-queue rule over several files.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, assert_never, get_args
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .auth import redact
from .backoff import BackoffPolicy
from .cache import Invalidation, QueryCache
from .clock import Clock, default_clock
from .close_policy import ClosePolicy
from .dispatch import Dispatcher, DispatchResult
from .heartbeat import HeartbeatPolicy
from .listeners import Listeners
from .machine import (
    CancelTimer,
    Closed,
    CloseRequested,
    CloseSocket,
    Command,
    Connect,
    ConnectionMachine,
    Event,
    Notify,
    Offline,
    Online,
    Opened,
    OpenFailed,
    OpenSocket,
    PongReceived,
    ReconnectRequested,
    RefreshCredentials,
    Resync,
    SendPing,
    StartTimer,
    TimerFired,
    Visible,
)
from .protocol import (
    ABNORMAL_CLOSURE,
    NORMAL_CLOSURE,
    RESUME_PARAM,
    SEQ_FIELD,
    TOKEN_PARAM,
    TOPICS_PARAM,
    MessageKind,
    ProtocolError,
    decode,
    encode,
    message_kind,
    parse_topics_param,
)
from .resume import Observed, ResumeCursor
from .send_queue import Enqueued, SendQueue, SendQueueFull
from .states import State, as_state
from .subscriptions import Subscriptions
from .timeline import Entry, Timeline
from .transport import ConnectFailed, ConnectionLost, Dialer, Transport, websocket_dialer

__all__ = ["AuthMode", "Client", "Frame", "TokenSource"]

logger = logging.getLogger("wslearn.client")

Listener = Callable[[str, Any], object]
#: Malformed frames a client shows on its timeline before it only counts them.
MAX_IGNORED_ENTRIES: Final = 20
#: Messages queued during one outage that get a timeline line each; the rest are counted.
MAX_QUEUE_ENTRIES: Final = 10

#: ``token=``: the token itself, or a function (sync or async) that fetches a fresh one.
TokenSource = str | Callable[[], str | Awaitable[str]]
#: How the token reaches the server: ``?token=`` on the dialled URL, or a first frame.
AuthMode = Literal["query", "first-message"]
AUTH_MODES: Final[tuple[str, ...]] = get_args(AuthMode)

_client_numbers = itertools.count(1)


@dataclass(frozen=True)
class Frame:
    """One frame as the client saw it: ``direction`` "in" (from the server) or "out"."""

    direction: Literal["in", "out"]
    type: str | None
    topic: str | None
    text: str

    def __str__(self) -> str:
        return f"{'<-' if self.direction == 'in' else '->'} {self.text}"


# Items of the supervisor's queues. ``generation`` identifies the socket (or dial) an
# event belongs to, so an event from a socket the client already dropped is recognised
# as stale and ignored; ``token`` does the same for timers that were re-armed.
@dataclass
class _Net:
    generation: int
    event: Event
    transport: Transport | None = None


@dataclass
class _Message:
    generation: int
    data: str | bytes
    message: dict[str, Any] | None = None
    error: ProtocolError | None = None

    def __post_init__(self) -> None:
        try:
            self.message = decode(self.data)
        except ProtocolError as exc:
            self.error = exc

    @property
    def is_pong(self) -> bool:
        """A pong is a heartbeat transition (it waits for ``step()``), not just a frame."""
        return self.message is not None and self.message["type"] == "pong"


@dataclass
class _Timer:
    name: str
    token: int


@dataclass
class _Request:
    event: Event
    done: asyncio.Future[None]


def _kind_of(text: str) -> str:
    """A queued message's ``type`` for a timeline line (never its content)."""
    try:
        kind = decode(text)["type"]
    except ProtocolError:
        return "a text message"
    return repr(kind) if isinstance(kind, str) else "a message"


class Client:
    """A reconnecting WebSocket client (see the module docstring).

    ``url`` may carry ``?topics=a,b``; ``topics`` adds more. ``policy`` is the backoff
    (default: 1, 2, 4, 8, 16 s, 5 attempts), ``heartbeat`` the application heartbeat
    (default: none, like a bare ``new WebSocket``), ``clock`` the time source (default:
    virtual inside ``run_virtual``, else real), ``dialer`` the network (default: real
    ``websockets``), ``cache`` a ``QueryCache`` to invalidate (default: a new one),
    ``open_timeout`` how long an open may hang before it counts as failed (None: for
    ever -- chapter 11's mistake), ``paused`` to start in step-by-step mode.

    Chapter 11 (all opt-in): ``close_policy`` (default ``MODULE_07``), ``resume``,
    ``send_queue``, ``token`` with ``auth`` -- see the module docstring and
    ``docs/client.md``.
    """

    def __init__(
        self,
        url: str,
        *,
        topics: Iterable[str] = (),
        policy: BackoffPolicy | None = None,
        heartbeat: HeartbeatPolicy | None = None,
        clock: Clock | None = None,
        dialer: Dialer | None = None,
        cache: QueryCache | None = None,
        open_timeout: float | None = 10.0,
        paused: bool = False,
        max_frames: int = 200,
        close_policy: ClosePolicy | None = None,
        resume: bool = False,
        send_queue: SendQueue[str] | None = None,
        token: TokenSource | None = None,
        auth: AuthMode = "query",
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a str such as 'ws://127.0.0.1:8000/ws', got {url!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(
                f"url must be a websocket URL such as 'ws://127.0.0.1:8000/ws', got {url!r}"
            )
        if isinstance(topics, str):
            raise TypeError(f"topics must be a list of names, e.g. [{topics!r}], not a str")
        query = parse_qsl(parts.query, keep_blank_values=True)
        url_topics = [v for k, v in query if k == TOPICS_PARAM]
        initial = parse_topics_param(url_topics[-1] if url_topics else None) + list(topics)
        self._base = urlunsplit(parts._replace(query=""))
        # The client writes ``resume=`` itself; an explicit ``token=`` replaces the URL's.
        own = {TOPICS_PARAM, RESUME_PARAM} | ({TOKEN_PARAM} if token is not None else set())
        self._extra_query = [(k, v) for k, v in query if k not in own]
        if not isinstance(resume, bool):
            raise TypeError(f"resume must be True or False, got {resume!r}")
        if send_queue is not None and not isinstance(send_queue, SendQueue):
            raise TypeError(
                f"send_queue must be a wslearn.send_queue.SendQueue (e.g. SendQueue(limit=100)) "
                f"or None, got {type(send_queue).__name__}")
        if token is not None and not (isinstance(token, str) or callable(token)):
            raise TypeError(
                f"token must be a str or a function (sync or async) returning one, "
                f"got {type(token).__name__}")
        if isinstance(token, str) and not token:
            raise ValueError("token must not be empty (pass None for no token)")
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {AUTH_MODES}, got {auth!r}")
        if auth == "first-message" and token is None:
            raise ValueError('auth="first-message" needs token= (a str or a function)')
        if clock is not None and not isinstance(clock, Clock):
            raise TypeError(f"clock must be a wslearn Clock, got {type(clock).__name__}")
        if cache is not None and not isinstance(cache, QueryCache):
            raise TypeError(f"cache must be a QueryCache, got {type(cache).__name__}")
        if not isinstance(max_frames, int) or max_frames < 0:
            raise ValueError(f"max_frames must be an int >= 0, got {max_frames!r}")
        self.subscriptions = Subscriptions(initial)
        self.dispatcher = Dispatcher()
        self.cache = cache if cache is not None else QueryCache()
        self.timeline = Timeline()
        self.machine = ConnectionMachine(
            policy, heartbeat, open_timeout=open_timeout, close_policy=close_policy,
            resume=resume, timeline=self.timeline,
        )
        #: ``resume=True``: the last event number seen per topic (None: no resume).
        self.cursor: ResumeCursor | None = ResumeCursor() if resume else None
        #: Messages ``send()`` holds while not connected (None: raise, Module 07).
        self.send_queue = send_queue
        self.auth: AuthMode = auth
        self._token_source = token
        self._token: str | None = token if isinstance(token, str) else None
        #: Times a token was asked for (the first open, and after each 4401 refresh).
        self.token_fetches = 0
        self._stats = {"replayed": 0, "resynced": 0, "gaps": 0, "duplicates": 0}
        self._replay_heads: dict[str, int] = {}  # heads at this socket's welcome
        self._flushing = False
        self._queue_lines = 0
        self.frames: collections.deque[Frame] = collections.deque(maxlen=max_frames)
        #: Malformed frames received and ignored (only the first few reach the timeline).
        self.ignored_frames = 0
        #: Texts of the user notifications so far ("WebSocket unavailable").
        self.notifications: list[str] = []
        self.clock = clock
        self.paused = paused
        self._dialer: Dialer = dialer if dialer is not None else websocket_dialer()
        self._name = f"wslearn-client-{next(_client_numbers)}"
        self._listeners: Listeners[Listener] = Listeners("fn(kind, payload)")
        self._in_listener = False
        self.timeline.add_listener(self._entry_added)
        # Supervisor state (only touched on the client's loop).
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._requests: collections.deque[_Request] = collections.deque()
        self._events: collections.deque[_Net | _Message | _Timer] = collections.deque()
        self._timers: dict[str, tuple[int, asyncio.TimerHandle]] = {}
        self._tokens = itertools.count(1)
        self._generations = itertools.count(1)
        #: Bumped for every dial and every close: events tagged with an older generation
        #: come from a socket (or dial) the machine no longer cares about.
        self._generation = 0
        self._dial: asyncio.Task[None] | None = None
        self._transport: Transport | None = None
        self._reader: asyncio.Task[None] | None = None
        self._helpers: set[asyncio.Task[Any]] = set()
        self._waiters: list[tuple[State, asyncio.Future[None]]] = []
        self._change_waiters: list[asyncio.Future[None]] = []
        self._last_state = self.machine.state
        self._step_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._credits = 0

    # -- observation ---------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.machine.state

    @property
    def attempt(self) -> int:
        return self.machine.attempt

    @property
    def policy(self) -> BackoffPolicy:
        return self.machine.policy

    @property
    def heartbeat(self) -> HeartbeatPolicy | None:
        return self.machine.heartbeat

    @property
    def topics(self) -> tuple[str, ...]:
        return self.subscriptions.topics

    @property
    def url(self) -> str:
        """The URL the next open will use: the current topics, not the first ones.

        With ``resume=True`` it carries the cursor (``resume=news:12``). It never
        carries the ``token=`` you passed: that is added only to the URL that is dialled.
        """
        resume = ""
        if self.cursor is not None:
            resume = f"{RESUME_PARAM}={quote(self.cursor.query_value(), safe=':,')}"
        parts_of_query = (urlencode(self._extra_query), self.subscriptions.query(), resume)
        encoded = "&".join(q for q in parts_of_query if q)
        parts = urlsplit(self._base)
        return urlunsplit(parts._replace(query=encoded))

    @property
    def resume_stats(self) -> dict[str, int]:
        """``resume=True``: events ``replayed`` after a reconnect, topics ``resynced``,
        ``gaps`` seen in live numbering, ``duplicates`` dropped (a copy; zeros without
        resume)."""
        return dict(self._stats)

    def __repr__(self) -> str:
        topics = ",".join(self.topics) or "-"
        return f"<Client {self.state.value} topics={topics} {self.machine.attempt_label()}>"

    def add_listener(self, fn: Listener) -> Callable[[], None]:
        """Call ``fn(kind, payload)`` on the client's loop; returns a remover.

        ``kind``: ``"state"`` (a ``State``), ``"entry"`` (a timeline ``Entry``), ``"frame"``
        (a ``Frame``), ``"notify"`` (the text of a user notification). A listener must
        not print and should not raise: an error is recorded as an ``error`` entry and
        never reaches the driver. The same style as ``Server`` and ``Timeline``
        (``wslearn.listeners``).
        """
        return self._listeners.add(fn)

    def remove_listener(self, fn: Listener) -> None:
        """Stop calling ``fn`` (harmless if it is not registered)."""
        self._listeners.discard(fn)

    def note(self, text: str) -> Entry:
        """Add a note to the timeline at the current logical time ("server stopped")."""
        return self.timeline.note(str(text), t=self.machine.t, state=self.state.value)

    # -- handlers and subscriptions ------------------------------------------------------

    def on(self, type: str, fn: Callable[..., Any] | None = None) -> Any:
        """Register a handler for a message type: ``@client.on("x")`` or ``client.on("x", fn)``."""
        return self.dispatcher.on(type, fn) if fn is not None else self.dispatcher.on(type)

    async def subscribe(self, *topics: str) -> None:
        """Add topics now (a ``subscribe`` message) or for the next connect (when offline)."""
        for message in self.subscriptions.subscribe(*topics, connected=self._can_send()):
            await self._send_message(message)

    async def unsubscribe(self, *topics: str) -> None:
        """Remove topics (harmless for topics the client does not have)."""
        messages = self.subscriptions.unsubscribe(*topics, connected=self._can_send())
        if self.cursor is not None:  # a topic we left needs no position (nor resume= entry)
            self.cursor.keep_only(self.subscriptions.topics)
        for message in messages:
            await self._send_message(message)

    async def send(self, message: Mapping[str, Any] | str) -> None:
        """Send a message (a dict is JSON-encoded).

        Not connected: without a ``send_queue`` it raises ``ConnectionError`` (Module
        07); with one the message waits for the next open (or is dropped, counted, by
        the queue's bound; ``overflow="reject"`` raises ``SendQueueFull``).
        """
        if isinstance(message, Mapping):
            if not isinstance(message.get("type"), str):
                raise ValueError(f'a message needs a string "type" field, got {dict(message)!r}')
            message = encode(message)
        elif not isinstance(message, str):
            raise TypeError(f"send() takes a dict or a str, got {type(message).__name__}")
        if self.send_queue is None or self.state is State.CLOSED:
            if not self._can_send():
                raise ConnectionError(
                    f"cannot send: the client is {self.state.value}, not connected; "
                    'wait with `await client.wait_for("connected")` first'
                )
            await self._send_text(message)
            return
        if self._can_send() and not self._flushing and not len(self.send_queue):
            try:
                await self._send_text(message)
                return
            except ConnectionError:
                pass  # lost while sending: the frame did not go out; it waits like the rest
        self._enqueue(message)

    # -- lifecycle -----------------------------------------------------------------------

    async def connect(self) -> Client:
        """Start connecting; return once the first attempt settled (connected or retrying).

        In step-by-step mode (``paused``) it returns at once: use ``step()``.
        """
        if self.state is State.CLOSED:
            raise RuntimeError("this client was closed; create a new Client to connect again")
        await self._request(Connect())
        if not self.paused:
            await self._settled()
        return self

    async def reconnect(self) -> Client:
        """Start over now, attempts reset (the Reconnect button after "unavailable")."""
        if self.state is State.CLOSED:
            raise RuntimeError("this client was closed; create a new Client to connect again")
        await self._request(ReconnectRequested())
        if not self.paused:
            await self._settled()
        return self

    async def close(self, code: int = NORMAL_CLOSURE, reason: str = "") -> None:
        """Close for good: cancel timers, close the socket, end every task. Idempotent."""
        if self._task is None:
            if self.state is not State.CLOSED:
                self.machine.handle(CloseRequested(code, reason))
                self._state_changed()
            return
        if self.state is not State.CLOSED:
            await self._request(CloseRequested(code, reason))
        task = self._task
        if task is not None and not task.done():
            self._poke()
            await asyncio.wait({task})

    # -- the browser's signals (chapter 11) -------------------------------------------------

    async def offline(self) -> None:
        """The network is gone (the browser's ``offline`` event): retrying pauses."""
        await self._signal(Offline())

    async def online(self) -> None:
        """The network is back (``online``): a retrying client connects now, attempts reset."""
        await self._signal(Online())

    async def visible(self) -> None:
        """The page is shown again (``visibilitychange``): a pending backoff wait ends now."""
        await self._signal(Visible())

    async def _signal(self, event: Event) -> None:
        if self.state is State.CLOSED:
            return  # a closed client has nothing left to pause or resume
        await self._request(event)

    async def __aenter__(self) -> Client:
        return await self.connect()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def wait_for(self, state: str | State, timeout: float | None = None) -> State:
        """Wait until the client is in ``state`` (now, or after a transition).

        ``timeout`` is in clock seconds. Raises ``ConnectionError`` if the client reaches
        ``disconnected`` or ``closed`` while waiting for another state (it would never
        get there on its own), ``TimeoutError`` on timeout.
        """
        target = as_state(state)
        if self.state is target:
            return target
        if self.state is State.CLOSED:
            raise ConnectionError(f"the client is closed; it will never be {target.value}")
        if (self.state is State.DISCONNECTED and not self._requests and not self.machine.armed
                and self.machine.socket is None):
            raise ConnectionError(
                f"the client is disconnected (it gave up, or never connected) and will not "
                f"become {target.value} on its own: call `await client.reconnect()` "
                "(or `connect()`) first"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (target, future)
        self._waiters.append(entry)
        try:
            async with self._clock().timeout(timeout):
                await future
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)
        return target

    # -- step by step --------------------------------------------------------------------

    def pause(self) -> None:
        """Stop at the next transition until ``step()`` (frames and requests still flow)."""
        self.paused = True

    def resume(self) -> None:
        """Run freely again."""
        self.paused = False
        self._credits = 0
        while self._step_waiters:  # a step() in progress just got its wish
            waiter = self._step_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        self._poke()

    async def step(self, timeout: float | None = None) -> Timeline:
        """Let exactly one transition happen; return the timeline lines it wrote.

        Pauses the client first if it was running freely. Waits (on the client's clock)
        for the next event -- a timer, an open or a failure, a lost connection, a pong --
        so under a real clock a backoff wait takes its real time. ``timeout`` (clock
        seconds) raises ``TimeoutError`` if nothing happens.
        """
        if self.state is State.CLOSED:
            raise RuntimeError("the client is closed: there is nothing left to step")
        if self._task is None:
            raise RuntimeError("call `await client.connect()` first (with paused=True)")
        self.paused = True
        start = len(self.timeline)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._step_waiters.append(future)
        self._credits += 1
        self._poke()
        try:
            async with self._clock().timeout(timeout):
                await future
        except BaseException:
            if future in self._step_waiters:
                self._step_waiters.remove(future)
                self._credits = max(0, self._credits - 1)
            raise
        return self.timeline.since(start)

    # -- internals: requests from the user's task ----------------------------------------

    def _clock(self) -> Clock:
        if self.clock is None:
            self.clock = default_clock()
        return self.clock

    def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None:
            if self._loop is not loop:
                raise RuntimeError(
                    "this client runs on another event loop; use it from the loop that "
                    "connected it (a client cannot move between loops)"
                )
            return
        self._clock()
        self._loop = loop
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._supervise(), name=self._name)

    async def _request(self, event: Event) -> None:
        self._ensure_started()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._requests.append(_Request(event, done))
        self._poke()
        assert self._task is not None
        await asyncio.wait({done, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            raise RuntimeError("the client's supervisor task ended unexpectedly")

    async def _settled(self) -> None:
        """Wait until the requested open is decided (connected, retrying or given up)."""
        while self.state is State.CONNECTING:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._change_waiters.append(future)  # resolved by the next state change
            try:
                await future
            finally:
                if future in self._change_waiters:
                    self._change_waiters.remove(future)

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _can_send(self) -> bool:
        return self.state is State.CONNECTED and self._transport is not None

    # -- internals: the supervisor --------------------------------------------------------

    async def _supervise(self) -> None:
        assert self._wake is not None
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await self._drain()
                if self.state is State.CLOSED and not self._requests:
                    return
        finally:
            await self._shutdown()

    async def _drain(self) -> None:
        """Process user requests, then queued events (transitions wait while paused)."""
        while True:
            if self._requests:
                request = self._requests.popleft()
                try:
                    await self._guard(self._apply(request.event))
                finally:
                    if not request.done.done():
                        request.done.set_result(None)
                continue
            if not self._events:
                return
            item = self._events[0]
            if isinstance(item, _Message) and not item.is_pong:
                self._events.popleft()
                await self._guard(self._on_message(item))
                continue
            if self.paused and self._credits <= 0:
                return  # a transition is waiting for step()
            self._events.popleft()
            before = len(self.timeline)
            await self._guard(self._on_event(item))
            if self.paused and len(self.timeline) > before:
                self._credits -= 1
                while self._step_waiters:
                    waiter = self._step_waiters.popleft()
                    if not waiter.done():
                        waiter.set_result(None)
                        break

    async def _guard(self, coro: Any) -> None:
        """Run one piece of driver work; a bug in it becomes an ``error`` entry."""
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pragma: no cover - a driver bug, not a peer problem
            logger.error("wslearn client: internal error", exc_info=True)
            self._error(f"internal error: {type(exc).__name__}: {exc}")

    async def _on_event(self, item: _Net | _Message | _Timer) -> None:
        if isinstance(item, _Message):
            await self._on_message(item)
            return
        if isinstance(item, _Timer):
            current = self._timers.get(item.name)
            if current is None or current[0] != item.token:
                return  # cancelled or re-armed after this fire was queued: stale
            del self._timers[item.name]
            await self._apply(TimerFired(item.name))
            return
        if item.generation != self._generation:
            if item.transport is not None:  # a dial that finished after we gave up on it
                await self._discard(item.transport)
            return
        if isinstance(item.event, Opened):
            assert item.transport is not None
            self._dial = None
            self._transport = item.transport
            await self._apply(item.event)
            if self.state is State.CONNECTED and self._transport is item.transport:
                self._reader = self._spawn(self._read(item.generation, item.transport), "reader")
                self._replay_heads = {}
                try:
                    if self.auth == "first-message" and self._token is not None:
                        await self._send_message({"type": "auth", "token": self._token})
                    for message in self.subscriptions.on_connected():
                        await self._send_message(message)
                    await self._flush()
                except ConnectionError:
                    pass  # lost already: the reader reports the close as a transition
            elif self._transport is item.transport:  # the machine did not take it
                self._transport = None
                await self._discard(item.transport)
            return
        if isinstance(item.event, OpenFailed):
            self._dial = None
        if isinstance(item.event, Closed):
            self._reader = None
            transport, self._transport = self._transport, None
            if transport is not None:  # finish the closing handshake, free the socket
                await self._discard(transport, NORMAL_CLOSURE)
        await self._apply(item.event)

    async def _apply(self, event: Event) -> None:
        """Feed the machine and perform its commands, in order."""
        commands = self.machine.handle(event)
        for command in commands:
            await self._perform(command)
        self._state_changed()

    async def _perform(self, command: Command) -> None:
        match command:
            case StartTimer(name, delay):
                self._arm(name, delay)
            case CancelTimer(name):
                entry = self._timers.pop(name, None)
                if entry is not None:
                    entry[1].cancel()
            case OpenSocket():
                self._generation = next(self._generations)
                self._dial = self._spawn(self._open(self._generation), "dial")
            case CloseSocket(code, reason):
                await self._close_socket(code, reason)
            case SendPing():
                with contextlib.suppress(ConnectionError):
                    await self._send_message({"type": "ping"})
            case Notify(_, text):
                self.notifications.append(text)
                self._tell("notify", text)
            case Resync(invalidate):
                if invalidate:
                    self._resync()
                elif self.cursor is not None:
                    self.cursor.keep_only(self.subscriptions.topics)
            case RefreshCredentials():
                if not isinstance(self._token_source, str):
                    self._token = None  # the next open asks the token function again
            case _:  # pragma: no cover - mypy proves every command has a case
                assert_never(command)

    def _arm(self, name: str, delay: float) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old[1].cancel()
        token = next(self._tokens)

        def fire() -> None:
            self._events.append(_Timer(name, token))
            self._poke()

        self._timers[name] = (token, self._clock().call_later(delay, fire))

    async def _close_socket(self, code: int, reason: str) -> None:
        """Close the open socket, or cancel the dial in flight (the machine said so)."""
        self._generation = next(self._generations)  # whatever the old socket still reports is stale
        dial, self._dial = self._dial, None
        if dial is not None and not dial.done():
            dial.cancel()
            await asyncio.gather(dial, return_exceptions=True)
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        transport, self._transport = self._transport, None
        if transport is not None:
            await self._discard(transport, code, reason)

    async def _discard(
        self, transport: Transport, code: int = ABNORMAL_CLOSURE, reason: str = ""
    ) -> None:
        try:
            await transport.close(code, reason)
        except Exception:  # pragma: no cover - transports promise not to raise
            logger.error("wslearn client: closing a transport failed", exc_info=True)

    def _resync(self) -> None:
        self._report_invalidation("cache after reconnect",
                                  self.cache.invalidate_subscribed(self.subscriptions.topics))

    def _report_invalidation(self, what: str, result: Invalidation) -> None:
        if result.matched or result.errors:
            self._info(f"{what}: {result}")
        for error in result.errors:
            self._error(f"refetch failed: {error}")

    # -- internals: helper tasks -----------------------------------------------------

    def _spawn(self, coro: Any, what: str) -> asyncio.Task[Any]:
        assert self._loop is not None
        task = self._loop.create_task(coro, name=f"{self._name}-{what}")
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)
        return task

    async def _open(self, generation: int) -> None:
        """The dial in flight: report Opened (with the transport) or OpenFailed.

        A token function runs here, inside the dial: the machine's connect timeout
        covers a token endpoint that hangs, and ``close()`` cancels it like any dial.
        """
        try:
            url = self.url
            if self._token_source is not None and self._token is None:
                self._token = await self._fetch_token()
            if self.auth == "query" and self._token is not None:
                url += ("&" if urlsplit(url).query else "?") + urlencode(
                    {TOKEN_PARAM: self._token})
        except Exception as exc:  # never the text: it could quote the token
            self._post(_Net(generation, OpenFailed(f"no token ({type(exc).__name__})")))
            return
        try:
            transport = await self._dialer(url)
        except ConnectFailed as exc:
            self._post(_Net(generation, OpenFailed(redact(exc.reason))))
        except (ValueError, TypeError) as exc:  # a bad URL: retrying cannot help
            self._post(_Net(generation, OpenFailed(f"bad url: {redact(str(exc))}")))
        except Exception as exc:  # a dialer that raises anything else still fails an open
            self._post(_Net(generation, OpenFailed(type(exc).__name__)))
        else:
            self._post(_Net(generation, Opened(), transport))

    async def _fetch_token(self) -> str:
        source = self._token_source
        self.token_fetches += 1
        if isinstance(source, str):
            return source
        assert source is not None
        value = source()
        if inspect.isawaitable(value):
            value = await value
        if not isinstance(value, str) or not value:
            raise TypeError("the token function must return a non-empty str")
        return value

    async def _read(self, generation: int, transport: Transport) -> None:
        """The reader of the open socket: frames in, then one Closed."""
        try:
            while True:
                data = await transport.recv()
                self._post(_Message(generation, data))
        except ConnectionLost as exc:
            self._post(_Net(generation, Closed(exc.code, exc.reason)))
        except Exception:  # a broken transport is a dead connection
            self._post(_Net(generation, Closed()))

    def _post(self, item: _Net | _Message | _Timer) -> None:
        self._events.append(item)
        self._poke()

    async def _shutdown(self) -> None:
        """The supervisor is ending: cancel timers and helpers, close what is open."""
        for _, handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        with contextlib.suppress(Exception):
            await self._close_socket(NORMAL_CLOSURE, "")
        helpers = [t for t in self._helpers if not t.done()]
        for task in helpers:
            task.cancel()
        if helpers:
            await asyncio.gather(*helpers, return_exceptions=True)
        # Dials that finished after we stopped caring hold open transports: close them.
        for item in self._events:
            if isinstance(item, _Net) and item.transport is not None:
                await self._discard(item.transport)
        self._events.clear()
        for request in self._requests:
            if not request.done.done():
                request.done.set_result(None)
        self._requests.clear()
        for waiter in self._step_waiters:
            if not waiter.done():
                waiter.set_exception(RuntimeError("the client was closed while stepping"))
        self._step_waiters.clear()
        self._state_changed()

    # -- internals: messages -----------------------------------------------------------

    async def _on_message(self, item: _Message) -> None:
        if item.generation != self._generation:
            return  # from a socket we already dropped
        data = item.data
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        message = item.message
        if message is None:
            exc = item.error
            assert exc is not None
            self._frame(Frame("in", None, None, text))
            self.ignored_frames += 1
            # A server flooding invalid frames must not grow the timeline without bound:
            # the first MAX_IGNORED_ENTRIES are shown, then one line says the rest are
            # only counted (``client.ignored_frames``); ``frames`` is capped on its own.
            if self.ignored_frames <= MAX_IGNORED_ENTRIES:
                self._error(f"malformed frame ignored ({exc.code}: {exc.detail})")
            elif self.ignored_frames == MAX_IGNORED_ENTRIES + 1:
                self._error("more malformed frames: ignored and only counted "
                            "(client.ignored_frames)")
            return
        kind = message["type"]
        topic = message.get("topic") if isinstance(message.get("topic"), str) else None
        self._frame(Frame("in", kind, topic, text))
        what = message_kind(message)  # the protocol decides what a message is for
        if what is MessageKind.CONTROL:
            await self._answer_control(kind, message)
            if kind not in self.dispatcher:
                return  # answered; the fallback is for the application's own messages
        seen = self._resume_event(topic, message) if what is MessageKind.EVENT else None
        if seen is Observed.DUPLICATE:
            return  # handled already
        result = self.dispatcher.dispatch(message)
        self._report(result)
        if result.pending is not None:
            self._spawn(self._settle(result), "handler")
        if seen is Observed.GAP:  # the topic's queries and the event's own, refetched once
            self._report_invalidation(
                "cache after gap", self.cache.invalidate_for(message, gap_in=topic))
        elif what is MessageKind.EVENT:  # only a push can make cached data stale
            invalidation = self.cache.invalidate_for(message)
            for error in invalidation.errors:
                self._error(f"refetch failed: {error}")

    async def _answer_control(self, kind: str, message: dict[str, Any]) -> None:
        """The client's own answer to a control message (heartbeat, subscriptions)."""
        try:
            match kind:
                case "pong":
                    await self._apply(PongReceived())
                case "welcome":
                    for reply in self.subscriptions.on_welcome(message):
                        await self._send_message(reply)
                    self._start_cursor(message, resuming=True)
                case "subscribed":
                    for reply in self.subscriptions.on_subscribed(message):
                        await self._send_message(reply)
                    self._start_cursor(message, resuming=False)
                case "resync":
                    self._on_resync(message)
                case _:  # pragma: no cover - CONTROL_TYPES lists exactly the three above
                    raise AssertionError(f"control type {kind!r} has no answer in the client")
        except ProtocolError as exc:
            self._error(f"bad {kind} message ignored ({exc.code}: {exc.detail})")
        except ConnectionError:
            pass  # the socket is going away; its Closed event follows

    # -- internals: resume (the decisions are ResumeCursor's) ---------------------------

    def _heads(self, message: Mapping[str, Any]) -> dict[str, int]:
        """``welcome``/``subscribed`` ``seq``: {topic: head} for topics we subscribe to."""
        seq = message.get(SEQ_FIELD)
        if seq is None:
            return {}
        if not isinstance(seq, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in seq.values()):
            raise ProtocolError("bad-message", '"seq" must map topics to event numbers >= 0')
        mine = set(self.subscriptions.topics)
        return {t: v for t, v in seq.items() if t in mine}

    def _start_cursor(self, message: Mapping[str, Any], *, resuming: bool) -> None:
        cursor = self.cursor
        if cursor is None:
            return
        heads = self._heads(message)
        if resuming:
            cursor.keep_only(self.subscriptions.topics)
            behind = {t: (p, heads[t]) for t, p in cursor.positions.items()
                      if t in heads and p != heads[t]}
            if behind:
                shown = ", ".join(f"{t} #{p} (server at #{h})" for t, (p, h) in behind.items())
                self._info(f"resume from {shown}")
            self._replay_heads = heads
        cursor.start(heads)

    def _resume_event(self, topic: str | None, message: Mapping[str, Any]) -> Observed | None:
        """Classify a numbered event with the cursor (``None``: not numbered, or not a topic
        we resume -- today's behaviour); the caller drops a duplicate and, after a gap,
        invalidates the topic with the event (one refetch)."""
        cursor, seq = self.cursor, message.get(SEQ_FIELD)
        if (cursor is None or topic is None or topic not in self.subscriptions.topics
                or isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
            return None
        before = cursor.positions.get(topic)
        seen = cursor.observe(topic, seq)
        if seen is Observed.DUPLICATE:
            self._stats["duplicates"] += 1
        elif seen is Observed.GAP:
            self._stats["gaps"] += 1
            self._info(f"gap in {topic}: #{seq} after #{before}; invalidate {topic} queries")
        elif seq <= self._replay_heads.get(topic, 0):
            self._stats["replayed"] += 1
        return seen

    def _on_resync(self, message: Mapping[str, Any]) -> None:
        """The gap is older than the server's buffer: refetch this one topic."""
        cursor = self.cursor
        topic, head, missed = message.get("topic"), message.get(SEQ_FIELD), message.get("missed")
        if cursor is None or topic not in self.subscriptions.topics:
            return  # we did not ask to resume this topic
        if isinstance(head, bool) or not isinstance(head, int) or head < 0:
            raise ProtocolError("bad-message", 'resync needs "seq": the topic\'s event number')
        assert isinstance(topic, str)
        self._stats["resynced"] += 1
        cursor.resync(topic, head)
        self._replay_heads.pop(topic, None)
        count = f"{missed} events missed" if isinstance(missed, int) else "events missed"
        self._info(f"resync {topic}: {count}, more than the server kept; "
                   f"invalidate {topic} queries, continue from #{head}")
        self._report_invalidation("cache after resync", self.cache.invalidate_subscribed([topic]))

    # -- internals: the send queue (its rules are SendQueue's) ----------------------------

    def _enqueue(self, text: str) -> None:
        queue = self.send_queue
        assert queue is not None
        kind = _kind_of(text)
        try:
            result = queue.push(text)
        except SendQueueFull:
            self._queue_line(f"send queue full ({queue.describe()}): {kind} not sent",
                             error=True)
            raise
        waiting = f"{len(queue)} waiting"
        match result:
            case Enqueued.QUEUED:
                self._queue_line(f"not connected: {kind} queued ({waiting})")
            case Enqueued.QUEUED_DROPPED_OLDEST:
                self._queue_line(f"not connected: {kind} queued, the oldest dropped "
                                 f"({waiting}, {queue.dropped} dropped)")
            case Enqueued.DROPPED:
                self._queue_line(f"not connected: {kind} dropped ({queue.describe()})")
            case _:  # pragma: no cover - mypy proves every result has a case
                assert_never(result)

    def _queue_line(self, text: str, *, error: bool = False) -> None:
        """At most ``MAX_QUEUE_ENTRIES`` lines per outage: a long one is only counted."""
        self._queue_lines += 1
        if self._queue_lines <= MAX_QUEUE_ENTRIES:
            (self._error if error else self._info)(text)
        elif self._queue_lines == MAX_QUEUE_ENTRIES + 1:
            self._info("more messages sent while not connected: only counted "
                       "(len(client.send_queue), client.send_queue.dropped)")

    async def _flush(self) -> None:
        """After an open (and the resubscribe): send what waited, oldest first."""
        queue = self.send_queue
        self._queue_lines = 0
        if queue is None or not len(queue):
            return
        sent = 0
        self._flushing = True  # send() meanwhile queues behind, keeping the order
        try:
            while len(queue):
                items = queue.flush()
                for i, text in enumerate(items):
                    try:
                        await self._send_text(text)
                    except ConnectionError:
                        self._requeue(items[i:])
                        raise
                    sent += 1
        finally:
            self._flushing = False
            if sent:
                self._info(f"send queue: {sent} message{'s' if sent != 1 else ''} sent "
                           f"after the open, oldest first")

    def _requeue(self, unsent: list[str]) -> None:
        queue = self.send_queue
        assert queue is not None
        for text in unsent + queue.flush():  # the unsent go first again
            try:
                queue.push(text)
            except SendQueueFull:
                queue.dropped += 1

    async def _settle(self, result: DispatchResult) -> None:
        self._report(await result.settle())

    def _report(self, result: DispatchResult) -> None:
        if result.error_text is not None and result.pending is None:
            self._error(f"handler error: {result.error_text}")

    async def _send_message(self, message: Mapping[str, Any]) -> None:
        await self._send_text(encode(message))

    async def _send_text(self, text: str) -> None:
        transport = self._transport
        if transport is None:
            raise ConnectionError("not connected")
        try:
            message = decode(text)
            kind, topic = message["type"], message.get("topic")
        except ProtocolError:
            message, kind, topic = None, None, None
        shown = text
        if kind == "auth" and message is not None and "token" in message:
            shown = encode({**message, "token": "***"})  # frames are shown: never the token
        self._frame(Frame("out", kind, topic if isinstance(topic, str) else None, shown))
        try:
            await transport.send(text)
        except ConnectionLost as exc:  # the reader reports the close as a transition
            raise ConnectionError(f"not connected ({exc})") from None

    # -- internals: notifications ------------------------------------------------------

    def _frame(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._tell("frame", frame)

    def _error(self, text: str) -> None:
        self.timeline.append(Entry(self.machine.t, "error", text, state=self.state.value))

    def _info(self, text: str) -> None:
        self.timeline.append(Entry(self.machine.t, "info", text, state=self.state.value))

    def _entry_added(self, entry: Entry) -> None:
        self._tell("entry", entry)

    def _state_changed(self) -> None:
        state = self.state
        if state is self._last_state:
            return
        self._last_state = state
        self._tell("state", state)
        for future in self._change_waiters:
            if not future.done():
                future.set_result(None)
        for target, future in list(self._waiters):
            if future.done():
                continue
            if target is state:
                future.set_result(None)
            elif state in (State.DISCONNECTED, State.CLOSED):
                future.set_exception(
                    ConnectionError(
                        f"the client became {state.value} while waiting for {target.value}"
                    )
                )

    def _tell(self, kind: str, payload: Any) -> None:
        for fn in list(self._listeners):
            try:
                fn(kind, payload)
            except Exception as exc:
                if self._in_listener:
                    continue  # the error entry itself failed in a listener: stop there
                self._in_listener = True
                try:
                    name = getattr(fn, "__name__", type(fn).__name__)
                    self._error(f"listener {name} raised {type(exc).__name__}: {exc}")
                finally:
                    self._in_listener = False
