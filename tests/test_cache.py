"""The TanStack-Query-like cache: prefix invalidation, active vs inactive, push bindings."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wslearn.cache import FetchRecord, Invalidation, QueryCache, UnknownQuery, key_matches


class Api:
    """A fake backend: each fetch returns a new version, so refetches are visible."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.counter = itertools.count(1)

    def fetcher(self, key: tuple):
        def fetch() -> dict:
            self.calls.append(key)
            return {"key": key, "v": next(self.counter)}

        fetch.__name__ = "fetch_" + "_".join(map(str, key))
        return fetch


def make_cache(*keys: tuple) -> tuple[QueryCache, Api]:
    cache, api = QueryCache(), Api()
    for key in keys:
        cache.define(key, api.fetcher(key))
    return cache, api


LIST, P7, P8, USERS = ("proposals",), ("proposals", 7), ("proposals", 8), ("users",)


def test_key_matching_is_prefix_by_default() -> None:
    assert key_matches(("proposals", 7), ("proposals",))
    assert key_matches(("proposals", 7, "comments"), ("proposals", 7))
    assert key_matches(("anything",), ())
    assert not key_matches(("proposals",), ("proposals", 7)), "a longer prefix is narrower"
    assert not key_matches(("proposals-archive",), ("proposals",)), "parts, not characters"
    assert not key_matches(("proposals", 7), ("proposals",), exact=True)
    assert key_matches(("proposals",), ("proposals",), exact=True)


def test_define_does_not_fetch_and_fetch_counts() -> None:
    cache, api = make_cache(LIST)
    assert api.calls == [] and cache.query(LIST).status == "empty"
    assert cache.fetch(LIST) == {"key": LIST, "v": 1}
    assert cache.fetch_count(LIST) == 1 and cache.fetches == 1
    assert cache.query(LIST).status == "fresh"
    assert cache.history == (FetchRecord(1, LIST, "fetch", True),)


def test_invalidate_refetches_active_and_only_marks_inactive() -> None:
    cache, api = make_cache(LIST, P7, P8, USERS)
    cache.observe(LIST)  # the list view is mounted
    cache.observe(P7)  # so is the detail of proposal 7
    cache.fetch(P8)  # fetched once, nobody shows it now
    api.calls.clear()

    result = cache.invalidate(("proposals",))

    assert result.matched == (LIST, P7, P8)
    assert result.refetched == (LIST, P7)
    assert result.marked_stale == (P8,)
    assert api.calls == [LIST, P7]
    assert cache.query(P8).status == "stale" and cache.query(USERS).status == "empty"
    assert str(result) == "invalidate(('proposals',)): refetched 2, marked stale 1"


def test_exact_invalidation_leaves_the_detail_view_stale_the_typical_bug() -> None:
    cache, _ = make_cache(LIST, P7)
    cache.observe(LIST)
    cache.observe(P7)
    result = cache.invalidate(("proposals",), exact=True)
    assert result.refetched == (LIST,), "only the list: the open detail of #7 shows old data"
    assert result.reason == "invalidate(('proposals',), exact=True)"


def test_refetch_modes() -> None:
    cache, _ = make_cache(LIST, P7)
    cache.observe(LIST)
    assert cache.invalidate((), refetch="none").refetched == ()
    assert cache.invalidate((), refetch="all").refetched == (LIST, P7)
    with pytest.raises(ValueError, match="'active'"):
        cache.invalidate((), refetch="sometimes")  # type: ignore[arg-type]


def test_observe_fetches_when_empty_or_stale_and_dedupes_fresh() -> None:
    cache, api = make_cache(LIST)
    cache.observe(LIST)
    cache.observe(LIST)  # a second component: served from the cache
    assert api.calls == [LIST] and cache.query(LIST).observers == 2
    cache.unobserve(LIST)
    cache.unobserve(LIST)
    cache.invalidate(LIST)  # inactive: only marked
    assert api.calls == [LIST]
    cache.observe(LIST)  # mounting again refetches the stale data
    assert api.calls == [LIST, LIST]


def test_unobserve_without_observe_is_a_clear_error_and_observing_cleans_up() -> None:
    cache, _ = make_cache(LIST)
    with pytest.raises(ValueError, match="without a matching observe"):
        cache.unobserve(LIST)
    with pytest.raises(RuntimeError), cache.observing(LIST) as query:
        assert query.active
        raise RuntimeError("component crashed")
    assert not cache.query(LIST).active, "the with-block unobserved even on error"
    assert cache.unobserve(("gone",)) is None, "a removed query has nothing to unobserve"


def test_get_refetches_stale_only_when_observed() -> None:
    cache, api = make_cache(LIST)
    assert cache.get(LIST)["v"] == 1, "never loaded: get loads it"
    cache.invalidate(LIST)
    assert cache.get(LIST)["v"] == 1, "inactive + stale: old data, no fetch"
    with cache.observing(LIST):
        assert cache.get(LIST)["v"] == 2, "observing it fetched the stale data"
        assert cache.get(LIST)["v"] == 2, "fresh now: no second fetch"
    assert api.calls == [LIST, LIST]


def test_set_query_data_stores_without_fetching() -> None:
    cache, api = make_cache(LIST)
    cache.set_query_data(LIST, [1])
    assert cache.set_query_data(LIST, lambda old: [*old, 2]) == [1, 2]
    assert cache.get(LIST) == [1, 2] and api.calls == [] and cache.fetches == 0
    cache.set_query_data(("new",), "created on the fly")
    assert cache.query(("new",)).fetcher is None
    cache.observe(("new",))
    result = cache.invalidate(("new",))
    assert result.refetched == () and result.marked_stale == (("new",),)
    assert result.errors == ("('new',): no fetcher, only marked stale (define one to refetch)",)
    with pytest.raises(UnknownQuery, match="has no fetcher"):
        cache.fetch(("new",))


def test_remove_drops_queries_by_prefix() -> None:
    cache, _ = make_cache(LIST, P7, P8)
    assert cache.remove(("proposals", 7)) == (P7,)
    assert cache.keys() == (LIST, P8)
    assert cache.remove(("proposals",)) == (LIST, P8)
    assert len(cache) == 0


def test_fetch_errors_raise_on_reads_and_are_recorded_on_pushes() -> None:
    cache = QueryCache()
    healthy = {"n": 0}

    def broken() -> None:
        raise ConnectionError("backend down")

    def fine() -> int:
        healthy["n"] += 1
        return healthy["n"]

    cache.define(("a",), broken)
    cache.define(("b",), fine)
    with pytest.raises(ConnectionError):
        cache.fetch(("a",))
    assert cache.query(("a",)).status == "error"
    cache.observe(("a",))  # recorded, not raised
    cache.observe(("b",))
    result = cache.invalidate(())
    assert result.refetched == (("a",), ("b",)), "one failure does not stop the others"
    assert result.errors == ("('a',): ConnectionError: backend down",)
    assert cache.get(("b",)) == 2
    assert cache.fetch_count(("a",)) == 3, "failed attempts count"


def test_async_fetchers_are_rejected_with_a_hint() -> None:
    cache = QueryCache()

    async def load() -> int:
        return 1

    with pytest.raises(TypeError, match="cannot await an async def"):
        cache.define(("a",), load)
    cache.define(("b",), lambda: load())
    with pytest.raises(TypeError, match="returned an awaitable"):
        cache.fetch(("b",))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.define("proposals", lambda: 1), r"use \('proposals',\) not 'proposals'"),
        (lambda c: c.invalidate("proposals"), r"use \('proposals',\)"),
        (lambda c: c.define((), lambda: 1), "at least one part"),
        (lambda c: c.define((["x"],), lambda: 1), "must be hashable"),
        (lambda c: c.define(("a",), 42), "function with no arguments"),
        (lambda c: c.get(("missing",)), r"cache.define\(\('missing',\), fetcher\)"),
        (lambda c: c.bind("x"), "one or more key tuples"),
        (lambda c: c.invalidate_subscribed("proposals"), r"\['proposals'\]"),
        (lambda c: c.invalidate_for('{"type": "x"}'), "protocol.decode"),
    ],
)
def test_bad_input_explains_what_to_do(call, match: str) -> None:
    with pytest.raises((TypeError, ValueError, KeyError), match=match):
        call(QueryCache())


def test_lists_are_accepted_as_keys_like_tanstack_arrays() -> None:
    cache, _ = make_cache(["proposals", 7])  # type: ignore[arg-type]
    assert cache.keys() == (P7,)


def test_bindings_turn_pushes_into_invalidations() -> None:
    cache, api = make_cache(LIST, P7, P8, USERS)
    for key in (LIST, P7, P8, USERS):
        cache.observe(key)
    api.calls.clear()
    cache.bind("proposal.created", LIST)
    cache.bind("proposal.updated", lambda m: [LIST, ("proposals", m["id"])], exact=True)
    cache.bind("users", USERS)  # a topic

    created = cache.invalidate_for({"type": "proposal.created", "topic": "proposals", "id": 9})
    assert created.refetched == (LIST, P7, P8), "prefix: list and every detail"
    updated = cache.invalidate_for({"type": "proposal.updated", "topic": "proposals", "id": 7})
    assert updated.refetched == (LIST, P7), "exact binding: only the list and #7"
    by_topic = cache.invalidate_for({"type": "user.renamed", "topic": "users"})
    assert by_topic.refetched == (USERS,) and by_topic.reason == "message user.renamed"
    nothing = cache.invalidate_for({"type": "analysis.done", "topic": "analysis"})
    assert nothing == Invalidation("message analysis.done", unbound=("analysis.done",))
    assert cache.bindings() == (
        "proposal.created -> ('proposals',)",
        "proposal.updated -> <lambda> (exact)",
        "users -> ('users',)",
    )
    assert cache.unbind("users") == 1


def test_a_failing_binding_function_is_reported_not_raised() -> None:
    cache, _ = make_cache(LIST)
    cache.observe(LIST)

    def keys_for(message: dict) -> list:
        return [("proposals", message["id"])]

    cache.bind("proposal.deleted", keys_for)
    cache.bind("proposal.deleted", LIST)
    result = cache.invalidate_for({"type": "proposal.deleted"})
    assert result.errors == ("bind('proposal.deleted') keys_for: KeyError: 'id'",)
    assert result.refetched == (LIST,), "the other binding still ran"
    cache.bind("odd", lambda m: "proposals")
    assert "return a key tuple" in cache.invalidate_for({"type": "odd"}).errors[0]
    cache.bind("single", lambda m: ("proposals", 7))  # one key, not a list of keys
    assert cache.invalidate_for({"type": "single"}).prefixes == (P7,)


def test_reconnect_invalidates_everything_bound_to_subscribed_topics() -> None:
    cache, api = make_cache(LIST, P7, USERS)
    for key in (LIST, P7, USERS):
        cache.observe(key)
    api.calls.clear()
    cache.bind("proposals", LIST)
    cache.bind("users", USERS)
    cache.bind("proposal.updated", lambda m: [("proposals", m["id"])])  # not a topic

    result = cache.invalidate_subscribed(["proposals", "analysis"])

    assert result.refetched == (LIST, P7), "events missed while away: refetch what they feed"
    assert result.unbound == ("analysis",)
    assert result.reason == "reconnect: proposals,analysis"
    assert api.calls == [LIST, P7]


def test_text_table_is_stable() -> None:
    cache, _ = make_cache(LIST, P7)
    cache.observe(LIST)
    cache.set_query_data(("note",), "x" * 100)
    assert cache.to_text() == (
        "key               status  observers  fetches  data\n"
        "('proposals',)    fresh           1        1  {'key': ('proposals',), 'v': 1}\n"
        "('proposals', 7)  empty           0        0  -\n"
        "('note',)         fresh           0        0  '" + "x" * 36 + "...\n"
        "3 queries, 1 active, 1 fetch"
    )
    assert QueryCache().to_text() == "(no queries)\n0 queries, 0 active, 0 fetches"
    assert repr(cache) == "QueryCache(3 queries, 1 fetch)"
    assert repr(cache.query(LIST)) == (
        "Query(('proposals',), status='fresh', observers=1, fetches=1)"
    )
    html = cache._repr_html_()
    assert "<td><code>(&#x27;proposals&#x27;,)</code></td>" in html and " at 0x" not in html


KEYS = st.lists(
    st.tuples(st.sampled_from(["p", "u"]))
    | st.tuples(st.sampled_from(["p", "u"]), st.integers(0, 3))
    | st.tuples(st.sampled_from(["p", "u"]), st.integers(0, 3), st.sampled_from(["c", "d"])),
    min_size=1,
    max_size=12,
    unique=True,
)


@given(data=st.data(), keys=KEYS, exact=st.booleans())
def test_property_invalidate_refetches_exactly_the_active_matching_keys(
    data: st.DataObject, keys: list[tuple], exact: bool
) -> None:
    cache, api = make_cache(*keys)
    active = data.draw(st.sets(st.sampled_from(keys)))
    for key in active:
        cache.observe(key)
    for key in keys:
        if key not in active and data.draw(st.booleans()):
            cache.fetch(key)  # some inactive ones have data
    prefix = data.draw(st.sampled_from([(), *keys, *[k[:1] for k in keys]]))
    before = {k: cache.fetch_count(k) for k in keys}
    api.calls.clear()

    result = cache.invalidate(prefix, exact=exact)

    matching = [k for k in keys if key_matches(k, prefix, exact=exact)]
    assert list(result.matched) == matching
    assert set(result.refetched) == {k for k in matching if k in active}
    assert set(result.marked_stale) == {k for k in matching if k not in active}
    assert len(api.calls) == len(result.refetched), "one fetch per active matching key"
    for key in keys:
        grew = cache.fetch_count(key) - before[key]
        assert grew == (1 if key in result.refetched else 0), "inactive queries never refetch"
        query = cache.query(key)
        if key in result.marked_stale:
            assert query.stale
        elif key in result.refetched:
            assert query.status == "fresh"


def test_an_event_after_a_gap_refetches_its_topic_and_its_own_keys_once() -> None:
    """Resume: #6 after #4 means #5 was lost. The topic's queries and the keys the event
    itself invalidates are planned together -- each refetched once, not twice."""
    cache, api = make_cache(LIST, P7, P8, USERS)
    for key in (LIST, P7, P8, USERS):
        cache.observe(key)
    api.calls.clear()
    cache.bind("proposals", LIST)  # the topic: the list and every detail under it
    cache.bind("proposal.updated", lambda m: [("proposals", m["id"])])

    event = {"type": "proposal.updated", "topic": "proposals", "id": 7, "seq": 6}
    result = cache.invalidate_for(event, gap_in="proposals")

    assert result.refetched == (LIST, P7, P8)
    assert api.calls == [LIST, P7, P8]  # P7 once, though both plans name it
    assert result.reason == "gap in proposals: message proposal.updated"
    assert result.unbound == ()
    unbound = cache.invalidate_for({"type": "x", "topic": "analysis"}, gap_in="analysis")
    assert unbound.unbound == ("analysis",) and unbound.refetched == ()
