"""A small TanStack-Query-like cache: the other half of "push, then invalidate".

The seed's pattern (section 5, "Query Invalidation Integration")::

    update: (data) => queryClient.invalidateQueries(['projects']),
    delete: (data) => queryClient.removeQueries(['projects', data.id]),

The WebSocket message carries *that* something changed; the cache decides *what to
refetch*. This module models the parts of TanStack Query that decide it, so a learner can
count refetches per push:

* **Keys are tuples** (TanStack's arrays): ``("proposals",)`` is the list,
  ``("proposals", 7)`` one item. A string is rejected -- ``"proposals"`` is not
  ``("proposals",)`` -- because iterating it would silently make a key of letters.
* **Matching is by prefix by default**, like TanStack: ``invalidate(("proposals",))`` hits
  ``("proposals",)``, ``("proposals", 7)`` and ``("proposals", 7, "comments")``.
  ``exact=True`` hits only the identical key. Invalidating with ``exact=True`` (or
  comparing keys with ``==``) after a list-level event is the typical bug: the list
  refreshes, the open detail view stays stale.
* **Active vs inactive**: a query is *active* while it has an observer (``observe`` = a
  mounted component calling ``useQuery``). ``invalidate`` marks every matching query stale
  but refetches only the active ones now (TanStack's ``refetchType: 'active'``); an
  inactive one refetches when it is next observed. That is why one push costs as many
  fetches as there are *screens showing* the data, not as many as there are cached keys.
* **Fresh until invalidated**: data stays fresh until something invalidates it (TanStack
  with ``staleTime: Infinity``). That is the recommended setup when a WebSocket tells you
  when data changes: time-based staleness would refetch for nothing.
* **Push → keys** is declared once with ``bind(type_or_topic, *keys)`` (or a function
  ``message -> keys``); ``invalidate_for(message)`` applies it. After a reconnect,
  ``invalidate_subscribed(topics)`` invalidates everything bound to the subscribed topics:
  events sent while the socket was down are lost, so the cache cannot know what changed.

Fetchers are plain sync callables (no arguments). The asyncio driver may run a whole
``invalidate_for`` in a worker thread; the cache itself starts no thread, never sleeps and
is not thread-safe (use it from one thread at a time). Fetch counts are a logical counter,
so tables and histories are identical run after run.

Errors: calls a learner makes to *read* data (``fetch``, ``get``) raise the fetcher's
error; calls the socket loop makes (``invalidate*``, ``observe``) record it on the query
(status ``error``) and in their result, and never raise -- one failing endpoint must not
stop the other refetches or the receive loop.

Why one module of ~650 lines: it is one concept (TanStack's ``QueryClient``) whose parts --
keys, queries, fetch records, invalidation results, push bindings -- are small and only
make sense together; much of the length is docstrings written for learners.
"""

from __future__ import annotations

import html
import inspect
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FetchRecord",
    "Invalidation",
    "Key",
    "Query",
    "QueryCache",
    "UnknownQuery",
    "key_matches",
]

Key = tuple[Hashable, ...]
Fetcher = Callable[[], Any]
KeysFn = Callable[[Mapping[str, Any]], Any]
Refetch = Literal["active", "all", "none"]


class UnknownQuery(KeyError):
    """No query with this key is in the cache."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


def key_matches(key: Key, prefix: Key, *, exact: bool = False) -> bool:
    """TanStack's rule: ``prefix`` matches every key that starts with it (``exact``: equal)."""
    if exact:
        return key == prefix
    return key[: len(prefix)] == prefix


def _as_key(key: Any, what: str, *, allow_empty: bool = False) -> Key:
    """Validate and normalise a key (lists become tuples, as TanStack's arrays)."""
    if isinstance(key, str):
        raise TypeError(
            f"{what}: query keys are tuples -- use ({key!r},) not {key!r} "
            "(a string would be split into letters)"
        )
    if isinstance(key, list):
        key = tuple(key)
    if not isinstance(key, tuple):
        raise TypeError(f"{what}: expected a key tuple such as ('proposals', 7), got {key!r}")
    if not key and not allow_empty:
        raise ValueError(f"{what}: a query key needs at least one part, e.g. ('proposals',)")
    try:
        hash(key)
    except TypeError:
        raise TypeError(
            f"{what}: every part of key {key!r} must be hashable (str, int, tuple); "
            "use a tuple instead of a list or dict inside the key"
        ) from None
    return key


def _one_line(exc: BaseException) -> str:
    detail = " ".join(str(exc).split())
    return type(exc).__name__ + (f": {detail}" if detail else "")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _preview(data: Any, width: int) -> str:
    text = " ".join(repr(data).split())
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclass(eq=False, repr=False)
class Query:
    """One cache entry. The cache owns it; read its fields, change it through the cache."""

    key: Key
    fetcher: Fetcher | None = None
    data: Any = None
    has_data: bool = False
    invalidated: bool = False
    error: BaseException | None = None
    error_text: str | None = None
    observers: int = 0
    fetch_count: int = 0
    #: The cache's fetch counter when the data last changed (logical time, not wall time).
    updated_at: int | None = None

    @property
    def active(self) -> bool:
        """Has at least one observer (a "mounted component")."""
        return self.observers > 0

    @property
    def stale(self) -> bool:
        """Needs a fetch before it can be trusted: never fetched, invalidated, or failed."""
        return not self.has_data or self.invalidated or self.error is not None

    @property
    def status(self) -> str:
        """``empty`` (never loaded), ``error`` (last fetch failed), ``stale`` or ``fresh``."""
        if self.error is not None:
            return "error"
        if not self.has_data:
            return "empty"
        return "stale" if self.invalidated else "fresh"

    def __repr__(self) -> str:
        return (
            f"Query({self.key!r}, status={self.status!r}, observers={self.observers}, "
            f"fetches={self.fetch_count})"
        )


@dataclass(frozen=True)
class FetchRecord:
    """One fetch attempt: ``n`` is the cache's fetch counter after it (1, 2, 3 ...)."""

    n: int
    key: Key
    reason: str
    ok: bool


@dataclass(frozen=True)
class Invalidation:
    """What one invalidation did.

    ``matched`` are the keys hit (cache order); ``refetched`` were fetched now (active ones
    by default), ``marked_stale`` only marked (they refetch when next observed).
    ``errors`` are one-line texts of failed refetches or bindings. ``unbound`` lists the
    topics (``invalidate_subscribed``) or the message type (``invalidate_for``) for which no
    binding exists -- usually a forgotten ``bind``.
    """

    reason: str
    prefixes: tuple[Key, ...] = ()
    matched: tuple[Key, ...] = ()
    refetched: tuple[Key, ...] = ()
    marked_stale: tuple[Key, ...] = ()
    errors: tuple[str, ...] = ()
    unbound: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [f"{self.reason}: refetched {len(self.refetched)}"]
        parts.append(f"marked stale {len(self.marked_stale)}")
        if self.errors:
            parts.append(f"{len(self.errors)} error(s)")
        if self.unbound:
            parts.append("unbound: " + ", ".join(self.unbound))
        return ", ".join(parts)


@dataclass(frozen=True)
class _Binding:
    name: str
    keys: tuple[Key, ...] = ()
    fn: KeysFn | None = None
    exact: bool = False


@dataclass
class _Plan:
    """Prefixes collected for one invalidation, before running it."""

    prefixes: list[tuple[Key, bool]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, key: Key, exact: bool) -> None:
        if (key, exact) not in self.prefixes:
            self.prefixes.append((key, exact))


class QueryCache:
    """Queries by key, with prefix invalidation, observers and push bindings.

    >>> cache = QueryCache()
    >>> _ = cache.define(("proposals",), lambda: ["p7"])
    >>> _ = cache.observe(("proposals",))          # a mounted list view: fetches
    >>> cache.invalidate(("proposals",)).refetched
    (('proposals',),)
    >>> cache.fetch_count(("proposals",))
    2
    """

    def __init__(self, *, preview: int = 40, history: int = 200) -> None:
        self._queries: dict[Key, Query] = {}
        self._bindings: list[_Binding] = []
        self._fetches = 0
        self._preview = preview
        self._history: deque[FetchRecord] = deque(maxlen=history)

    # -- defining and reading -----------------------------------------------------------

    def define(self, key: Key, fetcher: Fetcher) -> Query:
        """Register (or replace) the fetcher for ``key``. Does not fetch; keeps any data."""
        key = _as_key(key, "define()")
        if not callable(fetcher):
            raise TypeError(
                f"define({key!r}, fetcher): the fetcher must be a function with no arguments, "
                f"got {type(fetcher).__name__}; pass the function, not its result"
            )
        if inspect.iscoroutinefunction(fetcher):
            raise TypeError(
                f"define({key!r}, fetcher): fetchers are plain (sync) functions that return "
                "the data, e.g. an HTTP GET with urllib; the cache cannot await an async def"
            )
        query = self._queries.get(key)
        if query is None:
            query = self._queries[key] = Query(key)
        query.fetcher = fetcher
        return query

    def query(self, key: Key, fetcher: Fetcher | None = None) -> Query:
        """The query for ``key``; with ``fetcher``, defined first (get-or-create)."""
        return self._lookup(key, fetcher, "query()")

    def keys(self) -> tuple[Key, ...]:
        """All keys, in the order they were first defined."""
        return tuple(self._queries)

    def find(self, prefix: Key = (), *, exact: bool = False) -> tuple[Query, ...]:
        """The queries whose key matches ``prefix`` (all of them for ``()``)."""
        prefix = _as_key(prefix, "find()", allow_empty=True)
        return tuple(q for q in self._queries.values() if key_matches(q.key, prefix, exact=exact))

    def __contains__(self, key: object) -> bool:
        return key in self._queries

    def __len__(self) -> int:
        return len(self._queries)

    def __iter__(self) -> Iterator[Query]:
        return iter(tuple(self._queries.values()))

    def fetch(self, key: Key) -> Any:
        """Run the fetcher now and store its data. Raises what the fetcher raised."""
        query = self._get(_as_key(key, "fetch()"), "fetch()")
        error = self._run(query, "fetch")
        if error is not None:
            raise error
        return query.data

    def get(self, key: Key) -> Any:
        """The data for ``key``; fetched first if never loaded, or if stale *and* observed.

        An inactive stale query returns its old data without fetching (it refetches when
        next observed), like ``getQueryData`` beside an unmounted component.
        """
        query = self._get(_as_key(key, "get()"), "get()")
        if not query.has_data or (query.active and query.stale):
            error = self._run(query, "get")
            if error is not None:
                raise error
        return query.data

    def fetch_count(self, key: Key) -> int:
        """How many times ``key`` was fetched (attempts, failed ones included)."""
        return self._get(_as_key(key, "fetch_count()"), "fetch_count()").fetch_count

    @property
    def fetches(self) -> int:
        """Fetch attempts over the whole cache: the logical clock of ``history``."""
        return self._fetches

    @property
    def history(self) -> tuple[FetchRecord, ...]:
        """The latest fetch attempts (bounded), oldest first."""
        return tuple(self._history)

    # -- observers ----------------------------------------------------------------------

    def observe(self, key: Key, fetcher: Fetcher | None = None) -> Query:
        """Add an observer (a component mounts ``useQuery``); fetch if the data is stale.

        Like TanStack's refetch-on-mount: an empty, invalidated or failed query is fetched
        now; a fresh one is served from the cache. A fetch error is recorded, not raised.
        """
        query = self._lookup(key, fetcher, "observe()")
        query.observers += 1
        if query.stale and query.fetcher is not None:
            self._run(query, "observe")
        return query

    def unobserve(self, key: Key) -> Query | None:
        """Remove an observer (the component unmounts). ``None`` if the query was removed."""
        key = _as_key(key, "unobserve()")
        query = self._queries.get(key)
        if query is None:
            return None
        if query.observers == 0:
            raise ValueError(
                f"unobserve({key!r}) without a matching observe(): each mount calls observe() "
                "once and its cleanup calls unobserve() once -- or use `with cache.observing(key)`"
            )
        query.observers -= 1
        return query

    @contextmanager
    def observing(self, key: Key, fetcher: Fetcher | None = None) -> Iterator[Query]:
        """``observe`` for the ``with`` block and ``unobserve`` after it, even on error."""
        query = self.observe(key, fetcher)
        try:
            yield query
        finally:
            self.unobserve(query.key)

    # -- writing ------------------------------------------------------------------------

    def set_query_data(self, key: Key, data_or_updater: Any) -> Any:
        """Store data without fetching (optimistic update / data that came in the push).

        A callable is treated as an updater ``old -> new`` (``None`` if no data yet), as in
        TanStack; to store a function as data, wrap it: ``lambda old: fn``. The query is
        created if missing and becomes fresh.
        """
        key = _as_key(key, "set_query_data()")
        query = self._queries.get(key)
        if query is None:
            query = self._queries[key] = Query(key)
        new = data_or_updater(query.data) if callable(data_or_updater) else data_or_updater
        query.data, query.has_data, query.invalidated = new, True, False
        query.error = query.error_text = None
        query.updated_at = self._fetches
        return new

    def invalidate(
        self, prefix: Key = (), *, exact: bool = False, refetch: Refetch = "active"
    ) -> Invalidation:
        """Mark every query matching ``prefix`` stale; refetch the active ones now.

        ``exact=True`` matches only the identical key. ``refetch="all"`` also refetches
        inactive queries, ``"none"`` only marks (TanStack's ``refetchType``). ``()``
        matches every query.
        """
        prefix = _as_key(prefix, "invalidate()", allow_empty=True)
        plan = _Plan()
        plan.add(prefix, exact)
        reason = f"invalidate({prefix!r}{', exact=True' if exact else ''})"
        return self._apply(reason, plan, refetch=refetch)

    def remove(self, prefix: Key, *, exact: bool = False) -> tuple[Key, ...]:
        """Drop matching queries entirely (data, fetcher, observers) -- ``removeQueries``.

        The seed uses it when an item is deleted: there is nothing left to refetch.
        """
        prefix = _as_key(prefix, "remove()", allow_empty=True)
        gone = tuple(k for k in self._queries if key_matches(k, prefix, exact=exact))
        for key in gone:
            del self._queries[key]
        return gone

    # -- push bindings ------------------------------------------------------------------

    def bind(self, name: str, *targets: Any, exact: bool = False) -> None:
        """Declare which keys a message invalidates: ``name`` is a message type or a topic.

        ``bind("proposal.created", ("proposals",))`` -- static keys (prefixes);
        ``bind("proposal.updated", lambda m: [("proposals",), ("proposals", m["id"])])`` --
        a function of the message. A message matches a binding whose name equals its
        ``"type"`` or its ``"topic"``. Only static bindings on *topics* are used by
        ``invalidate_subscribed`` after a reconnect (there is no message to compute from),
        so bind each topic to the broad prefixes it touches.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"bind(): the first argument is a message type or topic, got {name!r}")
        if len(targets) == 1 and callable(targets[0]):
            self._bindings.append(_Binding(name, fn=targets[0], exact=exact))
            return
        if not targets or any(callable(t) for t in targets):
            raise TypeError(
                f"bind({name!r}, ...): pass one or more key tuples, e.g. ('proposals',), "
                "or a single function message -> keys"
            )
        keys = tuple(_as_key(t, f"bind({name!r})") for t in targets)
        self._bindings.append(_Binding(name, keys=keys, exact=exact))

    def unbind(self, name: str) -> int:
        """Remove every binding named ``name``; return how many there were."""
        before = len(self._bindings)
        self._bindings = [b for b in self._bindings if b.name != name]
        return before - len(self._bindings)

    def bindings(self) -> tuple[str, ...]:
        """The bindings as stable text lines (for notebooks and checkers)."""
        lines = []
        for b in self._bindings:
            target = getattr(b.fn, "__name__", "fn") if b.fn else ", ".join(map(repr, b.keys))
            lines.append(f"{b.name} -> {target}{' (exact)' if b.exact else ''}")
        return tuple(lines)

    def invalidate_for(
        self,
        message: Mapping[str, Any],
        *,
        refetch: Refetch = "active",
        gap_in: str | None = None,
    ) -> Invalidation:
        """Apply the bindings that match a pushed message (by ``type`` or ``topic``).

        ``gap_in``: this event arrived after a gap in that topic's numbers (resume), so
        everything statically bound to the topic is invalidated too -- in the same pass,
        so each query refetches once, as TanStack Query's one ``invalidateQueries`` on the
        topic's prefix would (two calls in a row would cancel the first refetch and start
        a second).

        Never raises for a failing binding function or fetcher: both are reported in
        ``errors``, because this runs inside the socket's receive loop.
        """
        if not isinstance(message, Mapping):
            raise TypeError(
                f"invalidate_for() takes a decoded message dict, got {type(message).__name__}; "
                "decode frames with protocol.decode() first"
            )
        kind, topic = message.get("type"), message.get("topic")
        plan = _Plan()
        found = False
        for b in self._bindings:
            if b.name != kind and (topic is None or b.name != topic):
                continue
            found = True
            if b.fn is None:
                for key in b.keys:
                    plan.add(key, b.exact)
                continue
            try:
                for key in _keys_from(b.fn(message)):
                    plan.add(key, b.exact)
            except Exception as exc:
                fn_name = getattr(b.fn, "__name__", "fn")
                plan.errors.append(f"bind({b.name!r}) {fn_name}: {_one_line(exc)}")
        unbound: tuple[str, ...] = () if found else (str(kind),)
        reason = f"message {kind}"
        if gap_in is not None:
            unbound = tuple(self._plan_topics(plan, [gap_in]))
            reason = f"gap in {gap_in}: {reason}"
        return self._apply(reason, plan, refetch=refetch, unbound=unbound)

    def invalidate_subscribed(
        self, topics: Iterable[str], *, refetch: Refetch = "active"
    ) -> Invalidation:
        """After a reconnect: invalidate everything statically bound to these topics.

        Events published while the socket was down were never delivered, so any data
        those topics feed may be out of date. Topics without a static binding are listed
        in ``unbound``.
        """
        if isinstance(topics, str):
            raise TypeError(
                f"invalidate_subscribed({topics!r}): pass a list of topics, e.g. [{topics!r}] "
                "or subscriptions.topics"
            )
        topics = list(topics)
        plan = _Plan()
        unbound = self._plan_topics(plan, topics)
        reason = "reconnect: " + (",".join(topics) or "no topics")
        return self._apply(reason, plan, refetch=refetch, unbound=tuple(unbound))

    def _plan_topics(self, plan: _Plan, topics: Iterable[str]) -> list[str]:
        """Add every key statically bound to ``topics``; return the topics bound to none."""
        unbound = []
        for topic in topics:
            static = [b for b in self._bindings if b.name == topic and b.fn is None]
            if not static:
                unbound.append(topic)
            for b in static:
                for key in b.keys:
                    plan.add(key, b.exact)
        return unbound

    # -- rendering ----------------------------------------------------------------------

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        """Table rows (key, status, observers, fetches, data preview) as stable strings."""
        return [
            (
                repr(q.key),
                q.status,
                str(q.observers),
                str(q.fetch_count),
                self._data_cell(q),
            )
            for q in self._queries.values()
        ]

    def to_text(self) -> str:
        """A stable plain-text table: no ids, no times, the same on every run."""
        header = ("key", "status", "observers", "fetches", "data")
        rows = self.rows()
        if not rows:
            return "(no queries)\n" + self._footer()
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

        def line(r: tuple[str, ...]) -> str:
            cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
            cells += [r[2].rjust(widths[2]), r[3].rjust(widths[3]), r[4]]
            return "  ".join(cells).rstrip()

        return "\n".join([line(header), *map(line, rows), self._footer()])

    def _footer(self) -> str:
        active = sum(q.active for q in self._queries.values())
        queries = _count(len(self._queries), "query", "queries")
        return f"{queries}, {active} active, {_count(self._fetches, 'fetch', 'fetches')}"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("key", "status", "observers", "fetches", "data"))
        body = "".join(
            "<tr>" + "".join(f"<td><code>{html.escape(c)}</code></td>" for c in row) + "</tr>"
            for row in self.rows()
        )
        return (
            f"<table class='wslearn-cache'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table><p>{html.escape(self._footer())}</p>"
        )

    def _data_cell(self, query: Query) -> str:
        if query.has_data:
            return _preview(query.data, self._preview)
        return query.error_text or "-"

    def __repr__(self) -> str:
        queries = _count(len(self._queries), "query", "queries")
        return f"QueryCache({queries}, {_count(self._fetches, 'fetch', 'fetches')})"

    # -- internals ----------------------------------------------------------------------

    def _lookup(self, key: Key, fetcher: Fetcher | None, what: str) -> Query:
        if fetcher is not None:
            return self.define(key, fetcher)
        return self._get(_as_key(key, what), what)

    def _get(self, key: Key, what: str) -> Query:
        query = self._queries.get(key)
        if query is None:
            raise UnknownQuery(
                f"{what}: no query {key!r} in the cache; define it first with "
                f"cache.define({key!r}, fetcher)"
            )
        return query

    def _run(self, query: Query, reason: str) -> Exception | None:
        """One fetch attempt; the error (if any) is stored on the query and returned."""
        if query.fetcher is None:
            error: Exception = UnknownQuery(
                f"query {query.key!r} has no fetcher (its data came from set_query_data); "
                f"give it one with cache.define({query.key!r}, fetcher)"
            )
            query.error, query.error_text = error, _one_line(error)
            return error
        self._fetches += 1
        query.fetch_count += 1
        try:
            value = query.fetcher()
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()  # never awaited: close it so Python does not warn later
                raise TypeError(
                    f"the fetcher of {query.key!r} returned an awaitable; fetchers must be "
                    "sync functions that return the data"
                )
        except Exception as exc:
            query.error, query.error_text = exc, _one_line(exc)
            self._history.append(FetchRecord(self._fetches, query.key, reason, False))
            return exc
        query.data, query.has_data, query.invalidated = value, True, False
        query.error = query.error_text = None
        query.updated_at = self._fetches
        self._history.append(FetchRecord(self._fetches, query.key, reason, True))
        return None

    def _apply(
        self, reason: str, plan: _Plan, *, refetch: Refetch, unbound: tuple[str, ...] = ()
    ) -> Invalidation:
        if refetch not in ("active", "all", "none"):
            raise ValueError(f"refetch={refetch!r}: use 'active' (default), 'all' or 'none'")
        matched = [
            q
            for q in self._queries.values()
            if any(key_matches(q.key, p, exact=e) for p, e in plan.prefixes)
        ]
        refetched: list[Key] = []
        marked: list[Key] = []
        errors = list(plan.errors)
        for q in matched:  # mark all first: a fetcher may read another matched query
            q.invalidated = True
        for q in matched:
            wanted = refetch == "all" or (refetch == "active" and q.active)
            if wanted and q.fetcher is None:
                errors.append(f"{q.key!r}: no fetcher, only marked stale (define one to refetch)")
            if not wanted or q.fetcher is None:
                marked.append(q.key)
                continue
            refetched.append(q.key)
            error = self._run(q, reason)
            if error is not None:
                errors.append(f"{q.key!r}: {_one_line(error)}")
        return Invalidation(
            reason=reason,
            prefixes=tuple(p for p, _ in plan.prefixes),
            matched=tuple(q.key for q in matched),
            refetched=tuple(refetched),
            marked_stale=tuple(marked),
            errors=tuple(errors),
            unbound=unbound,
        )


def _keys_from(value: Any) -> list[Key]:
    """Normalise what a binding function returned: one key, several keys, or ``None``."""
    if value is None:
        return []
    if isinstance(value, tuple) and not all(isinstance(p, tuple | list) for p in value):
        return [_as_key(value, "binding result")]
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(
            f"returned {value!r}; return a key tuple like ('proposals', 7) or a list of them"
        )
    return [_as_key(k, "binding result") for k in value]
