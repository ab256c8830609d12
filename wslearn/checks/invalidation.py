"""Checker for chapter 08: ``on_push(cache, message)`` and ``on_reconnect(cache, topics)``.

The seed's pattern: a WebSocket message says *that* something changed; the query cache
decides *what to refetch* (``queryClient.invalidateQueries(['projects'])``). The learner
writes, against wslearn's TanStack-like ``QueryCache`` (keys are tuples, matching is by
prefix, only active queries refetch)::

    def on_push(cache, message) -> None        # invalidate (topic,); *.deleted: remove
    def on_reconnect(cache, topics) -> None    # events were missed: invalidate every topic

Scenarios (no network): a created event; a deleted event; control messages without a
topic; a reconnect. Then the live flow with a drop and a missed event (also on the real
server): the cache must end up equal to the server's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Collection
from types import SimpleNamespace
from typing import Any

from ..cache import QueryCache
from ..transport import ConnectionLost
from ._common import require_callable
from ._net import Lab
from ._runner import Exercise, Failed, Verdict
from ._sandbox import describe_exception

NAME = "invalidation"

HINTS = {
    "no-invalidation": "Nothing was invalidated: call `cache.invalidate((topic,))` with the "
    "message's topic -- a tuple key, like TanStack's `['proposals']`.",
    "exact-key": "Only the exact key was invalidated: the list refreshed but the open detail "
    "view ('proposals', 7) stayed stale. Invalidate by prefix -- `cache.invalidate((topic,))` "
    "without `exact=True` -- so every key that starts with the topic is hit.",
    "invalidate-everything": "Queries of other topics were refetched too: invalidate only the "
    "message's topic, not `()` (everything). Every needless refetch is a request.",
    "refetch-inactive": "An inactive query (no screen shows it) was fetched: "
    "`cache.invalidate(...)` marks it stale and refetches only active queries -- do not "
    "fetch every key yourself.",
    "refetch-deleted": "The deleted item was refetched (a request for something that is gone: "
    "a 404): remove its query first -- `cache.remove((topic, message[\"id\"]))` -- then "
    "invalidate the topic.",
    "delete-not-removed": "A `*.deleted` event must remove the item's query "
    "(`cache.remove((topic, id))`, Module 07's `removeQueries`), not leave it in the cache.",
    "no-topic-crash": "Messages without a topic (welcome, pong, subscribed) crashed on_push: "
    "use `message.get(\"topic\")` and return when there is none.",
    "invalidate-on-control": "A control message without a topic invalidated queries: only "
    "events with a topic change data.",
    "reconnect-no-invalidate": "After a reconnect nothing was invalidated, but events sent "
    "while the socket was down are lost: invalidate `(topic,)` for every subscribed topic.",
    "reconnect-too-broad": "After a reconnect, queries of topics we are not subscribed to were "
    "refetched: invalidate only the given topics.",
    "reconnect-exact": "After a reconnect only the exact `(topic,)` keys refetched; details "
    "under them stayed stale: invalidate by prefix.",
    "stale-after-reconnect": "After the reconnect the cache still showed old data: the event "
    "missed while disconnected is never coming -- on_reconnect must invalidate.",
    "wrong-invalidation": "Compare the refetched / stale columns: a push on a topic must "
    "refetch the active queries under that topic and only those.",
}

STEPS = [
    "Keys start with the topic: ('proposals',) is the list, ('proposals', 7) one item. "
    "`cache.invalidate(('proposals',))` hits both (prefix matching).",
    "on_push: `topic = message.get(\"topic\")`; no topic -> return; else "
    "`cache.invalidate((topic,))`.",
    "Deleted items: `if message[\"type\"].endswith(\".deleted\"): cache.remove((topic, "
    "message[\"id\"]))` -- before invalidating, so the gone item is not refetched.",
    "on_reconnect: `for topic in topics: cache.invalidate((topic,))`.",
]



def prepare(on_push: Any = None, on_reconnect: Any = None) -> SimpleNamespace:
    return SimpleNamespace(push=require_callable(on_push, "on_push"),
                           reconnect=require_callable(on_reconnect, "on_reconnect"))


EXERCISE = Exercise(NAME, "08_invalidation", prepare,
                    objects=("on_push", "on_reconnect"), hints=HINTS, steps=STEPS)

ACTIVE: list[tuple[Any, ...]] = [("proposals",), ("proposals", 7), ("analysis",), ("knowledge",)]
INACTIVE: list[tuple[Any, ...]] = [("proposals", 8), ("analysis", "summary")]


def _db() -> dict[str, Any]:
    return {"proposals": {7: "draft", 8: "draft"}, "analysis": "v1", "knowledge": "v1"}


def _detail(db: dict[str, Any], pid: int) -> Callable[[], Any]:
    return lambda: db["proposals"].get(pid, "404")


def _cache(db: dict[str, Any]) -> QueryCache:
    """Four queries on screen (active) and two loaded but not shown (inactive)."""
    cache = QueryCache()
    cache.define(("proposals",), lambda: sorted(db["proposals"].items()))
    for pid in (7, 8):
        cache.define(("proposals", pid), _detail(db, pid))
    cache.define(("analysis",), lambda: db["analysis"])
    cache.define(("analysis", "summary"), lambda: "summary of " + str(db["analysis"]))
    cache.define(("knowledge",), lambda: db["knowledge"])
    for key in ACTIVE:
        cache.observe(key)
    for key in INACTIVE:
        cache.fetch(key)
    return cache


def _snapshot(cache: QueryCache) -> dict[tuple[Any, ...], tuple[int, str]]:
    return {q.key: (q.fetch_count, q.status) for q in cache}


def _table(before: dict[Any, tuple[int, str]], cache: QueryCache) -> str:
    after = _snapshot(cache)
    lines = []
    for key, (fetches, _) in before.items():
        if key not in after:
            lines.append(f"{key!r:<24} removed")
            continue
        n, status = after[key]
        what = "refetched" if n > fetches else "-"
        lines.append(f"{key!r:<24} {what:<10} {status}")
    return "\n".join(lines)


def _call(fn: Any, name: str, *args: Any, kind: str = "raises") -> None:
    try:
        fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:
        raise Failed(kind, f"{name} raised {describe_exception(exc)}") from exc


def _expected(refetched: set[Any], stale: set[Any],
              removed: Collection[Any] = frozenset()) -> str:
    lines = []
    for key in [*ACTIVE[:2], INACTIVE[0], ACTIVE[2], INACTIVE[1], ACTIVE[3]]:
        if key in removed:
            lines.append(f"{key!r:<24} removed")
            continue
        what = "refetched" if key in refetched else "-"
        status = "stale" if key in stale else "fresh"
        lines.append(f"{key!r:<24} {what:<10} {status}")
    return "\n".join(lines)


def _differs(expected: str, actual: str) -> str:
    """What happened to which query, where it differs: ``('analysis',) refetched (expected
    untouched); ('proposals', 7) still cached (expected removed)``."""
    def parse(text: str) -> dict[str, str]:
        rows = {}
        for line in text.splitlines():
            key, rest = line[:24].strip(), line[24:].split()
            if key.startswith("("):
                rows[key] = ("removed" if rest == ["removed"] else
                             ("refetched" if rest[0] == "refetched" else "not refetched")
                             + f", {rest[-1]}")
        return rows

    want, got = parse(expected), parse(actual)
    parts = [f"{key} {got.get(key, 'removed')} (expected {value})"
             for key, value in want.items() if got.get(key, "removed") != value]
    return "; ".join(parts[:3])


def _diagnose(before: dict[Any, tuple[int, str]], cache: QueryCache, topic_keys: list[Any],
              default: str) -> str:
    after = _snapshot(cache)
    refetched = {k for k, (n, _) in after.items() if n > before[k][0]}
    stale = {k for k, (_, s) in after.items() if s == "stale"}
    touched = refetched | stale
    if any(k for k in touched if k[0] not in {t[0] for t in topic_keys}):
        return "invalidate-everything" if default != "reconnect" else "reconnect-too-broad"
    if any(k in refetched for k in INACTIVE):
        return "refetch-inactive"
    if not touched:
        return "no-invalidation" if default != "reconnect" else "reconnect-no-invalidate"
    if any(len(k) == 1 for k in touched) and not any(len(k) > 1 for k in touched):
        return "exact-key" if default != "reconnect" else "reconnect-exact"
    return "wrong-invalidation"


@EXERCISE.scenario("proposal.created: the list and the open detail refetch, the hidden one "
                   "turns stale, other topics untouched", network=False)
async def created(lab: Lab | None, learner: Any) -> Verdict:
    db = _db()
    cache = _cache(db)
    before = _snapshot(cache)
    db["proposals"][9] = "new"
    _call(learner.push, "on_push", cache,
          {"type": "proposal.created", "topic": "proposals", "id": 9})
    expected = _expected({("proposals",), ("proposals", 7)}, {("proposals", 8)})
    actual = _table(before, cache)
    if actual != expected:
        raise Failed(_diagnose(before, cache, [("proposals",)], "push"),
                     _differs(expected, actual), expected, actual)
    return Verdict(expected, actual)


@EXERCISE.scenario("proposal.deleted (id 7): its query is removed, not refetched; the list "
                   "refetches", network=False)
async def deleted(lab: Lab | None, learner: Any) -> Verdict:
    db = _db()
    cache = _cache(db)
    before = _snapshot(cache)
    fetches = cache.fetches
    del db["proposals"][7]
    _call(learner.push, "on_push", cache,
          {"type": "proposal.deleted", "topic": "proposals", "id": 7})
    refetched_7 = sum(r.key == ("proposals", 7) and r.n > fetches for r in cache.history)
    expected = _expected({("proposals",)}, {("proposals", 8)}, {("proposals", 7)})
    expected += "\nrequests for the deleted item: 0"
    actual = _table(before, cache) + f"\nrequests for the deleted item: {refetched_7}"
    if actual != expected:
        if refetched_7:
            kind = "refetch-deleted"
        elif ("proposals", 7) in cache:
            kind = "delete-not-removed"
        else:
            kind = _diagnose(before, cache, [("proposals",)], "push")
        raise Failed(kind, "the deleted item must be removed and the list refetched: "
                     + (_differs(expected, actual) or f"{refetched_7} request(s) for the "
                        "deleted item"), expected, actual)
    return Verdict(expected, actual)


@EXERCISE.scenario("messages without a topic (welcome, pong, subscribed) change nothing",
                   network=False)
async def control(lab: Lab | None, learner: Any) -> Verdict:
    db = _db()
    cache = _cache(db)
    before = _snapshot(cache)
    for message in ({"type": "welcome", "topics": ["proposals"]}, {"type": "pong"},
                    {"type": "subscribed", "topics": ["proposals"]}):
        _call(learner.push, "on_push", cache, message, kind="no-topic-crash")
    expected = _expected(set(), set())
    actual = _table(before, cache)
    if actual != expected:
        raise Failed("invalidate-on-control", "a message without a topic changed the cache",
                     expected, actual)
    return Verdict(expected, actual)


@EXERCISE.scenario("reconnect (subscribed: proposals, analysis): everything under them "
                   "invalidated, knowledge untouched", network=False)
async def reconnect(lab: Lab | None, learner: Any) -> Verdict:
    db = _db()
    cache = _cache(db)
    before = _snapshot(cache)
    _call(learner.reconnect, "on_reconnect", cache, ["proposals", "analysis"])
    expected = _expected({("proposals",), ("proposals", 7), ("analysis",)},
                         {("proposals", 8), ("analysis", "summary")})
    actual = _table(before, cache)
    if actual != expected:
        raise Failed(_diagnose(before, cache, [("proposals",), ("analysis",)], "reconnect"),
                     "after a reconnect the subscribed topics must be invalidated: "
                     + _differs(expected, actual), expected, actual)
    return Verdict(expected, actual)


EXPECTED_LIVE = """\
push proposal.updated (7 -> approved): list + detail fresh
disconnected; proposal 8 -> rejected (the event is missed)
reconnected: on_reconnect -> list + detail fresh again"""


@EXERCISE.scenario("live: pushes keep the cache fresh; after a reconnect the missed change "
                   "is caught up", real=True)
async def live(lab: Lab | None, learner: Any) -> Verdict:
    assert lab is not None
    db = _db()
    cache = _cache(db)
    lines: list[str] = []
    topics = ["proposals", "analysis"]

    def fresh() -> bool:
        return (cache.get(("proposals",)) == sorted(db["proposals"].items())
                and cache.get(("proposals", 7)) == db["proposals"][7])

    async def session() -> tuple[Any, asyncio.Task[Any]]:
        ws = await lab.connect(lab.url(topics=topics))

        async def read() -> None:
            with contextlib.suppress(ConnectionLost):
                while True:
                    message = json.loads(await ws.recv())
                    _call(learner.push, "on_push", cache, message)

        return ws, asyncio.get_running_loop().create_task(read(), name="wslearn-reader")

    def step(line: str, ok: bool, kind: str) -> None:
        lines.append(line if ok else line.split(":")[0] + ": STALE")
        if not ok:
            expected = "\n".join(EXPECTED_LIVE.splitlines()[: len(lines)])
            raise Failed(kind, "the cache shows old data", expected, "\n".join(lines))

    ws, reader = await session()
    try:
        await lab.until(lambda: bool(lab.frames), 5.0)
        db["proposals"][7] = "approved"
        await lab.publish("proposals", "proposal.updated", id=7)
        await lab.until(lambda: len(lab.frames) >= 2 or reader.done(), 5.0)
        if reader.done() and reader.exception() is not None:
            raise reader.exception()  # type: ignore[misc]
        step("push proposal.updated (7 -> approved): list + detail fresh", fresh(),
             _diagnose_live(cache))
        await lab.fault("drop_all", text="server: drop all connections (1006)")
        await asyncio.wait([reader])
        db["proposals"][8] = "rejected"
        await lab.publish("proposals", "proposal.updated", id=8)
        lines.append("disconnected; proposal 8 -> rejected (the event is missed)")
        ws, reader = await session()
        await lab.until(lambda: len(lab.frames) >= 3, 5.0)
        _call(learner.reconnect, "on_reconnect", cache, topics)
        step("reconnected: on_reconnect -> list + detail fresh again", fresh(),
             "stale-after-reconnect")
    finally:
        reader.cancel()
        await asyncio.wait([reader])
        await ws.close()
    return Verdict(EXPECTED_LIVE, "\n".join(lines))


def _diagnose_live(cache: QueryCache) -> str:
    detail = next((q for q in cache if q.key == ("proposals", 7)), None)
    if detail is not None and detail.fetch_count <= 1:
        return "exact-key"
    return "no-invalidation"
